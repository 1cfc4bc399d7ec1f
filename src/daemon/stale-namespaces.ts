import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";

// Where BuildKit's bridge network keeps each step's network namespace, bind-mounted onto
// a file of its own (util/network/cniprovider: `<root>/net/cni/<id>`).
const namespaceDir = ["net", "cni"];

/**
 * The mount points in `mountinfo` (the text of /proc/self/mountinfo) that lie inside
 * `dir`, deepest first so that each can be unmounted before what it sits in.
 */
export function mountPointsUnder(mountinfo: string, dir: string): string[] {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const points: string[] = [];
  for (const line of mountinfo.split("\n")) {
    // Fields: id, parent id, major:minor, root, mount point, …; spaces and other
    // special characters in a path are written as octal escapes.
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    if (point.startsWith(prefix)) points.push(point);
  }
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Releases the step network namespaces that a stopped buildkitd left mounted under its
 * state dir `root`. BuildKit releases them itself when it shuts down cleanly, and on its
 * next start; a daemon killed in between leaves them mounted, and then its state dir can
 * be neither removed nor moved. Returns the namespaces it could not release (they are
 * released at the daemon's next start); a rootless daemon's live in RootlessKit's mount
 * namespace and end with it, so none are seen here.
 */
export function releaseStaleNamespaces(root: string, mountinfo = readMountinfo()): string[] {
  const left: string[] = [];
  for (const point of mountPointsUnder(mountinfo, path.join(root, ...namespaceDir))) {
    try {
      // Lazy: the namespace may still be entered by a step process that outlived the daemon.
      execFileSync("umount", ["--lazy", point], { stdio: "ignore" });
      rmSync(point, { force: true });
    } catch {
      left.push(point);
    }
  }
  return left;
}

function readMountinfo(): string {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return "";
  }
}
