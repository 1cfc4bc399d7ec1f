import { randomBytes } from "node:crypto";
import fs, { promises as fsp } from "node:fs";
import path from "node:path";
import { processAlive } from "../processes.ts";
import { resolveDestination } from "./destination.ts";
import { FileSyncIOError, FileSyncPathError } from "./errors.ts";
import { exportLockName, withExportLock } from "./export-lock.ts";

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

// An entry at p, symlinks not followed (a dangling one exists too).
function existsSync(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return false;
    throw err;
  }
}

// Exported trees may contain read-only directories, which rm cannot empty.
async function makeWritable(p: string): Promise<void> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (!st?.isDirectory()) return;
  await fsp.chmod(p, (st.mode & 0o7777) | 0o700).catch(() => undefined);
  const names = await fsp.readdir(p).catch(() => [] as string[]);
  for (const name of names) await makeWritable(path.join(p, name));
}

/** Removes a tree even when it contains directories without write permission. */
export async function removeTree(p: string): Promise<void> {
  try {
    await fsp.rm(p, { recursive: true, force: true });
  } catch (err) {
    const code = errnoCode(err);
    if (code !== "EACCES" && code !== "EPERM") throw err;
    await makeWritable(p);
    await fsp.rm(p, { recursive: true, force: true });
  }
}

// A name of a file system entry is at most 255 bytes. The names brewkit makes beside an
// entry carry the entry's name, cut short so they never exceed it.
const maxNameBytes = 255;

/** `name` cut to at most `bytes` bytes of UTF-8, never inside a character. */
function truncateName(name: string, bytes: number): string {
  if (Buffer.byteLength(name) <= bytes) return name;
  let out = "";
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > bytes) break;
    out += ch;
  }
  return out;
}

/** A hidden name beside `name`: `.<name><suffix>`, within the limit of one name. */
export function besideName(name: string, suffix: string): string {
  return `.${truncateName(name, maxNameBytes - 1 - Buffer.byteLength(suffix))}${suffix}`;
}

interface Move {
  name: string;
  backup: string | undefined;
  moved: boolean;
}

/** Where an export may write and how it waits for other runs. */
export interface StagingOptions {
  /** The directory the destination must stay in (the project); undefined: anywhere (symlinks followed). */
  within?: string;
  /** Stops waiting for another run's export into the same place. */
  signal?: AbortSignal;
  /** Told when another process is moving an export into the same place and this one waits. */
  onWait?: (pid: number) => void;
}

// Names of brewkit's own entries beside or inside a destination; the pid tells whether
// their run is still alive, so the leftovers of a killed run can be removed.
export const stagingMarker = ".brewkit-export-";
const backupMarker = ".brewkit-replaced-";

/**
 * True for the name of a staging directory, a set-aside entry or the export lock: brewkit's,
 * not the user's. Uploads skip them (and all below them) whatever the patterns say: a run
 * never uploads another run's half-written export.
 */
export function isTransientExportName(name: string): boolean {
  return name.includes(stagingMarker) || name.includes(backupMarker) || name.startsWith(exportLockName);
}

function ownerPid(name: string, marker: string): number | undefined {
  const at = name.indexOf(marker);
  const match = at < 0 ? null : /^(\d+)-/.exec(name.slice(at + marker.length));
  return match ? Number(match[1]) : undefined;
}

/** Removes staging dirs and set-aside entries in `dir` left by runs that died before cleaning up. */
export async function removeLeftovers(dir: string): Promise<void> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = ownerPid(name, stagingMarker) ?? ownerPid(name, backupMarker);
    if (pid !== undefined && pid !== process.pid && !processAlive(pid)) await removeTree(path.join(dir, name)).catch(() => undefined);
  }
}

/**
 * A fresh directory on the same file system as an export destination: the
 * transfer lands there, and only a complete tree is renamed into place, under the
 * export lock of the project, so concurrent runs never interleave their files.
 */
export class Staging {
  /** The directory the export is written into. */
  readonly root: string;
  /** The final destination, as given. */
  readonly dest: string;

  private constructor(
    root: string,
    dest: string,
    private readonly options: StagingOptions,
  ) {
    this.root = root;
    this.dest = dest;
  }

