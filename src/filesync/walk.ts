import fs, { promises as fsp } from "node:fs";
import type { BigIntStats, Dirent } from "node:fs";
import path from "node:path";
import { PatternMatcher } from "../ignore/index.ts";
import type { MatchInfo } from "../ignore/index.ts";
import { compareUtf8 } from "./compare.ts";
import { FileSyncIOError, FileSyncPathError, TransferAbortedError } from "./errors.ts";
import { dedupePaths, resolveFollowPaths } from "./follow.ts";
import { FileMode, fileModeFromPosix, isDirMode, isRegularMode } from "./mode.ts";
import type { Stat } from "./packet.ts";

/** What to send of a directory, as the daemon's local-source attributes say. */
export interface WalkOptions {
  /** Only entries matching these (or below a match) are sent; their parent dirs too. */
  includePatterns?: readonly string[];
  /** Entries matching these are not sent, unless a later `!` pattern re-includes them. */
  excludePatterns?: readonly string[];
  /** Paths whose symlinks are sent together with their targets (added to the include patterns). */
  followPaths?: readonly string[];
  /**
   * Entries whose name this is true for are not sent, nor anything below them, whatever
   * the patterns say: a test of the name alone, far cheaper than a pattern for every entry.
   */
  skipName?: (name: string) => boolean;
  /** Stops the walk. */
  signal?: AbortSignal;
}

/** One entry of a walk: its wire stat and where it lives on the host. */
export interface WalkEntry {
  stat: Stat;
  /** Absolute host path of the entry. */
  hostPath: string;
}

// The walk uses synchronous calls: on a warm page cache an lstat takes microseconds, and
// a thread-pool round trip per entry cost far more than the call itself. It lets the
// event loop run every YIELD_EVERY entries, so file requests are served meanwhile, and
// the STAT packets written in between leave as one batch.
const YIELD_EVERY = 256;

interface Child {
  rel: string;
  host: string;
  isDir: boolean;
  skip: boolean;
  includeInfo: MatchInfo | undefined;
  excludeInfo: MatchInfo | undefined;
}

