// brewkit's own daemon is reachable by the user who started it alone, rootful or rootless;
// and a user whose machine is not ready for a rootless daemon is told exactly what to fix.
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";
import { managedEnv, managedHome } from "../support/managed-daemon.ts";
import { brewkitAs, connectAs, removeWorkDir, setUpRootlessUser, userEnv, userProject, userWithoutRanges, type TestUser } from "../support/rootless-user.ts";

// A uid that is neither root nor the test user: `nobody`.
const otherUid = 65534;

let user: TestUser;
const rootHome = managedHome();
const rootEnv = managedEnv(rootHome);
const project = makeProject({
  "brewkit.config.ts": `import { scratch, target } from "brewkit";\n${busyboxBase}\nexport default target({ from: base, command: "echo private > /f", output: { artifact: "/f", local: "out" } });\n`,
});

beforeAll(() => {
  user = setUpRootlessUser();
});

afterAll(async () => {
  await brewkit(["daemon", "stop"], { cwd: rootHome, env: rootEnv });
  if (user) {
    await brewkitAs(user, ["daemon", "stop"], { cwd: user.home, env: userEnv(user) });
    removeWorkDir(user);
  }
  for (const dir of [rootHome, project]) rmSync(dir, { recursive: true, force: true });
});

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

/** The processes running as `uid`, by their command lines. */
function processesOf(uid: number): string[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        return statSync(`/proc/${pid}`).uid === uid ? [readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim()] : [];
      } catch {
        return [];
      }
    })
    .filter(Boolean);
}

