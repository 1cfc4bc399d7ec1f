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

interface PlacedDir extends Placed {
  /** Created with a mode the umask or its need to be filled changed: chmod it at the end. */
  chmod: boolean;
}

// O_EXCL and O_NOFOLLOW: never write through anything that was already there.
const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

function seconds(ns: bigint): number {
  // utimes takes seconds as a double: exact to well under a microsecond for today's dates.
  return Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
}

/**
 * The process's umask, which modes given to open(2) and mkdir(2) pass through. Read from
 * /proc where it can be: process.umask() without an argument sets it to 0 and back, a
 * moment in which another thread could create a file.
 */
export function currentUmask(): number {
  try {
    const match = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync("/proc/self/status", "latin1"));
    if (match) return parseInt(match[1]!, 8);
  } catch {
    // Not Linux: asked of the process below.
  }
  return process.umask();
}

/**
 * The mode to create an entry with when creating it that way already gives it its final
 * permissions (no setuid/setgid/sticky bit, nothing `umask` removes, and for a directory,
 * room for its owner to fill it), so that no chmod is needed; undefined otherwise.
 */
export function finalCreateMode(perm: number, isDir: boolean, umask: number): number | undefined {
  if (perm & ~0o777) return undefined;
  if (perm & umask) return undefined;
  if (isDir && (perm & 0o700) !== 0o700) return undefined;
  return perm;
}

