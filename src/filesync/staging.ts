import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { FileSyncIOError, FileSyncPathError } from "./errors.ts";

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
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
function besideName(name: string, suffix: string): string {
  return `.${truncateName(name, maxNameBytes - 1 - Buffer.byteLength(suffix))}${suffix}`;
}

interface Move {
  name: string;
  backup: string | undefined;
  moved: boolean;
}

/**
 * A fresh directory on the same file system as an export destination: the
 * transfer lands there, and only a complete tree is renamed into place.
 */
export class Staging {
  /** The directory the export is written into. */
  readonly root: string;
  /** The final destination. */
  readonly dest: string;
  private readonly destExisted: boolean;

  private constructor(root: string, dest: string, destExisted: boolean) {
    this.root = root;
    this.dest = dest;
    this.destExisted = destExisted;
  }

  /** Validates `dest` (absent or a directory) and creates the staging directory next to it. */
  static async create(dest: string): Promise<Staging> {
    const destStat = await fsp.stat(dest).catch((err: unknown) => {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw new FileSyncPathError("cannot use the export destination", dest, { cause: err });
    });
    if (destStat && !destStat.isDirectory()) {
      throw new FileSyncPathError("the export destination exists and is not a directory", dest, {
        hint: "Point the local output at a directory (it is created when missing).",
      });
    }
    const parent = path.dirname(dest);
    try {
      await fsp.mkdir(parent, { recursive: true });
      const parentStat = await fsp.stat(parent);
      // Renames only stay atomic within one file system: when dest is a mount
      // point, stage inside it instead of beside it.
      // mkdtemp adds six characters to the prefix.
      const base = destStat && destStat.dev !== parentStat.dev ? path.join(dest, ".brewkit-export-") : path.join(parent, besideName(path.basename(dest), ".brewkit-export-XXXXXX").slice(0, -6));
      const root = await fsp.mkdtemp(base);
      return new Staging(root, dest, destStat !== undefined);
    } catch (err) {
      throw new FileSyncPathError("cannot prepare the export destination", dest, { cause: err });
    }
  }

  /**
   * Moves every top-level entry of the staging directory into dest, replacing
   * entries of the same name whole and keeping all others. On failure every
   * completed move is undone, so dest is left as it was.
   */
  async commit(): Promise<void> {
    let createdDest = false;
    const moves: Move[] = [];
    try {
      if (!this.destExisted && !(await exists(this.dest))) {
        await fsp.mkdir(this.dest, { recursive: true });
        createdDest = true;
      }
      for (const name of await fsp.readdir(this.root)) {
        const target = path.join(this.dest, name);
        const move: Move = { name, backup: undefined, moved: false };
        moves.push(move);
        if (await exists(target)) {
          // Set aside within dest itself: a rename in the same directory needs no
          // write permission on a directory being moved.
          move.backup = path.join(this.dest, besideName(name, `.brewkit-replaced-${randomBytes(4).toString("hex")}`));
          await fsp.rename(target, move.backup);
        }
        await fsp.rename(path.join(this.root, name), target);
        move.moved = true;
      }
    } catch (err) {
      for (const move of moves.reverse()) {
        const target = path.join(this.dest, move.name);
        if (move.moved) await fsp.rename(target, path.join(this.root, move.name)).catch(() => undefined);
        if (move.backup) await fsp.rename(move.backup, target).catch(() => undefined);
      }
      if (createdDest) await fsp.rmdir(this.dest).catch(() => undefined);
      throw new FileSyncIOError("cannot move the export into", this.dest, err);
    }
    // The new tree is in place; what it replaced goes, best effort.
    for (const move of moves) if (move.backup) await removeTree(move.backup).catch(() => undefined);
    await removeTree(this.root).catch(() => undefined);
  }

  /** Deletes the staging directory and everything in it. */
  async discard(): Promise<void> {
    await removeTree(this.root).catch(() => undefined);
  }
}
