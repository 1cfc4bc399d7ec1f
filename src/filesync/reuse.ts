import { promises as fsp } from "node:fs";
import path from "node:path";
import { posixPermissions } from "./mode.ts";
import type { Stat } from "./packet.ts";

// Host mtimes are set through a double of seconds, which the runtime truncates to whole
// microseconds after rounding: a file written by an earlier export can be up to one
// microsecond plus the rounding error (~240 ns today) off the sender's nanoseconds.
const mtimeToleranceNs = 2_000n;

/**
 * Finds files of an earlier export that are unchanged, so they can be linked into a
 * new export instead of being transferred again. Only files whose real directory is
 * inside `root` qualify: a symlinked directory in the old tree never redirects a link.
 */
export class UnchangedFiles {
  private readonly realRoot: Promise<string | undefined>;
  private readonly realDirs = new Map<string, Promise<string | undefined>>();

  constructor(private readonly root: string) {
    this.realRoot = fsp.realpath(root).catch(() => undefined);
  }

  /** The host path of the earlier copy of `stat` when size, permissions and mtime match. */
  async find(stat: Stat): Promise<string | undefined> {
    const candidate = path.join(this.root, stat.path);
    const dir = path.dirname(candidate);
    let realDir = this.realDirs.get(dir);
    if (!realDir) this.realDirs.set(dir, (realDir = fsp.realpath(dir).catch(() => undefined)));
    const [root, real] = await Promise.all([this.realRoot, realDir]);
    if (!root || !real || (real !== root && !real.startsWith(root + path.sep))) return undefined;
    const existing = await fsp.lstat(candidate, { bigint: true }).catch(() => undefined);
    if (!existing?.isFile() || existing.size !== stat.size) return undefined;
    if (Number(existing.mode & 0o7777n) !== posixPermissions(stat.mode)) return undefined;
    const drift = existing.mtimeNs - stat.modTime;
    return drift < mtimeToleranceNs && drift > -mtimeToleranceNs ? candidate : undefined;
  }
}
