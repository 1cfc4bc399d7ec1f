import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { busyboxBase, makeProject, repoRoot } from "../support/project.ts";

/** A `brewkit watch` process whose output can be waited on. */
class WatchProcess {
  output = "";
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(cwd: string, args: string[]) {
    this.child = spawn(process.execPath, [path.join(repoRoot, "bin/brewkit.js"), "watch", ...args, "--progress", "quiet"], {
      cwd,
      env: { ...process.env, BUILDKIT_HOST: inject("buildkitHost"), NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.on("data", (d) => (this.output += d));
    this.child.stderr!.on("data", (d) => (this.output += d));
    this.exited = new Promise((resolve) => this.child.on("close", resolve));
  }

  /** Waits until the output after `from` matches `pattern`; returns the new end of output. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = pattern.exec(this.output.slice(from));
      if (match) return from + match.index + match[0].length;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${pattern}; output so far:\n${this.output}`);
  }
}

let running: WatchProcess | undefined;
afterEach(async () => {
  running?.child.kill("SIGKILL");
  running = undefined;
});

const config = (command: string) => `import { target, scratch } from "brewkit";
${busyboxBase}
export const app = target({ from: base, copy: "src", command: ${JSON.stringify(command)}, output: { artifact: "/out", local: "out" } });
`;

describe("brewkit watch", () => {
  it("rebuilds on source and config changes, keeps going after failures, and exits 130 on Ctrl-C", async () => {
    const project = makeProject({ "brewkit.config.ts": config("mkdir -p /out && cat /src/a.txt > /out/a"), "src/a.txt": "first\n", "notes.txt": "not an input\n" });
    const out = () => readFileSync(path.join(project, "out", "a"), "utf8");
    const w = (running = new WatchProcess(project, ["app"]));
    let at = await w.waitFor(/✔ app: .*\n.*steps cached/);
    expect(out()).toBe("first\n");

    writeFileSync(path.join(project, "src", "a.txt"), "second\n");
    at = await w.waitFor(/↻ changed: src\/a\.txt\n/, at);
    at = await w.waitFor(/✔ app/, at);
    expect(out()).toBe("second\n");

    // A file that no target copies does not trigger anything.
    writeFileSync(path.join(project, "notes.txt"), "still not an input\n");
    writeFileSync(path.join(project, "brewkit.config.ts"), config("mkdir -p /out && { cat /src/a.txt; echo reloaded; } > /out/a"));
    at = await w.waitFor(/↻ changed: brewkit\.config\.ts \(config reloaded\)\n/, at);
    at = await w.waitFor(/✔ app/, at);
    expect(out()).toBe("second\nreloaded\n");
    expect(w.output).not.toContain("notes.txt");

    writeFileSync(path.join(project, "brewkit.config.ts"), "export const app = target({ from: ;\n");
    at = await w.waitFor(/✖ brewkit\.config\.ts failed to load/, at);
    writeFileSync(path.join(project, "brewkit.config.ts"), config("echo broken-build >&2; exit 4"));
    at = await w.waitFor(/✖ brewkit\.config\.ts:\d+: target "app": step .* failed/, at);
    writeFileSync(path.join(project, "brewkit.config.ts"), config("mkdir -p /out && echo fixed > /out/a"));
    at = await w.waitFor(/✔ app/, at);
    expect(out()).toBe("fixed\n");

    w.child.kill("SIGINT");
    expect(await w.exited).toBe(130);
  });

  it("exports the build cache after every build with --cache-to, and refuses a bad cache spec when it loads", async () => {
    const project = makeProject({ "brewkit.config.ts": config("mkdir -p /out && cat /src/a.txt > /out/a"), "src/a.txt": "first\n" });
    const cacheDir = path.join(project, "buildcache");
    const index = () => readFileSync(path.join(cacheDir, "index.json"), "utf8");
    const w = (running = new WatchProcess(project, ["app", "--cache-to", `type=local,dest=${cacheDir}`, "--cache-from", `type=local,src=${cacheDir}`]));
    let at = await w.waitFor(/✔ app: .*\n.*steps cached/);
    const first = index();
    expect((JSON.parse(first) as { manifests: unknown[] }).manifests.length).toBeGreaterThan(0);

    writeFileSync(path.join(project, "src", "a.txt"), "second\n");
    at = await w.waitFor(/↻ changed: src\/a\.txt\n/, at);
    at = await w.waitFor(/✔ app/, at);
    // The second build's cache replaced the first's.
    expect(index()).not.toBe(first);
    // Writing the cache is no change of an input; the second build imported the first's cache.
    expect(w.output).not.toMatch(/changed: .*buildcache/);
    expect(w.output.slice(w.output.indexOf("↻ changed"))).not.toContain("nothing to import");
    w.child.kill("SIGINT");
    expect(await w.exited).toBe(130);

    const bad = (running = new WatchProcess(project, ["app", "--cache-to", "type=bogus"]));
    await bad.waitFor(/✖ --cache-to "type=bogus": type "bogus" is not supported/);
  });

  it("cancels the build in flight when an input changes, and the daemon stops its step", async () => {
    const marker = 3000 + (Date.now() % 1000);
    const project = makeProject({ "brewkit.config.ts": config(`cat /src/a.txt; sleep ${marker}`), "src/a.txt": "one\n" });
    const w = (running = new WatchProcess(project, ["app"]));
    const stepRunning = () => execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").some((l) => l.trim() === `sleep ${marker}`);
    const deadline = Date.now() + 30_000;
    while (!stepRunning()) {
      if (Date.now() > deadline) throw new Error(`the step never started:\n${w.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    writeFileSync(path.join(project, "brewkit.config.ts"), config("mkdir -p /out && echo replaced > /out/a"));
    const at = await w.waitFor(/… build cancelled/);
    await w.waitFor(/✔ app/, at);
    expect(stepRunning()).toBe(false);
    expect(readFileSync(path.join(project, "out", "a"), "utf8")).toBe("replaced\n");
    w.child.kill("SIGINT");
    expect(await w.exited).toBe(130);
  });
});
