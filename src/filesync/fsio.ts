// Promise wrappers over node:fs's callback API working on plain descriptors.
// For the many tiny operations of a tree transfer they cost a fraction of
// fs/promises' FileHandle machinery, which measurably dominated transfers of
// many small files.
import fs from "node:fs";

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

function call<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

function callVoid(start: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => start((err) => (err ? reject(err) : resolve())));
}

/** open(2); returns the descriptor. */
export function open(p: string, flags: number, mode = 0o666): Promise<number> {
  return call((cb) => fs.open(p, flags, mode, cb));
}

/** close(2). */
export function close(fd: number): Promise<void> {
  return callVoid((cb) => fs.close(fd, cb));
}

/** read(2) at the current position into `buf[offset, offset+length)`; returns bytes read. */
export function read(fd: number, buf: Buffer, offset: number, length: number): Promise<number> {
  return call((cb) => fs.read(fd, buf, offset, length, null, cb as Callback<number>));
}

/** mkdir(2) with `mode` (before the umask). */
export function mkdir(p: string, mode: number): Promise<void> {
  return callVoid((cb) => fs.mkdir(p, { mode }, cb));
}

/** symlink(2): a link at `p` whose target is `target`. */
export function symlink(target: string, p: string): Promise<void> {
  return callVoid((cb) => fs.symlink(target, p, cb));
}
