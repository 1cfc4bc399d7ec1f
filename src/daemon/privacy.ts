import { lstatSync } from "node:fs";
import { DaemonError } from "../errors.ts";
import type { DaemonPaths } from "./paths.ts";

/** Owner and mode of one of the daemon's files, as lstat gives them. */
export interface FileOwnership {
  path: string;
  /** What the file must be. */
  expected: "dir" | "socket";
  /** What it is. */
  actual: "dir" | "socket" | "other";
  uid: number;
  gid: number;
  /** Permission bits (mode & 0o777). */
  mode: number;
}

/** The user whom the daemon must serve alone. */
export interface Owner {
  uid: number;
  /** The user's primary group: the only group a socket may be open to (as buildkitd makes it). */
  gid: number;
}

/**
 * What is wrong with the daemon's files for `owner` to be the only one who can reach it:
 * each directory must be the owner's, mode 0700 (no access for group or others); the
 * socket the owner's, mode 0600, or 0660 to the owner's own primary group.
 */
export function privacyProblems(files: readonly FileOwnership[], owner: Owner): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const mode = `0${file.mode.toString(8).padStart(3, "0")}`;
    if (file.actual !== file.expected) {
      problems.push(`${file.path} is not a ${file.expected === "dir" ? "directory" : "socket"}`);
    } else if (file.uid !== owner.uid) {
      problems.push(`${file.path} belongs to uid ${file.uid}, not to you (uid ${owner.uid})`);
    } else if (file.expected === "dir" && (file.mode & 0o077) !== 0) {
      problems.push(`${file.path} has mode ${mode}, where only 0700 keeps it yours alone`);
    } else if (file.expected === "socket" && ((file.mode & 0o007) !== 0 || ((file.mode & 0o070) !== 0 && file.gid !== owner.gid))) {
      problems.push(`${file.path} has mode ${mode} (group ${file.gid}), where only 0600, or 0660 to your own group, keeps it yours alone`);
    }
  }
  return problems;
}

/**
 * Refuses a managed daemon whose socket, or a directory on the way to it or its state,
 * another user could reach: such a socket is not connected to. Called before every
 * connection to brewkit's own daemon, and when it starts.
 */
export function assertDaemonPrivate(paths: DaemonPaths, owner: Owner = currentOwner()): void {
  const dirs = [...new Set([paths.dir, paths.socketDir])].concat(paths.root);
  const files = [...dirs.map((dir) => ownership(dir, "dir")), ownership(paths.socket, "socket")].filter((f): f is FileOwnership => f !== undefined);
  const problems = privacyProblems(files, owner);
  if (!problems.length) return;
  throw new DaemonError("DAEMON_NOT_PRIVATE", `brewkit's daemon on ${paths.socket} is not reachable by you alone, so brewkit does not use it: ${problems.join("; ")}`, {
    hint: `\`brewkit daemon stop\`, remove the socket (\`rm -f ${paths.socket}\`) and run again: brewkit starts its daemon on a socket of your own${problems.some((p) => p.includes("mode")) ? "; or, if that daemon is yours, make its files private (`chmod 700` each directory, `chmod 600` the socket)" : ""}`,
  });
}

/** The current process's user and primary group. */
export function currentOwner(): Owner {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

function ownership(file: string, expected: "dir" | "socket"): FileOwnership | undefined {
  try {
    const stat = lstatSync(file);
    const actual = stat.isDirectory() ? "dir" : stat.isSocket() ? "socket" : "other";
    return { path: file, expected, actual, uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o777 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
