import http2 from "node:http2";
import { decodeBinaryHeader, decodeGrpcMessage, framePrefix, grpcTimeout, GrpcStatus, isGrpcContentType, maxMessageBytes, MessageReader, statusName, type GrpcStatusCode } from "../grpc/wire.ts";
import type { DaemonAddress } from "./address.ts";
import { keepaliveFor, keepConnectionAlive, type KeepaliveOptions } from "./keepalive.ts";

/** A call that ended with a status other than OK: from the daemon, or from the connection. */
export class GrpcCallError extends Error {
  constructor(
    /** The gRPC status code. */
    readonly code: number,
    /** The status message. */
    readonly details: string,
    /** The method's full path. */
    readonly method: string,
    /** The daemon's `grpc-status-details-bin` (an encoded google.rpc.Status), if it sent one. */
    readonly statusDetails?: Buffer,
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

// Node's timers take at most 2^31-1 ms; a later deadline is reached in several steps.
const maxTimerMs = 2 ** 31 - 1;

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

/** How a connection stands, for the errors of its calls. */
export interface ConnectionState {
  /** True once the connection is established (TLS handshake done, HTTP/2 settings exchanged). */
  connected(): boolean;
  /** What it is still waiting for, e.g. "no TLS handshake with host:port". */
  pending(): string;
}

/**
 * One call's HTTP/2 stream. The request goes out through `stream`; the response's
 * bytes come in on it (read them with a MessageReader, or as raw bytes); `done` settles
 * with the call's status once the stream closed.
 */
export class GrpcCall {
  /** Resolves when the call ended with OK; rejects with a GrpcCallError otherwise. */
  readonly done: Promise<void>;
  private status: { code: number; details: string; statusDetails?: Buffer } | undefined;
  private failure: { code: number; details: string } | undefined;
  // The daemon broke the protocol: this beats even an OK status it sent afterwards.
  private violation: { code: number; details: string } | undefined;
  // The stream's connection (the stream forgets it when it closes).
  private readonly session: http2.Http2Session | undefined;

  constructor(
    readonly stream: http2.ClientHttp2Stream,
    readonly method: string,
    connection: ConnectionState,
    options: CallOptions,
  ) {
    this.session = stream.session;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => this.cancel(GrpcStatus.CANCELLED, "cancelled by the client");
    if (options.timeoutMs !== undefined) {
      const deadline = Date.now() + Math.max(0, options.timeoutMs);
      const arm = () => {
        const left = deadline - Date.now();
        if (left > maxTimerMs) timer = setTimeout(arm, maxTimerMs);
        else timer = setTimeout(() => this.cancel(GrpcStatus.DEADLINE_EXCEEDED, connection.connected() ? "deadline exceeded" : `deadline exceeded: ${connection.pending()}`), left);
      };
      arm();
    }
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.done = new Promise<void>((resolve, reject) => {
      stream.on("response", (headers) => {
        const httpStatus = Number(headers[":status"]);
        const contentType = headers["content-type"];
        if (httpStatus !== 200) {
          this.protocolViolation(httpStatusCodes[httpStatus] ?? GrpcStatus.UNKNOWN, `received HTTP status ${httpStatus}${contentType ? ` (${contentType})` : ""}, not a gRPC response`);
        } else if (headers["grpc-status"] !== undefined) {
          // Trailers-only: a response without messages carries its status in the headers.
          this.readStatus(headers);
        } else if (!isGrpcContentType(contentType)) {
          this.protocolViolation(GrpcStatus.UNKNOWN, `received content-type ${contentType === undefined ? "(none)" : JSON.stringify(contentType)}, not a gRPC response`);
        }
      });
      stream.on("trailers", (trailers) => this.readStatus(trailers));
      stream.on("error", (err: NodeJS.ErrnoException & { cause?: Error }) => {
        const cause = err.cause ?? err;
        if (err.code === "ERR_HTTP2_STREAM_ERROR") this.fail(resetStatus(stream.rstCode), cause.message);
        // A stream that ends with the connection never established, or lost, is unavailable.
        else this.fail(GrpcStatus.UNAVAILABLE, connection.connected() ? cause.message : `connection failed: ${cause.message}`);
      });
      stream.on("close", () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        // A status the daemon sent wins over what went wrong after it; but an OK does not
        // make up for a response that broke the protocol.
        const daemonFailed = this.status !== undefined && this.status.code !== GrpcStatus.OK;
        const end = (daemonFailed ? this.status : this.violation ?? this.status ?? this.failure) ?? this.closedWithoutStatus();
        if (end.code === GrpcStatus.OK) resolve();
        else reject(new GrpcCallError(end.code, end.details, method, end === this.status ? this.status.statusDetails : undefined));
      });
    });
    // Nobody may be waiting for the status yet (a call whose messages are read first).
    this.done.catch(() => undefined);
    if (options.signal?.aborted) onAbort();
  }

  /** True once the call failed on this side (cancelled, a deadline, a broken response). */
  get failed(): boolean {
    return this.failure !== undefined || this.violation !== undefined;
  }

  /** Ends the call from this side with `code` (CANCELLED by default), resetting the stream. */
  cancel(code: GrpcStatusCode = GrpcStatus.CANCELLED, details = "cancelled by the client"): void {
    this.fail(code, details);
    this.reset();
  }

  /** Ends the call because the daemon's response breaks the protocol; this is its status even if the daemon sends OK. */
  protocolViolation(code: GrpcStatusCode, details: string): void {
    this.violation ??= { code, details };
    this.reset();
  }

  private reset(): void {
    if (this.stream.closed || this.stream.destroyed) return;
    // A stream still waiting for its connection has nothing to reset: closing it
    // would wait for the connection, which may never come.
    if (this.stream.pending) this.stream.destroy();
    else this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  // Node reports a reset without an error when its code is CANCEL, as it does for streams
  // of a connection that closed: only the former is the daemon's doing.
  private closedWithoutStatus(): { code: number; details: string } {
    const session = this.session;
    const rstCode = this.stream.rstCode;
    if (session && !session.destroyed && !session.closed && rstCode !== undefined && rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
      return { code: resetStatus(rstCode), details: `the daemon reset the stream (HTTP/2 error code ${rstCode})` };
    }
    return { code: GrpcStatus.UNAVAILABLE, details: "the daemon closed the stream without a status" };
  }

  private fail(code: number, details: string): void {
    this.failure ??= { code, details };
  }

  private readStatus(headers: http2.IncomingHttpHeaders): void {
    const code = Number(headers["grpc-status"]);
    const message = headers["grpc-message"];
    const detailsHeader = headers["grpc-status-details-bin"];
    const statusDetails = detailsHeader === undefined ? undefined : decodeBinaryHeader(detailsHeader)?.[0];
    this.status = { code: Number.isInteger(code) ? code : GrpcStatus.UNKNOWN, details: typeof message === "string" ? decodeGrpcMessage(message) : "", statusDetails };
  }
}

/** Options of a connection; the defaults suit brewkit's daemons. */
export interface ConnectionOptions {
  /** Gives up a connection not established within this long (default 20 s), failing its calls. */
  connectTimeoutMs?: number;
  /** Checks that the daemon still answers (default: for tcp:// addresses, see keepaliveFor). */
  keepalive?: KeepaliveOptions | false;
}

// As long as gRPC's own clients wait for a connection.
const defaultConnectTimeoutMs = 20_000;

/**
 * A gRPC client connection to the daemon over Node's HTTP/2, with the calls brewkit
 * makes: unary, server streaming, and raw streams (the session tunnel). Connects on
 * the first call, and again on a later one if the connection was lost. An idle
 * connection does not keep the process alive.
 */
export class GrpcConnection {
  private session: http2.ClientHttp2Session | undefined;
  private connected = false;
  // Calls in flight on each connection: one with calls keeps the process alive.
  private readonly active = new WeakMap<http2.ClientHttp2Session, number>();
  private closed = false;
  private readonly connectTimeoutMs: number;
  private readonly keepalive: KeepaliveOptions | undefined;

  constructor(
    readonly address: DaemonAddress,
    options: ConnectionOptions = {},
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? defaultConnectTimeoutMs;
    this.keepalive = options.keepalive === false ? undefined : (options.keepalive ?? keepaliveFor(address.target));
  }

  /** Starts a call; its request bytes go out through the returned call's stream. */
  startCall(method: string, options: CallOptions = {}): GrpcCall {
    return this.startCallOn(this.currentSession(), method, options);
  }

  private startCallOn(session: http2.ClientHttp2Session, method: string, options: CallOptions): GrpcCall {
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": method,
      "content-type": "application/grpc",
      te: "trailers",
      ...options.metadata,
    };
    if (options.timeoutMs !== undefined) headers["grpc-timeout"] = grpcTimeout(options.timeoutMs);
    const stream = session.request(headers);
    const active = this.active.get(session) ?? 0;
    this.active.set(session, active + 1);
    if (active === 0) session.ref();
    const call = new GrpcCall(stream, method, { connected: () => this.connected, pending: () => this.pendingStep(session) }, options);
    stream.once("close", () => {
      const left = (this.active.get(session) ?? 1) - 1;
      this.active.set(session, left);
      if (left === 0 && !session.destroyed) session.unref();
    });
    return call;
  }

  /** One request, one response. */
  async unary(method: string, request: Uint8Array, options: CallOptions = {}): Promise<Buffer> {
    checkRequestSize(request, method);
    const call = this.startCall(method, options);
    let response: Buffer | undefined;
    readMessages(call, (m) => {
      // A second message is a broken response: end the call now rather than read on.
      if (response !== undefined) return call.protocolViolation(GrpcStatus.INTERNAL, "the daemon sent more than one response message for a unary call");
      response = m;
    });
    writeMessage(call.stream, request);
    call.stream.end();
    await call.done;
    if (response === undefined) throw new GrpcCallError(GrpcStatus.INTERNAL, "the daemon sent no response message for a unary call", method);
    return response;
  }

  /** One request, then the stream of response messages; ends when the call ended with OK, throws otherwise. */
  async *serverStream(method: string, request: Uint8Array, options: CallOptions = {}): AsyncGenerator<Buffer> {
    checkRequestSize(request, method);
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
    // A peer that accepts the connection and never completes the TLS handshake (or HTTP/2's)
    // would otherwise keep every call waiting.
    const connectTimer = setTimeout(() => session.destroy(new Error(`${this.pendingStep(session)} within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
    connectTimer.unref();
    session.on("connect", () => {
      clearTimeout(connectTimer);
      this.connected = true;
      // The connection may have been closed meanwhile (a run that stopped at a config error).
      if (session.destroyed) return;
      session.setLocalWindowSize(connectionWindowBytes);
      if (this.keepalive) {
        keepConnectionAlive(session, this.keepalive, {
          busy: () => (this.active.get(session) ?? 0) > 0,
          call: () => this.answers(session, healthCheckMethod),
          lost: (reason) => session.destroy(new Error(reason)),
        });
      }
    });
    // Reported to the calls through their streams.
    session.on("error", () => undefined);
    session.on("close", () => {
      clearTimeout(connectTimer);
      if (this.session === session) this.session = undefined;
    });
    session.unref();
    this.session = session;
    return session;
  }

  /** What a connection not yet established waits for, for errors. */
  private pendingStep(session: http2.ClientHttp2Session): string {
    const tls = this.address.authority.startsWith("https:");
    const tcpDone = session.socket !== undefined && !session.socket.connecting;
    if (!tcpDone) return `no connection to ${this.address.target}`;
    return tls ? `no TLS handshake with ${this.address.target}` : `no HTTP/2 connection with ${this.address.target}`;
  }

  /** Resolves when the daemon answers a call to `method` on `session` (any status); rejects if it cannot. */
  private answers(session: http2.ClientHttp2Session, method: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const call = this.startCallOn(session, method, {});
      call.stream.once("response", () => {
        resolve();
        call.cancel();
      });
      call.done.then(resolve, reject);
      writeMessage(call.stream, new Uint8Array(0));
      call.stream.end();
    });
  }
}

// A call every gRPC server answers cheaply: buildkitd serves grpc.health.v1, and any other
// server answers UNIMPLEMENTED, which is an answer too.
const healthCheckMethod = "/grpc.health.v1.Health/Check";

function checkRequestSize(request: Uint8Array, method: string): void {
  if (request.length > maxMessageBytes) throw new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, `request of ${request.length} bytes exceeds the daemon's limit of ${maxMessageBytes}`, method);
}

/**
 * Passes each gRPC message of the call's response to `onMessage`, until the call failed;
 * a framing error, or a response that ends inside a message, fails the call.
 */
export function readMessages(call: GrpcCall, onMessage: (message: Buffer) => void): void {
  const reader = new MessageReader();
  call.stream.on("data", (chunk: Buffer) => {
    if (call.failed) return;
    const error = reader.push(chunk, (message) => {
      if (!call.failed) onMessage(message);
    });
    if (error) call.protocolViolation(error.code, error.details);
  });
  call.stream.on("end", () => {
    const error = reader.end();
    if (error && !call.failed) call.protocolViolation(error.code, error.details);
  });
}

/** Writes one message with its gRPC prefix; false when the stream asks to wait for 'drain'. Check its size first. */
export function writeMessage(stream: http2.ClientHttp2Stream, message: Uint8Array): boolean {
  checkRequestSize(message, "");
  // An empty write can leave the response unread on a TLS connection (Node 20's http2):
  // an empty message is its prefix alone.
  if (message.length === 0) return stream.write(framePrefix(0));
  stream.cork();
  stream.write(framePrefix(message.length));
  const ok = stream.write(message);
  stream.uncork();
  return ok;
}
