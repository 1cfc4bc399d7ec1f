import { mkdtempSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { defaultDaemonPaths } from "../../src/daemon/paths.ts";

/** A brewkit home of its own (short path under /tmp: it holds the daemon's socket), sharing the installed binaries. */
export function managedHome(): string {
  const home = mkdtempSync("/tmp/bk-home-");
  symlinkSync(defaultDaemonPaths().binDir, path.join(home, "bin"), "dir");
  return home;
}

/** The environment that makes brewkit use (and start) its own daemon in `home`. */
export function managedEnv(home: string): Record<string, string> {
  return { BREWKIT_HOME: home, BUILDKIT_HOST: "" };
}

/**
 * The buildkitd processes whose state dir is the daemon of `home`, read from /proc
 * independently of how brewkit finds its daemon.
 */
export function buildkitdProcessesOf(home: string): number[] {
  const root = path.join(home, "daemon", "root");
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return argv.some((arg) => path.basename(arg) === "buildkitd") && argv.includes(root);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The bridge and subnet `brewkit daemon status` reports. */
export function statusNetwork(statusOutput: string): { bridgeName: string; subnet: string } {
  const match = /^network:\s+bridge (\S+), (\S+)$/m.exec(statusOutput);
  if (!match) throw new Error(`brewkit daemon status names no bridge network:\n${statusOutput}`);
  return { bridgeName: match[1]!, subnet: match[2]! };
}
