import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, cpSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { defaultDaemonPaths } from "../../src/daemon/paths.ts";
import { hasRange } from "../../src/daemon/rootless.ts";
import { fileURLToPath } from "node:url";
import type { CliResult } from "./project.ts";

// Computed here, not taken from project.ts: the benchmark uses this module outside vitest.
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** A user the suite runs brewkit as, with a home, a runtime dir and a brewkit of their own. */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** A private directory of the user's, holding everything below. */
  work: string;
  /** `$HOME`: brewkit's home (`~/.brewkit`, with the pinned binaries) and the XDG data dir are in it. */
  home: string;
  /** `$XDG_RUNTIME_DIR`, private to the user. */
  runtimeDir: string;
  /** A copy of the brewkit package that the user can read, whatever the checkout's own permissions. */
  packageDir: string;
}

/** The user the rootless tests run as: `BREWKIT_TEST_ROOTLESS_USER`, else one the suite creates. */
export const rootlessUserName = process.env.BREWKIT_TEST_ROOTLESS_USER || "brewkit-rootless";

// Users the suite makes are system users: they get no subordinate ids of their own from useradd.
function ensureUser(name: string): void {
  try {
    execFileSync("id", ["-u", name], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name]);
  }
}

function ids(name: string): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim()),
  };
}

/** The first range of 65536 ids after every range /etc/subuid and /etc/subgid hand out. */
function freeRange(): string {
  let end = 100_000;
  for (const file of ["/etc/subuid", "/etc/subgid"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      // none yet
    }
    for (const line of text.split("\n")) {
      const [, start, count] = line.split(":");
      if (start && count) end = Math.max(end, Number(start) + Number(count));
    }
  }
  return `${end}-${end + 65535}`;
}

/**
 * Makes (or takes) the rootless test user, with subordinate id ranges, and a private
 * work dir for them: a home holding brewkit's pinned binaries, a runtime dir, and a
 * copy of the brewkit package (a checkout in root's home is not readable by others).
 * Needs root.
 */
export function setUpRootlessUser(): TestUser {
  if (process.getuid?.() !== 0) throw new Error("the rootless tests set up their user as root; run the suite as root (as CI does)");
  const name = rootlessUserName;
  ensureUser(name);
  const { uid, gid } = ids(name);
  const ranges = [readOr("/etc/subuid"), readOr("/etc/subgid")];
  if (!ranges.every((text) => hasRange(text, name, uid))) {
    const range = freeRange();
    execFileSync("usermod", ["--add-subuids", range, "--add-subgids", range, name]);
  }
  // Short (the daemon's sockets live below it) and open to enter: what is inside is the user's.
  const work = mkdtempSync("/tmp/bk-rl-");
  chmodSync(work, 0o755);
  const home = path.join(work, "home");
  const runtimeDir = path.join(work, "run");
  const binDir = path.join(home, ".brewkit", "bin");
  mkdirSync(binDir, { recursive: true });
  mkdirSync(runtimeDir, { mode: 0o700 });
  for (const binary of ["buildkitd", "buildctl"]) copyFileSync(path.join(defaultDaemonPaths().binDir, binary), path.join(binDir, binary));
  const packageDir = copyPackage(work);
  chownTree(home, uid, gid);
  chownSync(runtimeDir, uid, gid);
  return { name, uid, gid, work, home, runtimeDir, packageDir };
}

/** A user without subordinate ids (made, or stripped of them, here), for the preflight's messages. */
export function userWithoutRanges(): { name: string; uid: number; gid: number } {
  const name = "brewkit-noranges";
  ensureUser(name);
  for (const [file, flag] of [["/etc/subuid", "--del-subuids"], ["/etc/subgid", "--del-subgids"]] as const) {
    for (const line of readOr(file).split("\n")) {
      const [owner, start, count] = line.split(":");
      if (owner === name && start && count) execFileSync("usermod", [flag, `${start}-${Number(start) + Number(count) - 1}`, name]);
    }
  }
  return { name, ...ids(name) };
}

/** A project directory owned by `user`, with `files` and the user's brewkit package as `brewkit`. */
export function userProject(user: TestUser, files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(user.work, "project-"));
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(user.packageDir, path.join(dir, "node_modules", "brewkit"), "dir");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  chownTree(dir, user.uid, user.gid);
  return dir;
}

/** The environment of a login of `user`: no BUILDKIT_HOST, so brewkit uses its own daemon. */
export function userEnv(user: Pick<TestUser, "name" | "home" | "runtimeDir">, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    XDG_RUNTIME_DIR: user.runtimeDir,
    PATH: "/usr/local/bin:/usr/bin:/bin",
    NO_COLOR: "1",
    ...extra,
  };
}

/** Runs `brewkit <args>` as `user` (their package copy), with exactly `env`. */
export function brewkitAs(user: Pick<TestUser, "uid" | "gid" | "packageDir">, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(nodeRunnableBy(user.uid, user.gid), [path.join(user.packageDir, "bin/brewkit.js"), ...args], {
      cwd: options.cwd,
      env: options.env,
      uid: user.uid,
      gid: user.gid,
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

/** Tries to connect to the unix socket `socket` as `uid`: the error code (`EACCES`, …), or `connected`. */
export function connectAs(uid: number, gid: number, socket: string): Promise<string> {
  const script = `require("node:net").connect(process.argv[1]).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(0); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(nodeRunnableBy(uid, gid), ["-e", script, socket], { uid, gid, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", () => resolve(out.trim()));
  });
}

const runnableNodes = new Map<number, string>();

/**
 * The Node that runs the tests (the same version, for the user's brewkit too), at a path
 * `uid` can run: a Node installed in root's home is out of other users' reach, so it is
 * linked (or copied) into a directory of its own under /tmp, removed when the tests end.
 */
export function nodeRunnableBy(uid: number, gid: number): string {
  const known = runnableNodes.get(uid);
  if (known) return known;
  let node = process.execPath;
  if (spawnSync(node, ["-e", ""], { uid, gid, stdio: "ignore" }).status !== 0) {
    const dir = mkdtempSync("/tmp/bk-node-");
    chmodSync(dir, 0o755);
    node = path.join(dir, "node");
    try {
      linkSync(process.execPath, node);
    } catch {
      copyFileSync(process.execPath, node);
    }
    chmodSync(node, 0o755);
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  runnableNodes.set(uid, node);
  return node;
}

/** Removes the user's work dir. */
export function removeWorkDir(user: TestUser): void {
  rmSync(user.work, { recursive: true, force: true });
}

/**
 * What running brewkit needs, copied where the user can read it: the CLI and its compiled
 * code, and esbuild (which compiles configs) with its native binary.
 */
function copyPackage(work: string): string {
  const dir = path.join(work, "brewkit");
  for (const entry of ["bin", "dist", "templates", "proto", "package.json", "go.mod", "go.sum", "node_modules/esbuild", "node_modules/@esbuild"]) {
    cpSync(path.join(repoRoot, entry), path.join(dir, entry), { recursive: true, verbatimSymlinks: true });
  }
  return dir;
}

function chownTree(dir: string, uid: number, gid: number): void {
  execFileSync("chown", ["-R", `${uid}:${gid}`, dir]);
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
