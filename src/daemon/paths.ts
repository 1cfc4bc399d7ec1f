import { createHash } from "node:crypto";
import { lstatSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** brewkit's own directory: binaries, daemon state, user config. `$BREWKIT_HOME` or `~/.brewkit`. */
export function brewkitHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.BREWKIT_HOME ? path.resolve(env.BREWKIT_HOME) : path.join(homedir(), ".brewkit");
}

/** The root of the installed brewkit package (where go.mod pins BuildKit). */
export const packageRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Where one managed daemon keeps its files. */
export interface DaemonPaths {
  /** Directory holding buildkitd and buildctl. */
  binDir: string;
  /** Directory of this daemon: pid, log, config, state (and the socket, unless `socketDir` is elsewhere). */
  dir: string;
  /** The private directory holding the daemon's sockets: `dir`, or one in `$XDG_RUNTIME_DIR`. */
  socketDir: string;
  /** The daemon's unix socket. */
  socket: string;
  /** The socket buildkitd serves its OpenTelemetry collector on (kept private, beside `socket`). */
  otelSocket: string;
  /** BuildKit's state dir (--root). */
  root: string;
  /** The daemon's process id, while it runs. */
  pidFile: string;
  /** stdout and stderr of the daemon. */
  logFile: string;
  /** The user's buildkitd.toml for the daemon, when present. */
  configFile: string;
  /** What the daemon is started with: `configFile` plus the daemon's network and sockets. */
  effectiveConfigFile: string;
  /** How the running daemon was started (mode, network, why): written at each start. */
  startRecordFile: string;
  /** RootlessKit's state dir, for a rootless daemon. */
  rootlesskitStateDir: string;
  /** The random name of the lock held while the daemon starts or stops. */
  lockNameFile: string;
}

/** The paths of a managed daemon living in `dir`, with binaries from `binDir` and its sockets in `socketDir`. */
export function daemonPaths(dir: string, binDir: string, socketDir = dir): DaemonPaths {
  return {
    binDir,
    dir,
    socketDir,
    socket: path.join(socketDir, "buildkitd.sock"),
    otelSocket: path.join(socketDir, "otel-grpc.sock"),
    root: path.join(dir, "root"),
    pidFile: path.join(dir, "buildkitd.pid"),
    logFile: path.join(dir, "buildkitd.log"),
    configFile: path.join(dir, "buildkitd.toml"),
    effectiveConfigFile: path.join(dir, "buildkitd.effective.toml"),
    startRecordFile: path.join(dir, "started.json"),
    rootlesskitStateDir: path.join(socketDir, "rk"),
    lockNameFile: path.join(dir, "lock-name"),
  };
}

/**
 * The default managed daemon of this user. Root's lives in `~/.brewkit/daemon`, socket
 * included. Another user's (rootless) keeps its state in `$XDG_DATA_HOME/brewkit/daemon`
 * (`~/.local/share/brewkit/daemon`) and its socket in `$XDG_RUNTIME_DIR/brewkit/`, when
 * that directory is the user's own and private; else beside its state. `BREWKIT_HOME`,
 * when set, holds the state of either.
 */
export function defaultDaemonPaths(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): DaemonPaths {
  const home = brewkitHome(env);
  const binDir = path.join(home, "bin");
  if (uid === 0) return daemonPaths(path.join(home, "daemon"), binDir);
  const dir = env.BREWKIT_HOME ? path.join(home, "daemon") : path.join(xdgDataHome(env), "brewkit", "daemon");
  const runtime = privateRuntimeDir(env, uid);
  // One runtime dir may serve several daemons of the user (other BREWKIT_HOMEs): each has its own.
  const socketDir = runtime ? path.join(runtime, "brewkit", `daemon-${createHash("sha256").update(dir).digest("hex").slice(0, 8)}`) : dir;
  return daemonPaths(dir, binDir, socketDir);
}

function xdgDataHome(env: NodeJS.ProcessEnv): string {
  const first = env.XDG_DATA_HOME?.split(":")[0];
  return first && path.isAbsolute(first) ? first : path.join(env.HOME || homedir(), ".local", "share");
}

/** `$XDG_RUNTIME_DIR` when it is a directory of `uid` that no one else may enter. */
function privateRuntimeDir(env: NodeJS.ProcessEnv, uid: number): string | undefined {
  const dir = env.XDG_RUNTIME_DIR?.split(":")[0];
  if (!dir || !path.isAbsolute(dir)) return undefined;
  try {
    const stat = lstatSync(dir);
    return stat.isDirectory() && stat.uid === uid && (stat.mode & 0o077) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}
