// The same builds on each kind of brewkit's own daemon: rootless, as an unprivileged user on
// their own daemon under RootlessKit, and rootful, as root. Every build starts from a fresh
// daemon of that user (no BUILDKIT_HOST), as a user's first run would.
import { createHash, randomBytes } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrewkitProcess } from "../support/process.ts";
import { brewkit, busyboxBase, makeProject, repoRoot, type CliResult } from "../support/project.ts";
import { managedEnv, managedHome } from "../support/managed-daemon.ts";
import { brewkitAs, removeWorkDir, setUpRootlessUser, userEnv, userProject, type TestUser } from "../support/rootless-user.ts";

/** How one variant runs brewkit: as whom, in which projects. */
interface Runner {
  mode: "rootless" | "rootful";
  uid: number;
  gid: number;
  project(files: Record<string, string>): string;
  /** Gives what the test wrote into a project to the runner's user. */
  adopt(dir: string): void;
  brewkit(args: string[], cwd: string, env?: Record<string, string>): Promise<CliResult>;
  /** Starts `brewkit <args>` in the background, as the runner's user. */
  start(args: string[], cwd: string): BrewkitProcess;
  /** The directory `$XDG_RUNTIME_DIR` names (rootless only). */
  runtimeDir?: string;
  cleanup(): Promise<void>;
}

function rootlessRunner(): Runner {
  const user: TestUser = setUpRootlessUser();
  const run = (args: string[], cwd: string, env: Record<string, string> = {}) => brewkitAs(user, args, { cwd, env: userEnv(user, env) });
  return {
    mode: "rootless",
    uid: user.uid,
    gid: user.gid,
    runtimeDir: user.runtimeDir,
    project: (files) => userProject(user, files),
    adopt: (dir) => execFileSync("chown", ["-R", `${user.uid}:${user.gid}`, dir]),
    brewkit: run,
    start: (args, cwd) => new BrewkitProcess(args, { cwd, as: { uid: user.uid, gid: user.gid, packageDir: user.packageDir, env: userEnv(user) } }),
    cleanup: async () => {
      await run(["daemon", "stop"], user.home);
      removeWorkDir(user);
    },
  };
}

