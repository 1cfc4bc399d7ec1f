// A shell in a failed step (`run -i`) and on a target's result (`shell`), on a real
// pseudo-terminal (util-linux `script`) against the real daemon: what the shell sees,
// window resizes, Ctrl-C, and brewkit's exit status.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { brewkit, busyboxBase, makeProject, repoRoot, testHome } from "../support/project.ts";

/** brewkit on a pseudo-terminal: what the terminal shows, keys typed into it, its tty device. */
class Terminal {
  output = "";
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private readonly ttyFile: string;

  constructor(args: string[], cwd: string) {
    this.ttyFile = path.join(mkdtempSync(path.join(tmpdir(), "brewkit-tty-")), "tty");
    const brewkitCommand = [process.execPath, path.join(repoRoot, "bin/brewkit.js"), ...args].map((a) => `'${a}'`).join(" ");
    // The terminal starts at 33x111; its device is written down so that a test can resize it.
    const command = `tty > ${this.ttyFile}; stty rows 33 cols 111; exec ${brewkitCommand}`;
    this.child = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd,
      env: { ...process.env, BUILDKIT_HOST: inject("buildkitHost"), BREWKIT_HOME: testHome, TERM: "xterm", NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const take = (d: Buffer) => {
      this.output += d;
      for (const wake of [...this.waiters]) wake();
    };
    this.child.stdout!.on("data", take);
    this.child.stderr!.on("data", take);
    this.exited = new Promise((resolve) =>
      this.child.on("close", (code) => {
        this.closed = true;
        for (const wake of [...this.waiters]) wake();
        resolve(code);
      }),
    );
  }

  /** Types `text` into the terminal. */
  type(text: string): void {
    this.child.stdin!.write(text);
  }

  /** The terminal's device, e.g. /dev/pts/3. */
  device(): string {
    return readFileSync(this.ttyFile, "utf8").trim();
  }

  /** Waits until the output after `from` matches; returns the offset past the match. Fails if brewkit ends first. */
  waitFor(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no ${pattern} after ${timeoutMs / 1000} s; terminal:\n${this.output}`)), timeoutMs);
      const done = (err?: Error, at?: number) => {
        this.waiters.delete(check);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(at!);
      };
      const check = () => {
        const match = pattern.exec(this.output.slice(from));
        if (match) done(undefined, from + match.index + match[0].length);
        else if (this.closed) done(new Error(`brewkit ended before ${pattern}; terminal:\n${this.output}`));
      };
      this.waiters.add(check);
      check();
    });
  }
}

const failingConfig = (token: string) => `import { cache, target, scratch } from "brewkit";
${busyboxBase}
export const failing = target({
  from: base,
  workdir: "/workspace",
  env: { GREETING: "hello-${token}" },
  cache: [cache("interactive-${token}", "/cache")],
  command: "echo written-${token} > /workspace/left.txt && echo cached-${token} > /cache/kept.txt && echo the step failed; exit 7",
});
`;

describe("run --interactive", () => {
  it("opens a shell in the failed step: its files, cache mount, env and workdir; resizes; Ctrl-C stays inside; exit gives the step's failure", async () => {
    const token = randomUUID().slice(0, 8);
    const project = makeProject({ "brewkit.config.ts": failingConfig(token) });
    const term = new Terminal(["run", "-i", "failing", "--progress", "plain"], project);
    let at = await term.waitFor(/exit the shell to end the run/);
    at = await term.waitFor(/# /, at);

    term.type(`cat /workspace/left.txt /cache/kept.txt; echo "$GREETING in $(pwd)"; stty size; echo done-$((40+2))\r`);
    at = await term.waitFor(/done-42/, at);
    const seen = term.output.slice(0, at);
    expect(seen).toContain(`written-${token}`);
    expect(seen).toContain(`cached-${token}`);
    expect(seen).toContain(`hello-${token} in /workspace`);
    expect(seen).toMatch(/\b33 111\b/);

    // The terminal is resized: the shell's terminal follows.
    execFileSync("stty", ["-F", term.device(), "rows", "40", "cols", "100"]);
    term.type(`until [ "$(stty size)" = "40 100" ]; do sleep 0.1; done; echo resized-$((50+5))\r`);
    at = await term.waitFor(/resized-55/, at);

    // Ctrl-C stops the command in the shell, not brewkit (the message comes from the process that becomes the sleep).
    term.type(`sh -c 'echo sleeping-$((3*3)); exec sleep 1000'\r`);
    at = await term.waitFor(/sleeping-9/, at);
    term.type("\x03");
    term.type(`echo alive-$((7*11))\r`);
    at = await term.waitFor(/alive-77/, at);

    term.type("exit 3\r");
    expect(await term.exited).toBe(1);
    const after = term.output.slice(at);
    const line = failingConfig(token).split("\n").findIndex((l) => l.includes("export const failing")) + 1;
    expect(after).toContain(`error: brewkit.config.ts:${line}: target "failing": step "[failing] echo written-${token}`);
    expect(after).toContain("exit code: 7");
  });

  it("is refused without a terminal", async () => {
    const project = makeProject({ "brewkit.config.ts": failingConfig(randomUUID().slice(0, 8)) });
    const result = await brewkit(["run", "-i", "failing"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error: --interactive needs a terminal, and stdin is not one");
    expect(result.stderr).toContain("hint: ");
    // Nothing was built.
    expect(result.stderr).not.toContain("[failing]");
  });
});

describe("brewkit shell", () => {
  it("opens a shell on a target's result, with its workdir and cache mounts, and exits with the shell's code", async () => {
    const token = randomUUID().slice(0, 8);
    const project = makeProject({
      "brewkit.config.ts": `import { cache, target, scratch } from "brewkit";
${busyboxBase}
export const app = target({
  from: base,
  workdir: "/app",
  cache: [cache("shell-${token}", "/cache")],
  command: "echo built-${token} > /app/result.txt && echo in-cache-${token} > /cache/c.txt",
});
`,
    });
    const term = new Terminal(["shell", "app", "--progress", "plain"], project);
    let at = await term.waitFor(/# /);
    term.type(`ls /app; cat /app/result.txt /cache/c.txt; pwd; echo listed-$((8*8))\r`);
    at = await term.waitFor(/listed-64/, at);
    const seen = term.output.slice(0, at);
    expect(seen).toMatch(/result\.txt/);
    expect(seen).toContain(`built-${token}`);
    expect(seen).toContain(`in-cache-${token}`);
    expect(seen).toMatch(/\r*\n\/app\r*\n/);
    term.type("exit 5\r");
    expect(await term.exited).toBe(5);
  });

  it("is refused without a terminal", async () => {
    const project = makeProject({ "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}` });
    const result = await brewkit(["shell", "base"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error: brewkit shell needs a terminal");
  });
});
