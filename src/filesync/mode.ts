// The wire carries Go os.FileMode bits, not POSIX st_mode: type bits live in the
// top of the word and setuid/setgid/sticky have their own positions.

/** Go os.FileMode bits as unsigned 32-bit numbers. */
export const FileMode = {
  Dir: 0x80000000,
  Append: 0x40000000,
  Exclusive: 0x20000000,
  Temporary: 0x10000000,
  Symlink: 0x08000000,
  Device: 0x04000000,
  NamedPipe: 0x02000000,
  Socket: 0x01000000,
  Setuid: 0x00800000,
  Setgid: 0x00400000,
  CharDevice: 0x00200000,
  Sticky: 0x00100000,
  Irregular: 0x00080000,
  /** Every type bit: a mode with none of them is a regular file. */
  Type: 0x8f280000,
  /** Permission bits. */
  Perm: 0o777,
} as const;

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;

/** Go's conversion of a POSIX `st_mode` into os.FileMode (os/stat_linux.go). */
export function fileModeFromPosix(stMode: number): number {
  let mode = stMode & 0o777;
  switch (stMode & S_IFMT) {
    case S_IFBLK:
      mode |= FileMode.Device;
      break;
    case S_IFCHR:
      mode |= FileMode.Device | FileMode.CharDevice;
      break;
    case S_IFDIR:
      mode |= FileMode.Dir;
      break;
    case S_IFIFO:
      mode |= FileMode.NamedPipe;
      break;
    case S_IFLNK:
      mode |= FileMode.Symlink;
      break;
    case S_IFSOCK:
      mode |= FileMode.Socket;
      break;
  }
  if (stMode & S_ISUID) mode |= FileMode.Setuid;
  if (stMode & S_ISGID) mode |= FileMode.Setgid;
  if (stMode & S_ISVTX) mode |= FileMode.Sticky;
  return mode >>> 0;
}

/** The POSIX `st_mode` (type and permission bits, incl. setuid/setgid/sticky) of an os.FileMode. */
export function posixFromFileMode(mode: number): number {
  let st = posixPermissions(mode);
  if (mode & FileMode.Dir) st |= S_IFDIR;
  else if (mode & FileMode.Symlink) st |= S_IFLNK;
  else if (mode & FileMode.Device) st |= mode & FileMode.CharDevice ? S_IFCHR : S_IFBLK;
  else if (mode & FileMode.NamedPipe) st |= S_IFIFO;
  else if (mode & FileMode.Socket) st |= S_IFSOCK;
  else st |= S_IFREG;
  return st;
}

/** The chmod(2) argument for an os.FileMode: rwx bits plus setuid, setgid and sticky. */
export function posixPermissions(mode: number): number {
  let perm = mode & 0o777;
  if (mode & FileMode.Setuid) perm |= S_ISUID;
  if (mode & FileMode.Setgid) perm |= S_ISGID;
  if (mode & FileMode.Sticky) perm |= S_ISVTX;
  return perm;
}

/** Whether an os.FileMode describes a regular file (fsutil's fileCanRequestData). */
export function isRegularMode(mode: number): boolean {
  return (mode & FileMode.Type) === 0;
}

/** Whether an os.FileMode describes a directory. */
export function isDirMode(mode: number): boolean {
  return (mode & FileMode.Dir) !== 0;
}

/** Whether an os.FileMode describes a symbolic link. */
export function isSymlinkMode(mode: number): boolean {
  return (mode & FileMode.Symlink) !== 0;
}
