import { accessSync, constants } from "node:fs";
import path from "node:path";
import { DaemonError } from "../errors.ts";
import { findOnPath } from "./which.ts";

// What BuildKit's bridge network runs for each step (util/network/cniprovider/bridge.go).
const plugins = ["bridge", "loopback", "host-local", "firewall"];

/** Where CNI plugins are installed: the upstream default, then Debian's `containernetworking-plugins`. */
export const cniPluginDirs = ["/opt/cni/bin", "/usr/lib/cni"];

/**
 * Where buildkitd finds the CNI plugins of its bridge network: `{ dir }` for the
 * `--oci-cni-binary-dir` flag, or `{ dir: undefined }` when BuildKit's own `buildkit-cni-*`
 * copies are on `searchPath` (BuildKit prefers those). Throws, naming the package to
 * install, when neither is there: brewkit's daemon never falls back to the host's network.
 */
export function findCniPlugins(searchPath: string, dirs: readonly string[] = cniPluginDirs): { dir: string | undefined } {
  if (plugins.every((name) => findOnPath(`buildkit-cni-${name}`, searchPath))) return { dir: undefined };
  const dir = dirs.find((candidate) => plugins.every((name) => executable(path.join(candidate, name))));
  if (dir) return { dir };
  throw new DaemonError(
    "CNI_PLUGINS_MISSING",
    `the CNI plugins that give each build step its own network are not installed (looked for ${plugins.join(", ")} in ${dirs.join(" and ")})`,
    { hint: "install them with `apt-get install containernetworking-plugins` (Debian/Ubuntu), or point --addr / BUILDKIT_HOST at a buildkitd of your own" },
  );
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
