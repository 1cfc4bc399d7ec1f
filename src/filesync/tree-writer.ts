import fs, { constants as fsc, promises as fsp } from "node:fs";
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
 * A regular file being filled from DATA packets. Creating it goes to the thread pool,
 * ahead of its content and in parallel with other files: on a journaling file system
 * a create can take most of a millisecond. Everything after is synchronous: chunks
 * land in the page cache in microseconds, far less than a thread-pool round trip each.
 */
export class IncomingFile {
  /** Bytes written so far. */
  bytes = 0;
  private fd: number | undefined;
  private creating: Promise<void> | undefined;
  private createStarted = false;
  private createError: unknown;
  private closed = false;

  constructor(
    private readonly stat: Stat,
    private readonly hostPath: string,
    private readonly owner: Ownership | undefined,
  ) {}

  /** True once create() was called. */
  get started(): boolean {
    return this.createStarted;
  }

  /** Starts creating the file (once); `created()` tells when it is done. */
  create(): void {
    if (this.createStarted) return;
    this.createStarted = true;
    this.creating = fsio.open(this.hostPath, CREATE_FLAGS, 0o600).then(
      (fd) => {
        // Abandoned meanwhile: nobody will close it otherwise.
        if (this.closed) fs.closeSync(fd);
        else this.fd = fd;
        this.creating = undefined;
      },
      (err: unknown) => {
        this.createError = new FileSyncIOError("cannot create", this.hostPath, err);
        this.creating = undefined;
      },
    );
  }

  /** After create(): a promise while the file is still being created, else undefined (write() may be called). */
  created(): Promise<void> | undefined {
    return this.creating;
  }

  private open(): number {
    if (this.createError !== undefined) throw this.createError;
    if (this.fd === undefined) throw new FileSyncIOError("cannot write", this.hostPath, new Error("the file was not created"));
    return this.fd;
  }

  /** Appends a chunk. */
  write(data: Uint8Array): void {
    const fd = this.open();
    try {
      for (let offset = 0; offset < data.length; ) offset += fs.writeSync(fd, data, offset, data.length - offset);
    } catch (err) {
      throw new FileSyncIOError("cannot write", this.hostPath, err);
    }
    this.bytes += data.length;
  }

  /** Applies owner, mode and mtime and closes the file. */
  finish(): void {
    const fd = this.open();
    try {
      // After the content: writing would clear setuid/setgid bits again.
      if (this.owner) fs.fchownSync(fd, this.owner.uid, this.owner.gid);
      fs.fchmodSync(fd, posixPermissions(this.stat.mode));
      const t = seconds(this.stat.modTime);
      fs.futimesSync(fd, t, t);
    } catch (err) {
      throw new FileSyncIOError("cannot set metadata of", this.hostPath, err);
    } finally {
      this.close();
    }
  }

  /** Closes the file without finishing it. */
  close(): void {
    this.closed = true;
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) return;
    try {
      fs.closeSync(fd);
    } catch {
      // Closing after a failed write: the write's error is the one reported.
    }
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
      // Synchronous, like file content: see IncomingFile.
      if (isDirMode(stat.mode)) {
        fs.mkdirSync(hostPath, 0o700);
        this.dirs.push({ stat, hostPath });
      } else if (isSymlinkMode(stat.mode)) {
        fs.symlinkSync(stat.linkname, hostPath);
        if (this.owner) fs.lchownSync(hostPath, this.owner.uid, this.owner.gid);
        const t = seconds(stat.modTime);
        fs.lutimesSync(hostPath, t, t);
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
