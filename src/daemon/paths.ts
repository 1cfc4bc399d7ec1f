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
  /** Directory of this daemon: socket, pid, log, config, state. */
  dir: string;
  /** The daemon's unix socket. */
  socket: string;
  /** BuildKit's state dir (--root). */
  root: string;
  /** The daemon's process id, while it runs. */
  pidFile: string;
  /** stdout and stderr of the daemon. */
  logFile: string;
  /** The user's buildkitd.toml for the daemon, when present. */
  configFile: string;
  /** What the daemon is started with: `configFile` plus the daemon's bridge network. */
  effectiveConfigFile: string;
  /** The random name of the lock held while the daemon starts or stops. */
  lockNameFile: string;
}

/** The paths of a managed daemon living in `dir`, with binaries from `binDir`. */
export function daemonPaths(dir: string, binDir: string): DaemonPaths {
  return {
    binDir,
    dir,
    socket: path.join(dir, "buildkitd.sock"),
    root: path.join(dir, "root"),
    pidFile: path.join(dir, "buildkitd.pid"),
    logFile: path.join(dir, "buildkitd.log"),
    configFile: path.join(dir, "buildkitd.toml"),
    effectiveConfigFile: path.join(dir, "buildkitd.effective.toml"),
    lockNameFile: path.join(dir, "lock-name"),
  };
}

/** The default managed daemon of this user. */
export function defaultDaemonPaths(env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  const home = brewkitHome(env);
  return daemonPaths(path.join(home, "daemon"), path.join(home, "bin"));
}
