import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject, repoRoot, type CliResult } from "../support/project.ts";
import { buildkitdProcessesOf, managedEnv, managedHome } from "../support/managed-daemon.ts";

const homes: string[] = [];
const sleepers: ChildProcess[] = [];

/** A fresh brewkit home, its daemon stopped and the home removed after the file's tests. */
function home(): string {
  const dir = managedHome();
  homes.push(dir);
  return dir;
}

afterEach(() => {
  for (const sleeper of sleepers.splice(0)) sleeper.kill("SIGKILL");
});

afterAll(async () => {
  for (const dir of homes) {
    await brewkit(["daemon", "stop"], { cwd: dir, env: managedEnv(dir) });
    rmSync(dir, { recursive: true, force: true });
  }
});

/** `brewkit <args>` under `umask 000`, so nothing but brewkit's own modes keeps files private. */
function brewkitWithOpenUmask(args: string[], dir: string): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const command = `umask 000 && exec "$0" "$@"`;
    const child = spawn("/bin/sh", ["-c", command, process.execPath, path.join(repoRoot, "bin/brewkit.js"), ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", ...managedEnv(dir) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, durationMs: Date.now() - started }));
  });
}

function mode(file: string): string {
  return (statSync(file).mode & 0o777).toString(8);
}

function sleeper(): ChildProcess {
  const child = spawn("sleep", ["1000"], { stdio: "ignore" });
  sleepers.push(child);
  return child;
}

describe("brewkit's own daemon files", () => {
  it("keeps its directories private and its pid, log and config files to the user, whatever the umask", async () => {
    const dir = home();
    const daemonDir = path.join(dir, "daemon");
    // As an earlier brewkit left them: world-readable.
    mkdirSync(daemonDir, { mode: 0o755 });
    chmodSync(daemonDir, 0o755);
    writeFileSync(path.join(daemonDir, "buildkitd.log"), "", { mode: 0o644 });
    chmodSync(path.join(daemonDir, "buildkitd.log"), 0o644);

    const start = await brewkitWithOpenUmask(["daemon", "start"], dir);
    expect(start.stderr).toBe("");
    expect(start.code).toBe(0);
    expect(mode(daemonDir)).toBe("700");
    expect(mode(path.join(daemonDir, "root"))).toBe("700");
    expect(mode(path.join(daemonDir, "buildkitd.pid"))).toBe("600");
    expect(mode(path.join(daemonDir, "buildkitd.log"))).toBe("600");
    expect(mode(path.join(daemonDir, "buildkitd.effective.toml"))).toBe("600");
  });

  it("stop signals only the daemon: a pid file naming another process leaves that process alive", async () => {
    const dir = home();
    const env = managedEnv(dir);
    const pidFile = path.join(dir, "daemon", "buildkitd.pid");
    expect((await brewkit(["daemon", "start"], { cwd: dir, env })).code).toBe(0);
    const daemons = buildkitdProcessesOf(dir);
    expect(daemons).toHaveLength(1);

    // The daemon runs, but its pid file names an unrelated process (as after a pid was reused).
    const other = sleeper();
    writeFileSync(pidFile, `${other.pid}\n`);
    const stop = await brewkit(["daemon", "stop"], { cwd: dir, env });
    // brewkit waits for what it signals to exit, so a signalled sleep's exit would be seen by now.
    expect(other.signalCode).toBe(null);
    expect(other.exitCode).toBe(null);
    expect(readFileSync(`/proc/${other.pid}/cmdline`, "utf8").split("\0")[0]).toBe("sleep");
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain("stopped buildkitd");
    expect(stop.stderr).toContain(`named process ${other.pid}, which is not this buildkitd`);
    expect(buildkitdProcessesOf(dir)).toEqual([]);
    expect(existsSync(pidFile)).toBe(false);

    // No daemon at all, and a pid file naming the same process.
    writeFileSync(pidFile, `${other.pid}\n`);
    const again = await brewkit(["daemon", "stop"], { cwd: dir, env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("buildkitd was not running");
    expect(other.exitCode).toBe(null);
    expect(other.signalCode).toBe(null);
  });

  it("concurrent first runs and starts end with exactly one buildkitd, the one the pid file names", async () => {
    const dir = home();
    const env = managedEnv(dir);
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport default target({ from: base, command: "echo first > /f", output: { artifact: "/f", local: "out" } });\n`,
    });
    const results = await Promise.all([
      ...Array.from({ length: 4 }, () => brewkit(["daemon", "start"], { cwd: dir, env })),
      ...Array.from({ length: 2 }, () => brewkit(["run"], { cwd: project, env })),
    ]);
    for (const result of results) {
      expect(result.stderr).not.toContain("error:");
      expect(result.code).toBe(0);
    }
    const starts = results.filter((r) => /started buildkitd/.test(r.stdout + r.stderr));
    expect(starts).toHaveLength(1);
    const daemons = buildkitdProcessesOf(dir);
    expect(daemons).toHaveLength(1);
    expect(Number(readFileSync(path.join(dir, "daemon", "buildkitd.pid"), "utf8"))).toBe(daemons[0]);
    expect(readFileSync(path.join(project, "out", "f"), "utf8")).toBe("first\n");
  });

  it("a daemon that cannot start shows the cause from its log, not only the Go stack", async () => {
    const dir = home();
    mkdirSync(path.join(dir, "daemon"));
    writeFileSync(path.join(dir, "daemon", "buildkitd.toml"), "this is = = not toml\n");
    const start = await brewkit(["daemon", "start"], { cwd: dir, env: managedEnv(dir) });
    expect(start.code).toBe(1);
    const [first] = start.stderr.split("\n");
    expect(first).toMatch(/^error: buildkitd exited \(code 1\) while starting: .*failed to parse config: toml: /);
    expect(start.stderr).not.toMatch(/\.go:\d+/);
    expect(start.stderr).toContain(path.join(dir, "daemon", "buildkitd.log"));
    expect(buildkitdProcessesOf(dir)).toEqual([]);
    expect(existsSync(path.join(dir, "daemon", "buildkitd.pid"))).toBe(false);
  });
});
