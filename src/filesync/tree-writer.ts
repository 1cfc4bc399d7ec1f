import { constants as fsc, promises as fsp } from "node:fs";
import path from "node:path";
import { FileSyncIOError } from "./errors.ts";
import * as fsio from "./fsio.ts";
import { isDirMode, isRegularMode, isSymlinkMode, posixPermissions } from "./mode.ts";
import type { Stat } from "./packet.ts";
import type { UnchangedFiles } from "./reuse.ts";

/** Owner applied to every written entry. */
export interface Ownership {
  /** Numeric user id. */
  uid: number;
  /** Numeric group id. */
  gid: number;
}

interface Placed {
  stat: Stat;
  hostPath: string;
}

// O_EXCL and O_NOFOLLOW: never write through anything that was already there.
const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

function seconds(ns: bigint): number {
  // utimes takes seconds as a double: exact to well under a microsecond for today's dates.
  return Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
}

async function setDirMetadata(hostPath: string, stat: Stat): Promise<void> {
  try {
    await fsp.chmod(hostPath, posixPermissions(stat.mode));
    const t = seconds(stat.modTime);
    await fsp.utimes(hostPath, t, t);
  } catch (err) {
    throw new FileSyncIOError("cannot set metadata of", hostPath, err);
  }
}

/**
 * A regular file being filled from DATA packets: chunks are written in order
 * on a promise chain, so the packet loop never waits for the disk.
 */
export class IncomingFile {
  /** Bytes handed to write() so far. */
  bytes = 0;
  private chain: Promise<unknown>;
  private fd: number | undefined;
  private failure: unknown;

  constructor(
    private readonly stat: Stat,
    private readonly hostPath: string,
    private readonly owner: Ownership | undefined,
  ) {
    this.chain = fsio.open(hostPath, CREATE_FLAGS, 0o600).then(
      (fd) => {
        this.fd = fd;
      },
      (err: unknown) => this.fail(new FileSyncIOError("cannot create", hostPath, err)),
    );
  }

  /** The first error of this file, if any. */
  get error(): unknown {
    return this.failure;
  }

  private fail(err: unknown): void {
    this.failure ??= err;
  }

  /** Queues a chunk; `written` runs once it is on disk (or failed). */
  write(data: Uint8Array, written: () => void): void {
    this.bytes += data.length;
    this.chain = this.chain
      .then(async () => {
        if (this.failure === undefined) await fsio.writeAll(this.fd!, data);
      })
      .catch((err: unknown) => this.fail(new FileSyncIOError("cannot write", this.hostPath, err)))
      .finally(written);
  }

  /** Waits for the queued chunks, then applies owner, mode and mtime and closes; throws the file's first error. */
  async finish(): Promise<void> {
    await this.chain;
    try {
      if (this.failure !== undefined) throw this.failure;
      const fd = this.fd!;
      // After the content: writing would clear setuid/setgid bits again.
      try {
        if (this.owner) await fsio.fchown(fd, this.owner.uid, this.owner.gid);
        await fsio.fchmod(fd, posixPermissions(this.stat.mode));
        await fsio.futimes(fd, seconds(this.stat.modTime));
      } catch (err) {
        throw new FileSyncIOError("cannot set metadata of", this.hostPath, err);
      }
    } finally {
      await this.close();
    }
  }

  /** Waits for pending writes and closes the file without finishing it. */
  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await fsio.close(fd).catch(() => undefined);
  }
}

/**
 * Creates received entries inside a directory the receiver owns. Directories
 * stay owner-writable until finish() so their children can be created, and get
 * their real mode and mtime bottom-up at the end.
 */
export class TreeWriter {
  private readonly hardlinks: Placed[] = [];
  private readonly dirs: Placed[] = [];

  /** Regular files linked from an earlier export instead of transferred. */
  reused = 0;

  constructor(
    private readonly root: string,
    private readonly owner: Ownership | undefined,
    private readonly unchanged?: UnchangedFiles,
  ) {}

  /** Host path of a validated wire path. */
  hostPath(stat: Stat): string {
    return path.join(this.root, stat.path);
  }

  /**
   * Creates what can be created from the stat alone. Regular files are left to
   * the caller ("content" to request, "empty" to create with openFile).
   * Devices, pipes and sockets need privileges to create and are skipped.
   */
  async place(stat: Stat): Promise<"content" | "empty" | "done"> {
    const hostPath = this.hostPath(stat);
    try {
      if (isDirMode(stat.mode)) {
        await fsp.mkdir(hostPath, 0o700);
        this.dirs.push({ stat, hostPath });
      } else if (isSymlinkMode(stat.mode)) {
        await fsp.symlink(stat.linkname, hostPath);
        if (this.owner) await fsp.lchown(hostPath, this.owner.uid, this.owner.gid);
        const t = seconds(stat.modTime);
        await fsp.lutimes(hostPath, t, t);
      } else if (isRegularMode(stat.mode)) {
        if (stat.linkname === "") {
          if (stat.size > 0n && (await this.linkUnchanged(stat, hostPath))) return "done";
          return stat.size > 0n ? "content" : "empty";
        }
        this.hardlinks.push({ stat, hostPath });
      }
    } catch (err) {
      if (err instanceof FileSyncIOError) throw err;
      throw new FileSyncIOError("cannot create", hostPath, err);
    }
    return "done";
  }

  // A link shares the earlier file's inode, whose mode and mtime already match.
  private async linkUnchanged(stat: Stat, hostPath: string): Promise<boolean> {
    const earlier = await this.unchanged?.find(stat);
    if (!earlier) return false;
    try {
      await fsp.link(earlier, hostPath);
    } catch {
      return false; // e.g. another file system: transfer it instead
    }
    if (this.owner) await fsp.lchown(hostPath, this.owner.uid, this.owner.gid);
    this.reused++;
    return true;
  }

  /** Starts receiving the content of a regular file placed earlier. */
  openFile(stat: Stat): IncomingFile {
    return new IncomingFile(stat, this.hostPath(stat), this.owner);
  }

  /**
   * Links hard links to their (complete) targets, then applies directory
   * metadata children first. Top-level directories are left writable: renaming
   * a read-only directory into another directory is refused to its owner.
   */
  async finish(): Promise<void> {
    for (const link of this.hardlinks) {
      try {
        await fsp.link(path.join(this.root, link.stat.linkname), link.hostPath);
        if (this.owner) await fsp.lchown(link.hostPath, this.owner.uid, this.owner.gid);
        await fsp.chmod(link.hostPath, posixPermissions(link.stat.mode));
        const t = seconds(link.stat.modTime);
        await fsp.utimes(link.hostPath, t, t);
      } catch (err) {
        throw new FileSyncIOError("cannot create hard link", link.hostPath, err);
      }
    }
    for (let i = this.dirs.length - 1; i >= 0; i--) {
      const dir = this.dirs[i]!;
      if (this.owner) {
        await fsp.lchown(dir.hostPath, this.owner.uid, this.owner.gid).catch((err: unknown) => {
          throw new FileSyncIOError("cannot set owner of", dir.hostPath, err);
        });
      }
      if (dir.stat.path.includes("/")) await setDirMetadata(dir.hostPath, dir.stat);
    }
  }

  /** Applies mode and mtime of the top-level directories once they were moved under `dest`. */
  async finishTopLevel(dest: string): Promise<void> {
    for (const dir of this.dirs) {
      if (!dir.stat.path.includes("/")) await setDirMetadata(path.join(dest, dir.stat.path), dir.stat);
    }
  }
}
