import http2 from "node:http2";
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from "node:http2";
import { Duplex } from "node:stream";
import { decodeBinaryHeader, encodeGrpcMessage, framePrefix, GrpcStatus, isGrpcContentType, MessageReader, StatusError, type GrpcStatusCode } from "../grpc/wire.ts";

/** The request headers of a call, read like gRPC metadata. */
export class CallMetadata {
  constructor(private readonly headers: IncomingHttpHeaders) {}

  /** Every value of the text key `key` (lower case), in the order sent (a `-bin` key's as its base64 text). */
  get(key: string): string[] {
    const raw = this.headers[key];
    return raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  }

  /** Every value of the binary key `key` (ending in `-bin`), exactly as sent; undefined when one is not base64. */
  getBinary(key: string): Buffer[] | undefined {
    const raw = this.headers[key];
    return raw === undefined ? [] : decodeBinaryHeader(raw);
  }
}

/** Answers a unary call with the response message, or rejects with a StatusError. */
export type UnaryHandler = (request: Buffer, metadata: CallMetadata) => Promise<Buffer>;

/** Serves a streaming call: read and write messages on `call`, then `end()` or `fail()` it. */
export type StreamHandler = (call: ServerStreamCall) => void;

/** One method of a session service, by its full path (`/package.Service/Method`). */
export type MethodHandler = { kind: "unary"; handle: UnaryHandler } | { kind: "stream"; handle: StreamHandler };

// Below this, a message and its 5-byte prefix are copied into one write.
const copyBelowBytes = 16 * 1024;
// Small messages batched into one write, at most.
const batchBytes = 64 * 1024;
// Flow-control windows we grant the daemon: exports arrive in bursts of file chunks, and
// HTTP/2's default of 64 KiB would stall them on every round trip.
const streamWindowBytes = 1024 * 1024;
const sessionWindowBytes = 2 * 1024 * 1024;

/**
 * A streaming call as an object-mode Duplex of message payloads. Writes are framed
 * onto the HTTP/2 stream and acknowledged as soon as the stream buffers them, so many
 * small messages leave in one batch (a write does not wait for the previous one to be
 * flushed). `end()` closes with status OK; `fail()` with an error status. Emits
 * `cancelled` when the caller resets the stream before the call finished.
 */
export class ServerStreamCall extends Duplex {
  /** The caller's request metadata. */
  readonly metadata: CallMetadata;
  private finished = false;
  // Small framed messages waiting to go out as one write (see _write).
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
  ) {
    super({ objectMode: true, allowHalfOpen: true });
    this.metadata = new CallMetadata(headers);
  }

  /** Ends the call with `code` and `details` (unless it already finished). */
  fail(code: GrpcStatusCode, details: string): void {
    if (this.finished) return;
    this.finished = true;
    // What was written before the failure still goes first (e.g. an ERR packet).
    this.flush();
    finishStream(this.stream, code, details);
    // Later writes are dropped, as the caller no longer reads them.
    this.destroy();
  }

  /** @internal A message arrived from the caller. */
  deliver(message: Buffer): void {
    if (!this.push(message)) this.stream.pause();
  }

  /** @internal The caller half-closed its side. */
  deliverEnd(): void {
    this.push(null);
  }

  /** @internal The HTTP/2 stream closed: a reset by the caller if the call had not finished. */
  cancel(): void {
    if (!this.finished) {
      this.finished = true;
      this.emit("cancelled", "cancelled");
    }
    this.destroy();
  }

  override _read(): void {
    this.stream.resume();
  }

  // Small messages (a file listing is thousands of them) are framed into a buffer that
  // goes out as one HTTP/2 write when the event loop turns or the batch is full: a write
  // per message costs more than the message. Large ones are written directly, in order.
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.finished || this.stream.destroyed) return callback();
    let ok: boolean;
    if (chunk.length >= copyBelowBytes) {
      this.flush();
      ok = writeMessage(this.stream, chunk);
    } else {
      this.pending.push(framePrefix(chunk.length), chunk);
      this.pendingBytes += 5 + chunk.length;
      if (this.pendingBytes >= batchBytes) ok = this.flush();
      else {
        ok = true;
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flush());
        }
      }
    }
    if (ok) callback();
    else this.stream.once("drain", () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.finished) {
      this.finished = true;
      this.flush();
      finishStream(this.stream, GrpcStatus.OK, "");
    }
    callback();
  }

  /** Writes the batched messages; false when the stream asks to wait for 'drain'. */
  private flush(): boolean {
    this.flushScheduled = false;
    if (this.pending.length === 0) return true;
    const bytes = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.stream.destroyed || this.stream.writableEnded) return true;
    return this.stream.write(bytes);
  }
}

/**
 * The gRPC server brewkit runs on its end of a session. The daemon is the HTTP/2 client
 * of a connection tunnelled through Control.Session; this serves the methods brewkit
 * advertises (health, file sync, exports, secrets, ssh) on it.
 */
