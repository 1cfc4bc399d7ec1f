// gRPC over HTTP/2, the parts brewkit's client (to the daemon) and server (the session)
// share: status codes, message framing and the encoding of grpc-message.

/** gRPC status codes (google.rpc.Code). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** One of the GrpcStatus codes. */
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** The name of a status code, e.g. `UNAVAILABLE`. */
export function statusName(code: number): string {
  return Object.entries(GrpcStatus).find(([, c]) => c === code)?.[0] ?? `code ${code}`;
}

/** A failure reported as a gRPC status: by a session handler to the daemon, or by the daemon to a call. */
export class StatusError extends Error {
  constructor(
    readonly code: GrpcStatusCode,
    readonly details: string,
  ) {
    super(details);
    this.name = "StatusError";
  }
}

/** BuildKit's message size limit, both ways; also what brewkit accepts from any peer. */
export const maxMessageBytes = 16 * 1024 * 1024;

/**
 * Splits an HTTP/2 data stream into gRPC messages (a flag byte, a uint32 length, the
 * bytes). A message inside one chunk is passed on as a view of it; one spread over
 * several chunks (HTTP/2 frames are 16 KiB) is copied together once. After a framing
 * error it keeps nothing more: a peer cannot make it buffer past the limit.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  // Index of the first chunk not yet read (earlier ones are dropped now and then).
  private first = 0;
  private buffered = 0;
  // The length of the message whose prefix was read, until the message is.
  private length: number | undefined;
  private failure: StatusError | undefined;

  /** Takes the next chunk; returns the framing error, if any (the same one from then on). */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): StatusError | undefined {
    if (this.failure) return this.failure;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.length === undefined) {
        if (this.buffered < 5) break;
        const prefix = this.take(5);
        if (prefix[0] !== 0) return this.fail(prefix[0] === 1 ? new StatusError(GrpcStatus.UNIMPLEMENTED, "compressed messages are not supported") : new StatusError(GrpcStatus.INTERNAL, `invalid message flags ${prefix[0]}`));
        const length = prefix.readUInt32BE(1);
        if (length > maxMessageBytes) return this.fail(new StatusError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds ${maxMessageBytes}`));
        this.length = length;
      }
      if (this.buffered < this.length) break;
      const message = this.take(this.length);
      this.length = undefined;
      onMessage(message);
    }
    return undefined;
  }

  /** The stream ended: an error if it ended inside a message. */
  end(): StatusError | undefined {
    if (this.failure || (this.buffered === 0 && this.length === undefined)) return this.failure;
    const what = this.length === undefined ? `a message prefix of ${this.buffered} bytes` : `${this.buffered} of a message's ${this.length} bytes`;
    return this.fail(new StatusError(GrpcStatus.INTERNAL, `the stream ended inside a message (${what})`));
  }

  private fail(error: StatusError): StatusError {
    this.failure = error;
    this.chunks = [];
    this.first = 0;
    this.buffered = 0;
    return error;
  }

  // Removes the next `n` buffered bytes: a view of one chunk when they are in one, else a copy.
  private take(n: number): Buffer {
    const head = this.chunks[this.first];
    let out: Buffer;
    if (head === undefined || head.length >= n) {
      out = head === undefined ? EMPTY : head.subarray(0, n);
      if (head !== undefined) this.advance(n);
    } else {
      out = Buffer.allocUnsafe(n);
      for (let offset = 0; offset < n; ) {
        const chunk = this.chunks[this.first]!;
        const part = Math.min(chunk.length, n - offset);
        chunk.copy(out, offset, 0, part);
        offset += part;
        this.advance(part);
      }
    }
    this.buffered -= n;
    return out;
  }

  // Drops `n` bytes of the first chunk (n at most its length).
  private advance(n: number): void {
    const chunk = this.chunks[this.first]!;
    if (n < chunk.length) {
      this.chunks[this.first] = chunk.subarray(n);
      return;
    }
    this.chunks[this.first++] = EMPTY;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 1024) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** The 5-byte gRPC message prefix: not compressed, then the length. */
export function framePrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(5);
  prefix[0] = 0;
  prefix.writeUInt32BE(length, 1);
  return prefix;
}

/** grpc-message is percent-encoded: everything outside printable ASCII, and `%` itself. */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The text of a percent-encoded grpc-message; a malformed escape is kept as written. */
export function decodeGrpcMessage(encoded: string): string {
  if (!encoded.includes("%")) return encoded;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const hex = encoded.slice(i + 1, i + 3);
    if (encoded[i] === "%" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(encoded[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** The value of a grpc-timeout header: at most 8 digits and a unit, rounded up, as gRPC requires. */
export function grpcTimeout(ms: number): string {
  const millis = Number.isFinite(ms) ? Math.max(1, Math.ceil(ms)) : 1;
  for (const [unit, factor] of [["m", 1], ["S", 1_000], ["M", 60_000], ["H", 3_600_000]] as const) {
    const amount = Math.ceil(millis / factor);
    if (amount <= 99_999_999) return `${amount}${unit}`;
  }
  return "99999999H";
}

/** gRPC's content types for protobuf messages: `application/grpc`, optionally `+proto` or with parameters. */
export function isGrpcContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.split(";")[0]!.trim().toLowerCase();
  return type === "application/grpc" || type === "application/grpc+proto";
}

/**
 * The values of a binary (`-bin`) metadata header: base64, padded or not, several of
 * them joined by commas when the header came more than once. Anything that is not
 * base64 is refused (undefined) rather than decoded into other bytes.
 */
export function decodeBinaryHeader(value: string | readonly string[]): Buffer[] | undefined {
  const out: Buffer[] = [];
  for (const line of typeof value === "string" ? [value] : value) {
    for (const part of line.split(",")) {
      const text = part.trim();
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1 || (text.includes("=") && text.length % 4 !== 0)) return undefined;
      out.push(Buffer.from(text, "base64"));
    }
  }
  return out;
}