  /** Validates `dest` (absent or a directory, reached through no symlink out of the project) and creates the staging directory next to it. */
  static async create(dest: string, options: StagingOptions = {}): Promise<Staging> {
    return withExportLock(await lockDirOf(dest, options), async () => {
      const real = await resolveDestination(dest, options.within);
      const destStat = await fsp.stat(real).catch((err: unknown) => {
        if (errnoCode(err) === "ENOENT") return undefined;
        throw new FileSyncPathError("cannot use the export destination", dest, { cause: err });
      });
      if (destStat && !destStat.isDirectory()) {
        throw new FileSyncPathError("the export destination exists and is not a directory", dest, {
          hint: "Point the local output at a directory (it is created when missing).",
        });
      }
      const parent = path.dirname(real);
      try {
        await fsp.mkdir(parent, { recursive: true });
        const parentStat = await fsp.stat(parent);
        // Renames only stay atomic within one file system: when dest is a mount
        // point, stage inside it instead of beside it.
        const inside = destStat !== undefined && destStat.dev !== parentStat.dev;
        await removeLeftovers(inside ? real : parent);
        if (destStat && !inside) await removeLeftovers(real);
        // mkdtemp adds six characters to the prefix.
        const suffix = `${stagingMarker}${process.pid}-XXXXXX`;
        const base = inside ? path.join(real, suffix) : path.join(parent, besideName(path.basename(real), suffix));
        return new Staging(await fsp.mkdtemp(base.slice(0, -6)), dest, options);
      } catch (err) {
        throw new FileSyncPathError("cannot prepare the export destination", dest, { cause: err });
      }
    }, options);
  }

  /**
   * Moves every top-level entry of the staging directory into dest, replacing
   * entries of the same name whole and keeping all others. On failure every
   * completed move is undone, so dest is left as it was. Returns the real path
   * of dest, resolved again under the lock: an export that finished meanwhile
   * may have put a symlink in the way.
   */
  async commit(): Promise<string> {
    return withExportLock(await lockDirOf(this.dest, this.options), () => this.moveIn(), this.options);
  }

  private async moveIn(): Promise<string> {
    const dest = await resolveDestination(this.dest, this.options.within);
    let createdDest = false;
    const moves: Move[] = [];
    // Synchronous under the lock: a tree has one entry here per top-level name, and a
    // thread-pool round trip for each lstat and rename cost more than the call.
    try {
      if (!existsSync(dest)) {
        fs.mkdirSync(dest, { recursive: true });
        createdDest = true;
      }
      for (const name of fs.readdirSync(this.root)) {
        const target = path.join(dest, name);
        const move: Move = { name, backup: undefined, moved: false };
        moves.push(move);
        if (existsSync(target)) {
          // Set aside within dest itself: a rename in the same directory needs no
          // write permission on a directory being moved.
          move.backup = path.join(dest, besideName(name, `${backupMarker}${process.pid}-${randomBytes(4).toString("hex")}`));
          fs.renameSync(target, move.backup);
        }
        fs.renameSync(path.join(this.root, name), target);
        move.moved = true;
      }
    } catch (err) {
      for (const move of moves.reverse()) {
        const target = path.join(dest, move.name);
        if (move.moved) await fsp.rename(target, path.join(this.root, move.name)).catch(() => undefined);
        if (move.backup) await fsp.rename(move.backup, target).catch(() => undefined);
      }
      if (createdDest) await fsp.rmdir(dest).catch(() => undefined);
      throw new FileSyncIOError("cannot move the export into", this.dest, err);
    }
    // The new tree is in place; what it replaced goes, best effort.
    for (const move of moves) if (move.backup) await removeTree(move.backup).catch(() => undefined);
    await removeTree(this.root).catch(() => undefined);
    return dest;
  }

  /** Deletes the staging directory and everything in it. */
  async discard(): Promise<void> {
    await removeTree(this.root).catch(() => undefined);
  }
}

/** The directory whose export lock an export to `dest` takes: the project's; for an output allowed elsewhere, its parent's. */
export async function lockDirOf(dest: string, options: StagingOptions): Promise<string> {
  if (options.within !== undefined) return options.within;
  const parent = path.dirname(dest);
  await fsp.mkdir(parent, { recursive: true }).catch((err: unknown) => {
    throw new FileSyncPathError("cannot prepare the export destination", dest, { cause: err });
  });
  return parent;
}
