import { BrewkitError, ProtocolError, UserInputError } from "../errors.ts";

/** The peer broke the fsutil packet protocol (bad packet, wrong order, unknown id). */
export class FileSyncProtocolError extends ProtocolError {
  /** The wire path involved, when there is one. */
  readonly path: string | undefined;

  constructor(message: string, options: { path?: string; cause?: unknown } = {}) {
    super("FILESYNC_PROTOCOL", message, { cause: options.cause });
    this.path = options.path;
  }
}

/** A received entry would land outside the destination (absolute, `..`, through a symlink). */
export class UnsafePathError extends ProtocolError {
  /** The offending wire path. */
  readonly path: string;

  constructor(path: string, reason: string) {
    super("FILESYNC_UNSAFE_PATH", `refusing ${JSON.stringify(path)}: ${reason}`, {
      hint: "The export stream tried to write outside its destination; nothing was written.",
    });
    this.path = path;
  }
}

/** The other side reported a failure with a PACKET_ERR. */
export class PeerError extends ProtocolError {
  constructor(side: "sender" | "receiver", message: string) {
    super("FILESYNC_PEER", `error from ${side}: ${message}`);
  }
}

/** A local file-system operation failed while sending or receiving. */
export class FileSyncIOError extends BrewkitError {
  /** Host path the operation was about. */
  readonly path: string;

  constructor(message: string, path: string, cause: unknown) {
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    super("FILESYNC_IO", `${message} ${path}${detail}`, { cause });
    this.path = path;
  }
}

/** A directory to send or an export destination is not usable. */
export class FileSyncPathError extends UserInputError {
  /** The host path given by the caller. */
  readonly path: string;

  constructor(message: string, path: string, options: { hint?: string; cause?: unknown } = {}) {
    super("FILESYNC_PATH", `${message}: ${path}`, options);
    this.path = path;
  }
}

/** The transfer was cancelled through its AbortSignal. */
export class TransferAbortedError extends BrewkitError {
  constructor(reason: unknown) {
    const detail = reason instanceof Error ? `: ${reason.message}` : "";
    super("FILESYNC_ABORTED", `file transfer aborted${detail}`, { cause: reason });
  }
}
