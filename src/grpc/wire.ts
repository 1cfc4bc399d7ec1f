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
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
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
 * several chunks (HTTP/2 frames are 16 KiB) is copied together once.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer, onMessage: (message: Buffer) => void): StatusError | undefined {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 5) {
      const head = this.chunks[0]!.length >= 5 ? this.chunks[0]! : this.take(5, false);
      if (head[0] !== 0) return new StatusError(GrpcStatus.UNIMPLEMENTED, "compressed messages are not supported");
      const length = head.readUInt32BE(1);
      if (length > maxMessageBytes) return new StatusError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds ${maxMessageBytes}`);
      if (this.buffered < 5 + length) break;
      onMessage(this.take(5 + length, true).subarray(5));
    }
    return undefined;
  }

  // The first `n` buffered bytes as one buffer; removed from the buffer when `consume` is set.
  private take(n: number, consume: boolean): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) out = first.subarray(0, n);
    else {
      out = Buffer.allocUnsafe(n);
      let offset = 0;
      for (const chunk of this.chunks) {
        const part = chunk.subarray(0, Math.min(chunk.length, n - offset));
        out.set(part, offset);
        offset += part.length;
        if (offset === n) break;
      }
    }
    if (!consume) return out;
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[0]!;
      if (chunk.length <= left) {
        this.chunks.shift();
        left -= chunk.length;
      } else {
        this.chunks[0] = chunk.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
    return out;
  }
}

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
