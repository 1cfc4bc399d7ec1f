import { cleanPath } from "../gopath/index.ts";
import { compareUtf8, comparePath } from "./compare.ts";
import { FileSyncProtocolError, UnsafePathError } from "./errors.ts";
import { isDirMode, isRegularMode, isSymlinkMode } from "./mode.ts";
import type { Stat } from "./packet.ts";

interface ParentDir {
  dir: string;
  last: string;
}

/**
 * Checks each received STAT before anything is written for it: fsutil's order
 * validator (depth-first, strictly increasing siblings, parent directory sent
 * first), its hard-link validator (links only to earlier regular files), and
 * containment: no absolute paths, no `..`, nothing below a received symlink.
 */
export class EntryValidator {
  private parents: ParentDir[] = [{ dir: "", last: "" }];
  private readonly files = new Set<string>();
  private readonly symlinks = new Set<string>();

  /** Throws UnsafePathError or FileSyncProtocolError when `stat` may not be applied. */
  check(stat: Stat): void {
    const p = stat.path;
    if (p === "" || p === "." || p.includes("\0")) throw new UnsafePathError(p, "not a valid entry path");
    if (p.startsWith("/")) throw new UnsafePathError(p, "absolute path");
    if (p.split("/").includes("..")) throw new UnsafePathError(p, "path contains ..");
    if (cleanPath(p) !== p) throw new FileSyncProtocolError(`unclean path ${JSON.stringify(p)}`, { path: p });
    this.checkNotBelowSymlink(p);
    this.checkOrder(p, isDirMode(stat.mode));
    this.checkLinks(stat);
  }

  private checkNotBelowSymlink(p: string): void {
    if (this.symlinks.size === 0) return;
    for (let at = p.indexOf("/"); at >= 0; at = p.indexOf("/", at + 1)) {
      const ancestor = p.slice(0, at);
      if (this.symlinks.has(ancestor)) throw new UnsafePathError(p, `would be written through the symlink ${JSON.stringify(ancestor)}`);
    }
  }

  private checkOrder(p: string, isDir: boolean): void {
    const slash = p.lastIndexOf("/");
    const dir = slash < 0 ? "" : p.slice(0, slash);
    const base = p.slice(slash + 1);
    // The deepest remembered directory at or before `dir`; deeper ones are finished.
    let i = this.parents.length - 1;
    while (i > 0 && comparePath(this.parents[i]!.dir, dir) > 0) i--;
    this.parents.length = i + 1;
    const parent = this.parents[i]!;
    if (parent.dir !== dir || compareUtf8(parent.last, base) >= 0) {
      const previous = parent.dir === "" ? parent.last : `${parent.dir}/${parent.last}`;
      throw new FileSyncProtocolError(`changes out of order: ${JSON.stringify(p)} after ${JSON.stringify(previous)}`, { path: p });
    }
    parent.last = base;
    if (isDir) this.parents.push({ dir: p, last: "" });
  }

  private checkLinks(stat: Stat): void {
    if (isDirMode(stat.mode)) return;
    if (isSymlinkMode(stat.mode)) {
      if (stat.linkname === "") throw new FileSyncProtocolError(`symlink ${JSON.stringify(stat.path)} has no target`, { path: stat.path });
      this.symlinks.add(stat.path);
      return;
    }
    if (stat.linkname !== "") {
      if (!this.files.has(stat.linkname)) {
        throw new FileSyncProtocolError(`invalid link ${JSON.stringify(stat.path)} to unknown path ${JSON.stringify(stat.linkname)}`, {
          path: stat.path,
        });
      }
      return;
    }
    if (isRegularMode(stat.mode)) this.files.add(stat.path);
  }
}