interface Frame {
  rel: string;
  host: string;
  children: Child[];
  next: number;
  includeInfo: MatchInfo | undefined;
  excludeInfo: MatchInfo | undefined;
  /** Excluded directory walked for re-included entries; emitted before the first of them. */
  pending: boolean;
  parent: Frame | undefined;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function lstatOrMissing(host: string): BigIntStats | undefined {
  try {
    return fs.lstatSync(host, { bigint: true });
  } catch (err) {
    // Deleted since it was listed: like Go, a vanished entry is simply not sent.
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return undefined;
    throw new FileSyncIOError("cannot stat", host, err);
  }
}

async function openRoot(root: string): Promise<string> {
  let real: string;
  try {
    real = await fsp.realpath(root);
  } catch (err) {
    throw new FileSyncPathError("cannot resolve the directory to send", root, { cause: err });
  }
  const st = await fsp.stat(real).catch((err: unknown) => {
    throw new FileSyncPathError("cannot stat the directory to send", root, { cause: err });
  });
  if (!st.isDirectory()) throw new FileSyncPathError("not a directory", root);
  return real;
}

async function includeList(root: string, options: WalkOptions): Promise<string[]> {
  let includes = [...(options.includePatterns ?? [])];
  if (options.followPaths && options.followPaths.length > 0) {
    const targets = await resolveFollowPaths(root, options.followPaths);
    if (targets !== null) includes = dedupePaths([...includes, ...targets]) ?? [];
  }
  return includes;
}

/**
 * Walks `root` like fsutil's filtered FS: depth-first, siblings in UTF-8 byte
 * order (so paths come in ComparePath order), the root itself not included,
 * symlinks not followed, parents of kept entries always emitted first, and
 * excluded directories skipped whole when no exception can re-include anything
 * below them. uid/gid are 0 as the Go client sends them; mtimes are in ns.
 */
export async function* walkDirectory(root: string, options: WalkOptions = {}): AsyncGenerator<WalkEntry> {
  const realRoot = await openRoot(root);
  const includes = await includeList(realRoot, options);
  const include = includes.length > 0 ? new PatternMatcher(includes) : undefined;
  const exclude = options.excludePatterns && options.excludePatterns.length > 0 ? new PatternMatcher(options.excludePatterns) : undefined;
  const hardlinks = new Map<string, string>();
  const signal = options.signal;
  const skipName = options.skipName;

  const classify = (parent: Frame, dirent: Dirent): Child | undefined => {
    const name = dirent.name;
    if (skipName?.(name)) return undefined;
    const rel = parent.rel === "" ? name : `${parent.rel}/${name}`;
    const isDir = dirent.isDirectory();
    let skip = false;
    let includeInfo: MatchInfo | undefined;
    let excludeInfo: MatchInfo | undefined;
    if (include) {
      const r = include.matchWithParent(rel, parent.includeInfo);
      includeInfo = r.info;
      if (!r.matched) {
        if (!isDir || !include.couldIncludeBelow(rel, r.info)) return undefined;
        skip = true;
      }
    }
    if (exclude) {
      const r = exclude.matchWithParent(rel, parent.excludeInfo);
      excludeInfo = r.info;
      if (r.matched) {
        if (!isDir || !exclude.couldReincludeBelow(rel, r.info)) return undefined;
        skip = true;
      }
    }
    // Names from readdir hold no slash and parent.host is already normal: no path.join needed.
    const host = parent.host.endsWith("/") ? `${parent.host}${name}` : `${parent.host}/${name}`;
    return { rel, host, isDir, skip, includeInfo, excludeInfo };
  };

  const openFrame = (rel: string, host: string, parent: Frame | undefined, from: Child | undefined): Frame => {
    const frame: Frame = {
      rel,
      host,
      children: [],
      next: 0,
      includeInfo: from?.includeInfo,
      excludeInfo: from?.excludeInfo,
      pending: from?.skip ?? false,
      parent,
    };
    let dirents: Dirent[];
    try {
      dirents = fs.readdirSync(host, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" || code === "ENOTDIR") return frame;
      // Go tolerates unreadable directories only when they are not sent anyway.
      if (frame.pending && (code === "EACCES" || code === "EPERM")) return frame;
      throw new FileSyncIOError("cannot read directory", host, err);
    }
    dirents.sort((a, b) => compareUtf8(a.name, b.name));
    for (const dirent of dirents) {
      const child = classify(frame, dirent);
      if (child) frame.children.push(child);
    }
    return frame;
  };

  const toStat = (rel: string, host: string, st: BigIntStats): Stat => {
    // fsutil clears the socket bit (tar cannot represent sockets).
    const mode = (fileModeFromPosix(Number(st.mode)) & ~FileMode.Socket) >>> 0;
    const stat: Stat = {
      path: rel,
      mode,
      uid: 0,
      gid: 0,
      size: isDirMode(mode) ? 0n : st.size,
      modTime: st.mtimeNs,
      linkname: "",
      devmajor: 0,
      devminor: 0,
    };
    if (mode & FileMode.Symlink) {
      try {
        stat.linkname = fs.readlinkSync(host);
      } catch (err) {
        throw new FileSyncIOError("cannot read symlink", host, err);
      }
    } else if (mode & FileMode.Device) {
      stat.devmajor = Number((st.rdev >> 8n) & 0xfffn);
      stat.devminor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & 0xfff00n));
    } else if (isRegularMode(mode) && st.nlink > 1n) {
      // Later links to an inode already sent become hard links to the first path.
      // Go's mkstat overwrites the size afterwards, so links keep the real size.
      const key = `${st.dev}:${st.ino}`;
      const first = hardlinks.get(key);
      if (first === undefined) hardlinks.set(key, rel);
      else stat.linkname = first;
    }
    return stat;
  };

  // The skipped directories above a kept entry, outermost first.
  const pendingOf = (frame: Frame | undefined): WalkEntry[] => {
    const chain: Frame[] = [];
    for (let f = frame; f?.pending; f = f.parent) chain.unshift(f);
    return chain.map((f) => {
      const st = lstatOrMissing(f.host);
      if (!st) throw new FileSyncIOError("directory vanished while sending", f.host, undefined);
      f.pending = false;
      return { stat: toStat(f.rel, f.host, st), hostPath: f.host };
    });
  };

  const stack: Frame[] = [openFrame("", realRoot, undefined, undefined)];
  let sinceYield = 0;
  while (stack.length > 0) {
    if (++sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (signal?.aborted) throw new TransferAbortedError(signal.reason);
    const frame = stack[stack.length - 1]!;
    if (frame.next >= frame.children.length) {
      stack.pop();
      continue;
    }
    const child = frame.children[frame.next++]!;
    let isDir = child.isDir;
    if (!child.skip) {
      const st = lstatOrMissing(child.host);
      if (!st) continue;
      isDir &&= st.isDirectory();
      if (frame.pending) yield* pendingOf(frame);
      yield { stat: toStat(child.rel, child.host, st), hostPath: child.host };
    }
    if (isDir) stack.push(openFrame(child.rel, child.host, frame, child));
  }
}
