// Promise wrappers over node:fs's callback API working on plain descriptors.
// For the many tiny operations of a tree transfer they cost a fraction of
// fs/promises' FileHandle machinery, which measurably dominated transfers of
// many small files.
import fs from "node:fs";
import type { BigIntStats, Dirent } from "node:fs";

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

function call<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

function callVoid(start: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => start((err) => (err ? reject(err) : resolve())));
}

/** lstat with nanosecond times and 64-bit sizes. */
export function lstat(p: string): Promise<BigIntStats> {
  return call((cb) => fs.lstat(p, { bigint: true }, cb as Callback<fs.BigIntStats>));
}

/** readdir with entry types. */
export function readdir(p: string): Promise<Dirent[]> {
  return call((cb) => fs.readdir(p, { withFileTypes: true }, cb));
}

/** readlink as a UTF-8 string. */
export function readlink(p: string): Promise<string> {
  return call((cb) => fs.readlink(p, cb));
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

/** Writes all of `data` at the current position. */
export async function writeAll(fd: number, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    offset += await call<number>((cb) => fs.write(fd, data, offset, data.length - offset, null, cb as Callback<number>));
  }
}

/** fchmod(2). */
export function fchmod(fd: number, mode: number): Promise<void> {
  return callVoid((cb) => fs.fchmod(fd, mode, cb));
}

/** fchown(2). */
export function fchown(fd: number, uid: number, gid: number): Promise<void> {
  return callVoid((cb) => fs.fchown(fd, uid, gid, cb));
}

/** futimens(2) with atime = mtime = `seconds`. */
export function futimes(fd: number, seconds: number): Promise<void> {
  return callVoid((cb) => fs.futimes(fd, seconds, seconds, cb));
}