function rootfulRunner(): Runner {
  const home = managedHome();
  const projects: string[] = [];
  const env = managedEnv(home);
  return {
    mode: "rootful",
    uid: 0,
    gid: 0,
    project: (files) => {
      const dir = makeProject(files);
      projects.push(dir);
      return dir;
    },
    adopt: () => undefined,
    brewkit: (args, cwd, extra = {}) => brewkit(args, { cwd, env: { ...env, ...extra } }),
    start: (args, cwd) => new BrewkitProcess(args, { cwd, env }),
    cleanup: async () => {
      await brewkit(["daemon", "stop"], { cwd: home, env });
      for (const dir of [home, ...projects]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function ok(result: CliResult): CliResult {
  expect(result.stderr, result.stdout).not.toContain("error:");
  expect(result.code).toBe(0);
  return result;
}

/** Every file and directory under `dir` (itself included) with an owner other than `uid`. */
function notOwnedBy(dir: string, uid: number): string[] {
  const wrong: string[] = [];
  const walk = (p: string) => {
    if (lstatSync(p).uid !== uid) wrong.push(p);
    if (lstatSync(p).isDirectory()) for (const name of readdirSync(p)) walk(path.join(p, name));
  };
  walk(dir);
  return wrong;
}

/** The steps that plain progress reports as CACHED, by their names (`[target] command`). */
function cachedSteps(output: string): string[] {
  const names = new Map<string, string>();
  const cached: string[] = [];
  for (const line of output.split("\n")) {
    const named = /^#(\d+) (\[.*)$/.exec(line);
    if (named) names.set(named[1]!, named[2]!);
    const hit = /^#(\d+) CACHED$/.exec(line);
    if (hit && names.has(hit[1]!)) cached.push(names.get(hit[1]!)!);
  }
  return cached;
}

const sharedNetworkWarning = /^warning: steps whose network is "default" share your host's network/m;

describe.each([
  ["rootless, as an unprivileged user", rootlessRunner],
  ["rootful, as root", rootfulRunner],
])("brewkit's own daemon, %s", (_, make) => {
  let runner: Runner;
  beforeAll(() => {
    runner = make();
  });
  afterAll(async () => {
    await runner?.cleanup();
  });

  it("builds the shipped example on the user's own daemon, exports it owned by the user, and rebuilds it from the cache", async () => {
    const project = runner.project({ "brewkit.config.ts": readFileSync(path.join(repoRoot, "brewkit.config.ts"), "utf8") });
    cpSync(path.join(repoRoot, "example"), path.join(project, "example"), { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
    runner.adopt(project);
    const first = ok(await runner.brewkit(["run", "--progress", "plain"], project));
    expect(first.stderr).toMatch(/started buildkitd/);
    const dist = path.join(project, "example", "dist");
    expect(readFileSync(path.join(dist, "GREETING"), "utf8")).toBe("hello, packager! (greet 1.0.0)\n");
    expect(readFileSync(path.join(dist, "BUILDS-SEEN-BY-CACHE"), "utf8").trim()).toBe("1");
    expect(statSync(path.join(dist, "bin", "greet")).mode & 0o111).not.toBe(0);
    expect(notOwnedBy(dist, runner.uid)).toEqual([]);

    const status = ok(await runner.brewkit(["daemon", "status"], project));
    expect(status.stdout).toMatch(new RegExp(`^mode:\\s+${runner.mode} \\(`, "m"));
    if (runner.mode === "rootless") {
      // The socket is in the user's runtime dir, the state in their XDG data dir.
      expect(status.stdout).toMatch(new RegExp(`^address:\\s+unix://${runner.runtimeDir}/brewkit/daemon-\\w+/buildkitd\\.sock$`, "m"));
      expect(status.stdout).toMatch(/^state:\s+\S+\/\.local\/share\/brewkit\/daemon\/root$/m);
      // Where RootlessKit has no network of its own, status and the first run say steps share the host's.
      const shared = /^network:\s+host, shared: steps whose network is "default" reach your host's network and loopback/m.test(status.stdout);
      if (shared) expect(first.stderr.match(new RegExp(sharedNetworkWarning, "gm"))).toHaveLength(1);
      else expect(status.stdout).toMatch(/^\s+in RootlessKit's own network namespace \(slirp4netns\)/m);
    } else {
      expect(status.stdout).toMatch(/^network:\s+bridge brewkit-\w+, [\d.]+\/24$/m);
      expect(first.stderr).not.toMatch(sharedNetworkWarning);
    }

    const again = ok(await runner.brewkit(["run", "--progress", "plain"], project));
    expect(again.stderr).not.toMatch(/started buildkitd/);
    // Once per start of the daemon.
    expect(again.stderr).not.toMatch(sharedNetworkWarning);
    const cached = cachedSteps(again.stderr);
    // The test target copies all of example/, which now holds the export: only release's inputs are unchanged.
    expect(cached, again.stderr).toEqual(expect.arrayContaining(["[release] copy example/src → /src/example/src", "[release] sh /out/bin/greet packager > /out/GREETING"]));
    expect(readFileSync(path.join(dist, "BUILDS-SEEN-BY-CACHE"), "utf8").trim()).toBe("1");
  });

  it("keeps a cache mount, mirrors it to its host folder, and exports and imports it, owned by the user", async () => {
    const id = `rootless-cache-${randomBytes(4).toString("hex")}`;
    const config = (token: string) => `import { cache, scratch, target } from "brewkit";\n${busyboxBase}
export default target({
  from: base,
  cache: [cache(${JSON.stringify(id)}, "/c", { hostDir: ".cache/c" })],
  command: "echo ${token} >> /c/log && mkdir -p /out && cp /c/log /out/log",
  output: { artifact: "/out", local: "out" },
});
`;
    const one = randomBytes(4).toString("hex");
    const two = randomBytes(4).toString("hex");
    const project = runner.project({ "brewkit.config.ts": config(one) });
    ok(await runner.brewkit(["run"], project));
    writeFileSync(path.join(project, "brewkit.config.ts"), config(two));
    ok(await runner.brewkit(["run"], project));
    expect(readFileSync(path.join(project, "out", "log"), "utf8")).toBe(`${one}\n${two}\n`);
    expect(readFileSync(path.join(project, ".cache", "c", "log"), "utf8")).toBe(`${one}\n${two}\n`);
    expect(notOwnedBy(path.join(project, ".cache"), runner.uid)).toEqual([]);

    ok(await runner.brewkit(["cache", "export", id, "exported"], project));
    expect(readFileSync(path.join(project, "exported", "log"), "utf8")).toBe(`${one}\n${two}\n`);
    expect(notOwnedBy(path.join(project, "exported"), runner.uid)).toEqual([]);
    ok(await runner.brewkit(["cache", "import", `${id}-copy`, "exported"], project));
    ok(await runner.brewkit(["cache", "export", `${id}-copy`, "again"], project));
    expect(readFileSync(path.join(project, "again", "log"), "utf8")).toBe(`${one}\n${two}\n`);
    const du = ok(await runner.brewkit(["cache", "du"], project));
    expect(du.stdout).toMatch(/^\w+\s+\S+\s+exec\.cachemount\s+mutable\s+cached mount \/c from exec /m);
  });

  it("serves a secret to the step that names it, redacted from the output", async () => {
    const value = `s3cr3t-${randomBytes(8).toString("hex")}`;
    const project = runner.project({
      "brewkit.config.ts": `import { scratch, secret, target } from "brewkit";\n${busyboxBase}
export default target({
  from: base,
  secrets: [secret("token", { env: "TOKEN" })],
  command: "echo seen $TOKEN && mkdir /out && printf %s \\"$TOKEN\\" | sha256sum | cut -d' ' -f1 > /out/sum # ${randomBytes(4).toString("hex")}",
  output: { artifact: "/out", local: "out" },
});
`,
    });
    const result = ok(await runner.brewkit(["run", "--progress", "plain", "--secret", "id=token,env=MY_TOKEN"], project, { MY_TOKEN: value }));
    expect(readFileSync(path.join(project, "out", "sum"), "utf8").trim()).toBe(createHash("sha256").update(value).digest("hex"));
    expect(result.stderr).toContain("seen ***");
    expect(result.stderr + result.stdout).not.toContain(value);
  });
  it("rebuilds on a change in watch, and stops on Ctrl-C", async () => {
    const token = randomBytes(4).toString("hex");
    const project = runner.project({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";\n${busyboxBase}
export default target({ from: base, copy: "src", command: "mkdir -p /out && cat /src/a.txt > /out/a # ${token}", output: { artifact: "/out", local: "out" } });
`,
      "src/a.txt": "first\n",
    });
    runner.adopt(project);
    const watch = runner.start(["watch", "--progress", "quiet"], project);
    try {
      let at = await watch.waitFor(/✔ default/);
      expect(readFileSync(path.join(project, "out", "a"), "utf8")).toBe("first\n");
      writeFileSync(path.join(project, "src", "a.txt"), "second\n");
      at = await watch.waitFor(/↻ changed: src\/a\.txt/, at);
      await watch.waitFor(/✔ default/, at);
      expect(readFileSync(path.join(project, "out", "a"), "utf8")).toBe("second\n");
      expect(notOwnedBy(path.join(project, "out"), runner.uid)).toEqual([]);
      watch.child.kill("SIGINT");
      expect((await watch.exited).code).toBe(130);
    } finally {
      watch.child.kill("SIGKILL");
    }
  });

  it("forwards the user's ssh agent to a step", async () => {
    const project = runner.project({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";\n${busyboxBase}
export const keys = target({ from: base, copy: { src: "agent-list", dest: "/agent-list" }, ssh: true, command: ["/agent-list", "${randomBytes(4).toString("hex")}"] });
`,
    });
    execFileSync("go", ["build", "-o", path.join(project, "agent-list"), "./test/fixtures/agent-list"], { cwd: repoRoot, env: { ...process.env, CGO_ENABLED: "0" } });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rootless-test-key", "-f", path.join(project, "id")]);
    runner.adopt(project);
    // The agent is the user's own, as on their machine.
    const as = { uid: runner.uid, gid: runner.gid };
    const socket = path.join(project, "agent.sock");
    const agent = spawnSync("ssh-agent", ["-a", socket], { encoding: "utf8", ...as });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1]);
    try {
      expect(agent.status, agent.stderr).toBe(0);
      execFileSync("ssh-add", [path.join(project, "id")], { env: { PATH: process.env.PATH, SSH_AUTH_SOCK: socket }, stdio: "ignore", ...as });
      const result = ok(await runner.brewkit(["run", "keys", "--progress", "plain"], project, { SSH_AUTH_SOCK: socket }));
      expect(result.stderr).toContain("agent keys: 1");
      expect(result.stderr).toContain("agent key comment: rootless-test-key");
    } finally {
      if (pid) process.kill(pid);
    }
  });
});
