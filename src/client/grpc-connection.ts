import http2 from "node:http2";
import { decodeGrpcMessage, framePrefix, GrpcStatus, maxMessageBytes, MessageReader, statusName, type GrpcStatusCode } from "../grpc/wire.ts";
import type { DaemonAddress } from "./address.ts";

/** A call that ended with a status other than OK: from the daemon, or from the connection. */
export class GrpcCallError extends Error {
  constructor(
    /** The gRPC status code. */
    readonly code: number,
    /** The status message. */
    readonly details: string,
    /** The method's full path. */
    readonly method: string,
  ) {
    super(`${statusName(code)}: ${details}`);
    this.name = "GrpcCallError";
  }
}

/** Options of one call. */
export interface CallOptions {
  /** Request metadata: header names in lower case; a list gives the header several times. */
  metadata?: Readonly<Record<string, string | readonly string[]>>;
  /** Ends the call with DEADLINE_EXCEEDED after this many milliseconds. */
  timeoutMs?: number;
  /** Ends the call with CANCELLED. */
  signal?: AbortSignal;
}

// Receive windows: Status streams and exports arrive in bursts, and HTTP/2's default of
// 64 KiB would stall them on every round trip.
const streamWindowBytes = 2 * 1024 * 1024;
const connectionWindowBytes = 4 * 1024 * 1024;

// HTTP status of a response that is not gRPC, as gRPC maps it (doc/http-grpc-status-mapping.md).
const httpStatusCodes: Record<number, GrpcStatusCode> = {
  400: GrpcStatus.INTERNAL,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.UNIMPLEMENTED,
  429: GrpcStatus.UNAVAILABLE,
  502: GrpcStatus.UNAVAILABLE,
  503: GrpcStatus.UNAVAILABLE,
  504: GrpcStatus.UNAVAILABLE,
};