function setDirMetadata(hostPath: string, stat: Stat, chmod: boolean): void {
  try {
    if (chmod) fs.chmodSync(hostPath, posixPermissions(stat.mode));
    const t = seconds(stat.modTime);
    fs.utimesSync(hostPath, t, t);
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
  // The final permissions when open(2) can give them; else the file is chmodded when finished.
  private readonly createMode: number | undefined;

  constructor(
    private readonly stat: Stat,
    private readonly hostPath: string,
    private readonly owner: Ownership | undefined,
    // The creation of the directory it goes in, while that is still under way.
    private readonly parentCreated: Promise<void> | undefined,
    umask: number,
  ) {
    this.createMode = finalCreateMode(posixPermissions(stat.mode), false, umask);
  }

  /** True once create() was called. */
  get started(): boolean {
    return this.createStarted;
  }

  /** Starts creating the file (once); `created()` tells when it is done. */
  create(): void {
    if (this.createStarted) return;
    this.createStarted = true;
    const open = () => fsio.open(this.hostPath, CREATE_FLAGS, this.createMode ?? 0o600);
    this.creating = (this.parentCreated ? this.parentCreated.then(open) : open()).then(
      (fd) => {
        // Abandoned meanwhile: nobody will close it otherwise.
        if (this.closed) fs.closeSync(fd);
        else this.fd = fd;
        this.creating = undefined;
      },
      (err: unknown) => {
        this.createError = err instanceof FileSyncIOError ? err : new FileSyncIOError("cannot create", this.hostPath, err);
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
      // A chown clears setuid/setgid too; without either, open(2) gave the final mode already.
      if (this.createMode === undefined) fs.fchmodSync(fd, posixPermissions(this.stat.mode));
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
 * their real mode and mtime bottom-up at the end. Directories and symlinks are
 * created on the thread pool, each entry once the directory it goes in exists: a
 * create can take most of a millisecond on a busy journaling file system, and the
 * receiver goes on reading packets meanwhile.
 */
export class TreeWriter {
  private readonly hardlinks: Placed[] = [];
  private readonly dirs: PlacedDir[] = [];
  // Directories still being created, by wire path; removed once they exist.
  private readonly dirsCreating = new Map<string, Promise<void>>();
  // Every directory and symlink creation started, settled or not.
  private readonly creations: Array<Promise<void>> = [];
  private failure: FileSyncIOError | undefined;
  // Read once per tree: it decides which entries can be created with their final mode.
  private readonly umask = currentUmask();

  /** Regular files linked from an earlier export instead of transferred. */
  reused = 0;

  /** Told of the first directory or symlink that could not be created. */
  onFailure: ((err: FileSyncIOError) => void) | undefined;

  constructor(
    private readonly root: string,
    private readonly owner: Ownership | undefined,
    private readonly unchanged?: UnchangedFiles,
  ) {}

  /** Host path of a validated wire path. */
  hostPath(stat: Stat): string {
    return path.join(this.root, stat.path);
  }

  // The creation of the directory `stat` goes in, while that is still under way.
  private parentCreated(stat: Stat): Promise<void> | undefined {
    const slash = stat.path.lastIndexOf("/");
    return slash < 0 ? undefined : this.dirsCreating.get(stat.path.slice(0, slash));
  }

  // Runs `create` once the parent of `stat` exists; a directory is registered for its children.
  private createAfterParent(stat: Stat, hostPath: string, create: () => Promise<void>): void {
    const parent = this.parentCreated(stat);
    const isDir = isDirMode(stat.mode);
    const created = (parent ? parent.then(create) : create()).then(
      () => {
        if (isDir) this.dirsCreating.delete(stat.path);
      },
      (err: unknown) => {
        const error = err instanceof FileSyncIOError ? err : new FileSyncIOError("cannot create", hostPath, err);
        if (!this.failure) {
          this.failure = error;
          this.onFailure?.(error);
        }
        throw error;
      },
    );
    created.catch(() => undefined);
    if (isDir) this.dirsCreating.set(stat.path, created);
    this.creations.push(created);
  }

  /**
   * Creates what can be created from the stat alone. Regular files are left to
   * the caller ("content" to request, "empty" to create with openFile).
   * Devices, pipes and sockets need privileges to create and are skipped.
   */
  async place(stat: Stat): Promise<"content" | "empty" | "done"> {
    if (this.failure) throw this.failure;
    const hostPath = this.hostPath(stat);
    if (isDirMode(stat.mode)) {
      const mode = finalCreateMode(posixPermissions(stat.mode), true, this.umask);
      this.createAfterParent(stat, hostPath, () => fsio.mkdir(hostPath, mode ?? 0o700));
      this.dirs.push({ stat, hostPath, chmod: mode === undefined });
    } else if (isSymlinkMode(stat.mode)) {
      this.createAfterParent(stat, hostPath, async () => {
        await fsio.symlink(stat.linkname, hostPath);
        if (this.owner) fs.lchownSync(hostPath, this.owner.uid, this.owner.gid);
        const t = seconds(stat.modTime);
        fs.lutimesSync(hostPath, t, t);
      });
    } else if (isRegularMode(stat.mode)) {
      if (stat.linkname === "") {
        if (stat.size > 0n && this.unchanged) {
          await this.parentCreated(stat);
          if (await this.linkUnchanged(stat, hostPath)) return "done";
        }
        return stat.size > 0n ? "content" : "empty";
      }
      this.hardlinks.push({ stat, hostPath });
    }
    return "done";
  }

  /** Resolves once no directory or symlink is being created any more, whether or not they all were. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.creations);
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
    if (this.owner) {
      await fsp.lchown(hostPath, this.owner.uid, this.owner.gid).catch((err: unknown) => {
        throw new FileSyncIOError("cannot set owner of", hostPath, err);
      });
    }
    this.reused++;
    return true;
  }

  /** Starts receiving the content of a regular file placed earlier. */
  openFile(stat: Stat): IncomingFile {
    return new IncomingFile(stat, this.hostPath(stat), this.owner, this.parentCreated(stat), this.umask);
  }

  /**
   * Links hard links to their (complete) targets, then applies directory
   * metadata children first. Top-level directories are left writable: renaming
   * a read-only directory into another directory is refused to its owner.
   */
  async finish(): Promise<void> {
    await Promise.all(this.creations);
    // Synchronous: nothing else is left to do, and each call is far cheaper than a round
    // trip through the thread pool.
    for (const link of this.hardlinks) {
      try {
        fs.linkSync(path.join(this.root, link.stat.linkname), link.hostPath);
        if (this.owner) fs.lchownSync(link.hostPath, this.owner.uid, this.owner.gid);
        fs.chmodSync(link.hostPath, posixPermissions(link.stat.mode));
        const t = seconds(link.stat.modTime);
        fs.utimesSync(link.hostPath, t, t);
      } catch (err) {
        throw new FileSyncIOError("cannot create hard link", link.hostPath, err);
      }
    }
    for (let i = this.dirs.length - 1; i >= 0; i--) {
      const dir = this.dirs[i]!;
      if (this.owner) {
        try {
          fs.lchownSync(dir.hostPath, this.owner.uid, this.owner.gid);
        } catch (err) {
          throw new FileSyncIOError("cannot set owner of", dir.hostPath, err);
        }
      }
      if (dir.stat.path.includes("/")) setDirMetadata(dir.hostPath, dir.stat, dir.chmod);
    }
  }

  /** Applies mode and mtime of the top-level directories once they were moved under `dest`. */
  async finishTopLevel(dest: string): Promise<void> {
    for (const dir of this.dirs) {
      if (!dir.stat.path.includes("/")) setDirMetadata(path.join(dest, dir.stat.path), dir.stat, dir.chmod);
    }
  }
}