export class SessionGrpcServer {
  private readonly server = http2.createServer({
    settings: { initialWindowSize: streamWindowBytes },
    maxSessionMemory: 64,
  });
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly calls = new Set<ServerStreamCall>();

  constructor(private readonly methods: ReadonlyMap<string, MethodHandler>) {
    this.server.on("session", (session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      session.on("error", () => undefined);
      session.setLocalWindowSize(sessionWindowBytes);
    });
    this.server.on("stream", (stream, headers) => this.dispatch(stream, headers));
  }

  /** Serves the HTTP/2 connection carried by `socket`. */
  serve(socket: Duplex): void {
    this.server.emit("connection", socket);
  }

  /** Cancels every call in flight and closes the connections. */
  close(): void {
    for (const call of this.calls) call.cancel();
    for (const session of this.sessions) session.destroy();
    this.server.close();
  }

  private dispatch(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on("error", () => undefined);
    // Node announces a stream a tick after its headers arrived: a reset, a GOAWAY or a
    // closed tunnel in the same read has ended it by then, and answering it would throw.
    if (stream.destroyed || stream.closed) return;
    // Not a gRPC request: gRPC's answer is HTTP 415.
    if (!isGrpcContentType(headers["content-type"])) {
      stream.respond({ ":status": 415, "grpc-status": String(GrpcStatus.INTERNAL), "grpc-message": encodeGrpcMessage(`invalid gRPC request content-type ${JSON.stringify(headers["content-type"] ?? "")}`) }, { endStream: true });
      return;
    }
    const path = String(headers[":path"] ?? "");
    const method = this.methods.get(path);
    if (method === undefined) {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(GrpcStatus.UNIMPLEMENTED), "grpc-message": encodeGrpcMessage(`unknown method ${path}`) }, { endStream: true });
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    const messages = new MessageReader();
    if (method.kind === "unary") {
      let request: Buffer | undefined;
      let failed = false;
      const fail = (code: GrpcStatusCode, details: string) => {
        failed = true;
        finishStream(stream, code, details);
      };
      stream.on("data", (chunk: Buffer) => {
        if (failed) return;
        const error = messages.push(chunk, (m) => {
          if (failed) return;
          // A second request ends the call at once: nothing more is read.
          if (request !== undefined) fail(GrpcStatus.INTERNAL, "more than one request message for a unary call");
          else request = m;
        });
        if (error) fail(error.code, error.details);
      });
      stream.on("end", () => {
        if (failed || stream.closed || stream.destroyed) return;
        const truncated = messages.end();
        if (truncated) return fail(truncated.code, truncated.details);
        if (request === undefined) return fail(GrpcStatus.INTERNAL, "no request message for a unary call");
        method.handle(request, new CallMetadata(headers)).then(
          (response) => {
            if (stream.closed || stream.destroyed) return;
            writeMessage(stream, response);
            finishStream(stream, GrpcStatus.OK, "");
          },
          (err: unknown) => {
            if (stream.closed || stream.destroyed) return;
            const status = err instanceof StatusError ? err : new StatusError(GrpcStatus.UNKNOWN, (err as Error)?.message ?? String(err));
            finishStream(stream, status.code, status.details);
          },
        );
      });
      return;
    }
    const call = new ServerStreamCall(stream, headers);
    this.calls.add(call);
    call.on("close", () => this.calls.delete(call));
    call.on("error", () => undefined);
    stream.on("data", (chunk: Buffer) => {
      const error = messages.push(chunk, (m) => call.deliver(m));
      if (error) call.fail(error.code, error.details);
    });
    stream.on("end", () => {
      const truncated = messages.end();
      if (truncated) call.fail(truncated.code, truncated.details);
      else call.deliverEnd();
    });
    stream.on("close", () => call.cancel());
    method.handle(call);
  }
}

/** Writes one framed message; false when the stream asks to wait for 'drain'. */
function writeMessage(stream: ServerHttp2Stream, message: Buffer): boolean {
  const prefix = framePrefix(message.length);
  if (message.length < copyBelowBytes) return stream.write(Buffer.concat([prefix, message]));
  stream.cork();
  stream.write(prefix);
  const ok = stream.write(message);
  stream.uncork();
  return ok;
}

/** Ends the response with the status in trailers (sent once the data written so far is out). */
function finishStream(stream: ServerHttp2Stream, code: GrpcStatusCode, details: string): void {
  if (stream.closed || stream.destroyed) return;
  const trailers: http2.OutgoingHttpHeaders = { "grpc-status": String(code) };
  if (details) trailers["grpc-message"] = encodeGrpcMessage(details);
  if (stream.writableEnded) return;
  stream.once("wantTrailers", () => {
    try {
      stream.sendTrailers(trailers);
    } catch {
      // The caller reset the stream meanwhile.
    }
  });
  stream.end();
}

