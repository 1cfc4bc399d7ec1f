import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import type { Duplex } from "node:stream";
import { decodeBytesMessage } from "../client/bytes-message.ts";
import { resolveDestination } from "./destination.ts";
import { FileSyncIOError, FileSyncPathError, TransferAbortedError } from "./errors.ts";
import { withExportLock } from "./export-lock.ts";
import { besideName, lockDirOf, removeLeftovers, stagingMarker, type StagingOptions } from "./staging.ts";

/** Where receiveFile writes. */
export interface ReceiveFileOptions extends StagingOptions {
  /** The host file the stream becomes; replaced whole, never written in place. */
  dest: string;
}

/**
 * Receives a single-file export (the `oci`, `docker` and `tar` exporters: FileSend.DiffCopy
 * with `BytesMessage` chunks, ended by the daemon's half-close) into `dest`. The bytes go
 * into a temporary file beside `dest`, which is renamed onto it only once complete,
 * under the project's export lock and after the same symlink checks as a directory
 * export; on failure or abort the temporary file is removed and `dest` left as it was.
 * Resolves with the bytes written. The stream is not ended; the caller finishes the call.
 */
export async function receiveFile(stream: Duplex, options: ReceiveFileOptions): Promise<number> {
  if (options.signal?.aborted) throw new TransferAbortedError(options.signal.reason);
  const dest = path.resolve(options.dest);
  const lockDir = await lockDirOf(dest, options);
  const temp = await withExportLock(lockDir, async () => {
    const real = await checkedTarget(dest, options);
    const parent = path.dirname(real);
    try {
      await fsp.mkdir(parent, { recursive: true });
      await removeLeftovers(parent);
    } catch (err) {
      throw new FileSyncPathError("cannot prepare the export destination", dest, { cause: err });
    }
    return path.join(parent, besideName(path.basename(real), `${stagingMarker}${process.pid}-${randomBytes(4).toString("hex")}`));
  }, options);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(temp, "wx", 0o644).catch((err: unknown) => {
      throw new FileSyncIOError("cannot create the archive beside", dest, err);
    });
    const bytes = await copyMessages(stream, handle, dest, options.signal);
    await handle.close();
    handle = undefined;
    await withExportLock(lockDir, async () => {
      // Resolved again: an export that finished meanwhile may have put a symlink in the way.
      const real = await checkedTarget(dest, options);
      await fsp.rename(temp, real).catch((err: unknown) => {
        throw new FileSyncIOError("cannot move the archive into", dest, err);
      });
    }, options);
    return bytes;
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** The real path of `dest`, refused when it goes out of the project or names a directory. */
async function checkedTarget(dest: string, options: ReceiveFileOptions): Promise<string> {
  const real = await resolveDestination(dest, options.within);
  const stat = await fsp.lstat(real).catch(() => undefined);
  if (stat?.isDirectory()) {
    throw new FileSyncPathError("the archive's destination is a directory", dest, { hint: "name a file for the archive, e.g. tarball: \"dist/app.tar\"" });
  }
  return real;
}

/** Writes the data of every BytesMessage of `stream` into `file` until the daemon half-closes. */
async function copyMessages(stream: Duplex, file: fsp.FileHandle, dest: string, signal: AbortSignal | undefined): Promise<number> {
  let bytes = 0;
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(new TransferAbortedError(signal?.reason));
    if (signal?.aborted) fail();
    signal?.addEventListener("abort", fail, { once: true });
  });
  aborted.catch(() => undefined);
  const failed = new Promise<never>((_, reject) => stream.once("error", reject));
  failed.catch(() => undefined);
  const copy = (async () => {
    // Not destroyed at the end: the caller still ends the call with its status, which the daemon waits for.
    for await (const message of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      const data = decodeBytesMessage(message);
      if (data.length === 0) continue;
      try {
        await file.write(data);
      } catch (err) {
        throw new FileSyncIOError("cannot write the archive beside", dest, err);
      }
      bytes += data.length;
    }
    return bytes;
  })();
  copy.catch(() => undefined);
  return Promise.race([copy, aborted, failed]);
}