// How gRPC reads an HTTP/2 stream reset (doc/PROTOCOL-HTTP2.md).
function resetStatus(rstCode: number | undefined): GrpcStatusCode {
  if (rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return GrpcStatus.UNAVAILABLE;
  if (rstCode === http2.constants.NGHTTP2_CANCEL) return GrpcStatus.CANCELLED;
  if (rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM) return GrpcStatus.RESOURCE_EXHAUSTED;
  return GrpcStatus.INTERNAL;
}

/**
 * One call's HTTP/2 stream. The request goes out through `stream`; the response's
 * bytes come in on it (read them with a MessageReader, or as raw bytes); `done` settles
 * with the call's status once the stream closed.
 */
export class GrpcCall {
  /** Resolves when the call ended with OK; rejects with a GrpcCallError otherwise. */
  readonly done: Promise<void>;
  private status: { code: number; details: string } | undefined;
  private failure: { code: number; details: string } | undefined;

  constructor(
    readonly stream: http2.ClientHttp2Stream,
    readonly method: string,
    connected: () => boolean,
    options: CallOptions,
  ) {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => this.cancel(GrpcStatus.CANCELLED, "cancelled by the client");
    if (options.timeoutMs !== undefined) timer = setTimeout(() => this.cancel(GrpcStatus.DEADLINE_EXCEEDED, "deadline exceeded"), options.timeoutMs);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.done = new Promise<void>((resolve, reject) => {
      stream.on("response", (headers) => {
        const httpStatus = Number(headers[":status"]);
        if (httpStatus !== 200) this.fail(httpStatusCodes[httpStatus] ?? GrpcStatus.UNKNOWN, `received HTTP status code ${httpStatus}`);
        // A response without messages may carry its status in the headers.
        else if (headers["grpc-status"] !== undefined) this.readStatus(headers);
      });
      stream.on("trailers", (trailers) => this.readStatus(trailers));
      stream.on("error", (err: NodeJS.ErrnoException & { cause?: Error }) => {
        const cause = err.cause ?? err;
        if (err.code === "ERR_HTTP2_STREAM_ERROR") this.fail(resetStatus(stream.rstCode), cause.message);
        // A stream that ends with the connection never established, or lost, is unavailable.
        else this.fail(GrpcStatus.UNAVAILABLE, connected() ? cause.message : `connection failed: ${cause.message}`);
      });
      stream.on("close", () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        // A status the daemon sent wins over what went wrong after it.
        const end = this.status ?? this.failure ?? { code: GrpcStatus.UNAVAILABLE, details: "the daemon closed the stream without a status" };
        if (end.code === GrpcStatus.OK) resolve();
        else reject(new GrpcCallError(end.code, end.details, method));
      });
    });
    // Nobody may be waiting for the status yet (a call whose messages are read first).
    this.done.catch(() => undefined);
    if (options.signal?.aborted) onAbort();
  }

  /** Ends the call from this side with `code` (CANCELLED by default), resetting the stream. */
  cancel(code: GrpcStatusCode = GrpcStatus.CANCELLED, details = "cancelled by the client"): void {
    this.fail(code, details);
    if (!this.stream.closed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private fail(code: number, details: string): void {
    this.failure ??= { code, details };
  }

  private readStatus(headers: http2.IncomingHttpHeaders): void {
    const code = Number(headers["grpc-status"]);
    const message = headers["grpc-message"];
    this.status = { code: Number.isInteger(code) ? code : GrpcStatus.UNKNOWN, details: typeof message === "string" ? decodeGrpcMessage(message) : "" };
  }
}

/**
 * A gRPC client connection to the daemon over Node's HTTP/2, with the calls brewkit
 * makes: unary, server streaming, and raw streams (the session tunnel). Connects on
 * the first call, and again on a later one if the connection was lost. An idle
 * connection does not keep the process alive.
 */
export class GrpcConnection {
  private session: http2.ClientHttp2Session | undefined;
  private connected = false;
  private active = 0;
  private closed = false;

  constructor(readonly address: DaemonAddress) {}

  /** Starts a call; its request bytes go out through the returned call's stream. */
  startCall(method: string, options: CallOptions = {}): GrpcCall {
    const session = this.currentSession();
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": method,
      "content-type": "application/grpc",
      te: "trailers",
      ...options.metadata,
    };
    if (options.timeoutMs !== undefined) headers["grpc-timeout"] = `${Math.max(1, Math.ceil(options.timeoutMs))}m`;
    if (this.active++ === 0) session.ref();
    const stream = session.request(headers);
    const call = new GrpcCall(stream, method, () => this.connected, options);
    stream.once("close", () => {
      if (--this.active === 0 && !session.destroyed) session.unref();
    });
    return call;
  }

  /** One request, one response. */
  async unary(method: string, request: Uint8Array, options: CallOptions = {}): Promise<Buffer> {
    const call = this.startCall(method, options);
    const messages: Buffer[] = [];
    readMessages(call, (m) => messages.push(m));
    writeMessage(call.stream, request);
    call.stream.end();
    await call.done;
    if (messages.length !== 1) throw new GrpcCallError(GrpcStatus.INTERNAL, `expected one response message, got ${messages.length}`, method);
    return messages[0]!;
  }

  /** One request, then the stream of response messages; ends when the call ended with OK, throws otherwise. */
  async *serverStream(method: string, request: Uint8Array, options: CallOptions = {}): AsyncGenerator<Buffer> {
    const call = this.startCall(method, options);
    const queue: Buffer[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    readMessages(call, (m) => {
      queue.push(m);
      // Read no further ahead of the consumer than this.
      if (queue.length >= 64) call.stream.pause();
      wake?.();
    });
    call.done.then(
      () => ((ended = true), wake?.()),
      () => ((ended = true), wake?.()),
    );
    writeMessage(call.stream, request);
    call.stream.end();
    try {
      for (;;) {
        if (queue.length > 0) {
          const next = queue.shift()!;
          if (queue.length < 16) call.stream.resume();
          yield next;
          continue;
        }
        if (ended) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      await call.done;
    } finally {
      // The consumer stopped early (or the call failed): nothing more is wanted.
      if (!ended) call.cancel();
    }
  }

  /** Closes the connection; calls in flight end with CANCELLED or UNAVAILABLE. */
  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }

  private currentSession(): http2.ClientHttp2Session {
    if (this.closed) throw new GrpcCallError(GrpcStatus.UNAVAILABLE, "the connection to the daemon was closed", "");
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    this.connected = false;
    const session = http2.connect(this.address.authority, {
      ...this.address.connectOptions,
      settings: { enablePush: false, initialWindowSize: streamWindowBytes },
      maxSessionMemory: 64,
    });
    session.on("connect", () => {
      this.connected = true;
      // The connection may have been closed meanwhile (a run that stopped at a config error).
      if (!session.destroyed) session.setLocalWindowSize(connectionWindowBytes);
    });
    // Reported to the calls through their streams.
    session.on("error", () => undefined);
    session.on("close", () => {
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    this.session = session;
    return session;
  }
}

/** Passes each gRPC message of the call's response to `onMessage`; a framing error fails the call. */
export function readMessages(call: GrpcCall, onMessage: (message: Buffer) => void): void {
  const reader = new MessageReader();
  call.stream.on("data", (chunk: Buffer) => {
    const error = reader.push(chunk, onMessage);
    if (error) call.cancel(error.code, error.details);
  });
}

/** Writes one message with its gRPC prefix; false when the stream asks to wait for 'drain'. */
export function writeMessage(stream: http2.ClientHttp2Stream, message: Uint8Array): boolean {
  if (message.length > maxMessageBytes) throw new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, `request of ${message.length} bytes exceeds the daemon's limit of ${maxMessageBytes}`, "");
  // An empty write can leave the response unread on a TLS connection (Node 20's http2):
  // an empty message is its prefix alone.
  if (message.length === 0) return stream.write(framePrefix(0));
  stream.cork();
  stream.write(framePrefix(message.length));
  const ok = stream.write(message);
  stream.uncork();
  return ok;
}