describe("the managed daemon's socket", () => {
  it("cannot be reached by another uid, on root's rootful daemon or on a user's rootless one", async () => {
    const started = await brewkit(["daemon", "start"], { cwd: rootHome, env: rootEnv });
    expect(started.stderr).toBe("");
    expect(started.stdout).toMatch(/^started buildkitd \(rootful\)/);
    const rootSocket = path.join(rootHome, "daemon", "buildkitd.sock");
    expect(mode(rootSocket)).toBe(0o600);
    expect(mode(path.dirname(rootSocket))).toBe(0o700);
    expect(await connectAs(0, 0, rootSocket)).toBe("connected");
    expect(await connectAs(user.uid, user.gid, rootSocket)).toBe("EACCES");
    expect(await connectAs(otherUid, otherUid, rootSocket)).toBe("EACCES");

    const env = userEnv(user);
    const own = await brewkitAs(user, ["daemon", "start"], { cwd: user.home, env });
    expect(own.stderr).toBe("");
    expect(own.stdout).toMatch(/^started buildkitd \(rootless\) on unix:\/\//);
    const userSocket = own.stdout.trim().replace(/^.* on unix:\/\//, "");
    expect(userSocket.startsWith(`${user.runtimeDir}/`)).toBe(true);
    expect(statSync(userSocket).uid).toBe(user.uid);
    expect(mode(userSocket)).toBe(0o600);
    expect(mode(path.dirname(userSocket))).toBe(0o700);
    const state = path.join(user.home, ".local", "share", "brewkit", "daemon");
    expect(mode(state)).toBe(0o700);
    expect(mode(path.join(state, "root"))).toBe(0o700);
    expect(await connectAs(user.uid, user.gid, userSocket)).toBe("connected");
    expect(await connectAs(otherUid, otherUid, userSocket)).toBe("EACCES");
  });

  it("is refused, not connected to, when its mode or owner would let someone else in", async () => {
    const socket = path.join(rootHome, "daemon", "buildkitd.sock");
    expect((await brewkit(["daemon", "start"], { cwd: rootHome, env: rootEnv })).code).toBe(0);
    const refused = async (problem: string) => {
      rmSync(path.join(project, "out"), { recursive: true, force: true });
      for (const args of [["run"], ["daemon", "status"], ["cache", "du"]]) {
        const result = await brewkit(args, { cwd: project, env: rootEnv });
        expect(result.code, `${args.join(" ")}: ${result.stdout}${result.stderr}`).toBe(1);
        expect(result.stderr).toContain(`error: brewkit's daemon on ${socket} is not reachable by you alone, so brewkit does not use it: ${problem}`);
        expect(result.stderr).toContain(`rm -f ${socket}`);
      }
      expect(() => statSync(path.join(project, "out"))).toThrow();
    };

    chmodSync(socket, 0o666);
    await refused(`${socket} has mode 0666`);
    chmodSync(socket, 0o660);
    chownSync(socket, 0, 100);
    await refused(`${socket} has mode 0660 (group 100)`);
    chownSync(socket, otherUid, 0);
    chmodSync(socket, 0o600);
    await refused(`${socket} belongs to uid ${otherUid}, not to you (uid 0)`);
    chownSync(socket, 0, 0);
    chmodSync(path.dirname(socket), 0o755);
    await refused(`${path.dirname(socket)} has mode 0755`);
    chmodSync(path.dirname(socket), 0o700);

    // Private again: the same daemon serves the run.
    const run = await brewkit(["run"], { cwd: project, env: rootEnv });
    expect(run.stderr).not.toContain("error:");
    expect(readFileSync(path.join(project, "out", "f"), "utf8")).toBe("private\n");
  });
});

describe("a rootless start on a machine that is not ready", () => {
  it("names a missing subordinate id range and the command that adds it, and starts nothing", async () => {
    const bare = userWithoutRanges();
    // A home of the user's own, sharing the rootless user's copies of brewkit and BuildKit.
    const home = path.join(user.work, "noranges-home");
    const runtimeDir = path.join(user.work, "noranges-run");
    mkdirSync(path.join(home, ".brewkit"), { recursive: true });
    symlinkSync(path.join(user.home, ".brewkit", "bin"), path.join(home, ".brewkit", "bin"));
    mkdirSync(runtimeDir, { mode: 0o700 });
    for (const dir of [home, path.join(home, ".brewkit"), runtimeDir]) chownSync(dir, bare.uid, bare.gid);
    const env = userEnv({ name: bare.name, home, runtimeDir });
    const own = userProject(user, { "brewkit.config.ts": readFileSync(path.join(project, "brewkit.config.ts"), "utf8") });
    execFileSync("chown", ["-R", `${bare.uid}:${bare.gid}`, own]);
    // `daemon install` checks the same once it has built BuildKit: a stand-in for Go "builds" it here.
    const fakeGo = path.join(user.work, "fake-go");
    mkdirSync(fakeGo);
    writeFileSync(path.join(fakeGo, "go"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    for (const args of [["daemon", "start"], ["run"], ["daemon", "install"]]) {
      const result = await brewkitAs({ ...bare, packageDir: user.packageDir }, args, { cwd: args[0] === "run" ? own : home, env: { ...env, PATH: `${fakeGo}:${env.PATH}` } });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain("error: brewkit's daemon runs rootless for a user who is not root, and this machine is not ready for it:");
      expect(result.stderr).toContain(`  - ${bare.name} has no range of subordinate user ids (/etc/subuid) or subordinate group ids (/etc/subgid) of at least 65536 ids`);
      expect(result.stderr).toMatch(new RegExp(`^    fix: sudo usermod --add-subuids \\d+-\\d+ --add-subgids \\d+-\\d+ ${bare.name}\\b`, "m"));
      expect(result.stderr).not.toMatch(/\.go:\d+/);
    }
    expect(processesOf(bare.uid)).toEqual([]);
  });

  it("names rootlesskit and uidmap when they are not installed", async () => {
    // A brewkit home of its own, so that the daemon the first test started is not the one asked for.
    const brewkitHome = path.join(user.work, "pathless-home");
    mkdirSync(brewkitHome);
    symlinkSync(path.join(user.home, ".brewkit", "bin"), path.join(brewkitHome, "bin"));
    chownSync(brewkitHome, user.uid, user.gid);
    const env = userEnv(user, { PATH: "/nonexistent", BREWKIT_HOME: brewkitHome });
    const result = await brewkitAs(user, ["daemon", "start"], { cwd: user.home, env });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain("  - rootlesskit is not installed\n    fix: sudo apt-get install rootlesskit\n");
    expect(result.stderr).toContain("  - newuidmap and newgidmap are not installed\n    fix: sudo apt-get install uidmap\n");
    expect(result.stderr).not.toContain("subordinate");
  });
});
