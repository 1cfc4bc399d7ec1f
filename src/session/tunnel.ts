import { Duplex } from "node:stream";
import { bytesMessageFieldHeader } from "../client/bytes-message.ts";
import type { GrpcCall } from "../client/grpc-connection.ts";
import { framePrefix, maxMessageBytes } from "../grpc/wire.ts";

/**
 * Presents the Control.Session call as a byte stream. The daemon speaks HTTP/2 over
 * it as the client; brewkit's gRPC server reads and writes it like a socket. Every byte
 * of every upload and export passes through here, so neither direction copies data:
 * outgoing bytes are written after a small header of their own, incoming ones are
 * handed on as views of what the connection received.
 */
export function sessionTunnel(call: GrpcCall): Duplex {
  const stream = call.stream;
  // Everything written since the last callback goes out in as few messages as the daemon's
  // limit allows: whole parts, or views of a part where a message must end.
  const send = (parts: Buffer[], callback: (error?: Error | null) => void): void => {
    let ok = true;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = () => {
      if (batchBytes === 0) return;
      stream.write(bytesMessageHeader(batchBytes));
      for (const part of batch) ok = stream.write(part);
      batch = [];
      batchBytes = 0;
    };
    stream.cork();
    for (const whole of parts) {
      // Never an empty write: see writeMessage.
      for (let part = whole; part.length > 0; ) {
        const piece = part.length <= maxTunnelDataBytes - batchBytes ? part : part.subarray(0, maxTunnelDataBytes - batchBytes);
        batch.push(piece);
        batchBytes += piece.length;
        part = part.subarray(piece.length);
        if (batchBytes === maxTunnelDataBytes) flush();
      }
    }
    flush();
    stream.uncork();
    if (ok) callback();
    else stream.once("drain", () => callback());
  };
  const splitter = new BytesMessageSplitter();
  const tunnel = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      send([chunk], callback);
    },
    // The HTTP/2 server writes each round of frames corked: one message for all of them
    // is what keeps many small packets cheap.
    writev(chunks, callback) {
      send(chunks.map((c) => c.chunk as Buffer), callback);
    },
    final(callback) {
      stream.end();
      callback();
    },
    read() {
      stream.resume();
    },
    destroy(error, callback) {
      call.cancel();
      callback(error);
    },
  });
  stream.on("data", (chunk: Buffer) => {
    if (call.failed) return;
    const error = splitter.push(chunk, (data) => {
      if (!tunnel.push(data)) stream.pause();
    });
    if (error) {
      call.cancel();
      tunnel.destroy(error);
    }
  });
  // Cancelling the call is how a session ends; the tunnel just closes.
  call.done.then(
    () => tunnel.push(null),
    () => tunnel.push(null),
  );
  return tunnel;
}

/**
 * The most data one BytesMessage of the tunnel carries: with its 5-byte header (a tag and
 * a 4-byte length) the message is exactly the daemon's limit.
 */
export const maxTunnelDataBytes = maxMessageBytes - 5;

/** The gRPC prefix and the protobuf header of `BytesMessage{data}` for `length` bytes of data. */
export function bytesMessageHeader(length: number): Buffer {
  const field = bytesMessageFieldHeader(length);
  return Buffer.concat([framePrefix(field.length + length), field]);
}

const enum Part {
  Prefix,
  Tag,
  Length,
  Data,
  Skip,
  SkipVarint,
}

/**
 * Reads a gRPC stream of `BytesMessage{data}` and hands on each message's data as it
 * arrives, as views of the chunks received: a message's bytes are never gathered in
 * one buffer. Fields other than `data` are skipped, as protobuf readers do.
 */
export class BytesMessageSplitter {
  private part = Part.Prefix;
  private readonly prefix = Buffer.alloc(5);
  private prefixBytes = 0;
  // Bytes of the current message not read yet.
  private messageLeft = 0;
  private varint = 0;
  private varintShift = 0;
  private field = 0;
  // Bytes of the current field's payload not read yet.
  private fieldLeft = 0;

  /** Takes the next chunk of the stream; returns an error for a stream that is not such messages. */
  push(chunk: Buffer, onData: (data: Buffer) => void): Error | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.part === Part.Prefix) {
        const n = Math.min(5 - this.prefixBytes, chunk.length - at);
        chunk.copy(this.prefix, this.prefixBytes, at, at + n);
        this.prefixBytes += n;
        at += n;
        if (this.prefixBytes < 5) break;
        this.prefixBytes = 0;
        if (this.prefix[0] !== 0) return new Error("session tunnel: compressed messages are not supported");
        this.messageLeft = this.prefix.readUInt32BE(1);
        if (this.messageLeft > maxMessageBytes) return new Error(`session tunnel: message of ${this.messageLeft} bytes exceeds ${maxMessageBytes}`);
        if (this.messageLeft > 0) this.startVarint(Part.Tag);
        continue;
      }
      if (this.part === Part.Tag || this.part === Part.Length || this.part === Part.SkipVarint) {
        const byte = chunk[at++]!;
        this.messageLeft--;
        this.varint += (byte & 0x7f) * 2 ** this.varintShift;
        this.varintShift += 7;
        if (byte & 0x80) {
          if (this.varintShift > 63 || this.messageLeft === 0) return new Error("session tunnel: malformed message");
          continue;
        }
        const value = this.varint;
        const error = this.part === Part.Tag ? this.onTag(value) : this.part === Part.Length ? this.onLength(value) : this.fieldDone();
        if (error) return error;
        continue;
      }
      // Data or Skip: the rest of the field's payload, as far as this chunk goes.
      const n = Math.min(this.fieldLeft, chunk.length - at);
      if (this.part === Part.Data) onData(chunk.subarray(at, at + n));
      at += n;
      this.fieldLeft -= n;
      this.messageLeft -= n;
      if (this.fieldLeft === 0) {
        const error = this.fieldDone();
        if (error) return error;
      }
    }
    return undefined;
  }

  private startVarint(part: Part): void {
    this.part = part;
    this.varint = 0;
    this.varintShift = 0;
  }

  private onTag(tag: number): Error | undefined {
    if (this.messageLeft === 0) return new Error("session tunnel: a field runs past the end of its message");
    this.field = Math.floor(tag / 8);
    if (this.field === 0) return new Error("session tunnel: invalid field number 0");
    switch (tag % 8) {
      case 0:
        this.startVarint(Part.SkipVarint);
        return undefined;
      case 1:
        return this.payload(8, Part.Skip);
      case 2:
        this.startVarint(Part.Length);
        return undefined;
      case 5:
        return this.payload(4, Part.Skip);
      default:
        return new Error(`session tunnel: unsupported wire type ${tag % 8}`);
    }
  }

  private onLength(length: number): Error | undefined {
    return this.payload(length, this.field === 1 ? Part.Data : Part.Skip);
  }

  private payload(length: number, part: Part.Data | Part.Skip): Error | undefined {
    if (length > this.messageLeft) return new Error("session tunnel: a field runs past the end of its message");
    if (length === 0) return this.fieldDone();
    this.part = part;
    this.fieldLeft = length;
    return undefined;
  }

  private fieldDone(): Error | undefined {
    if (this.messageLeft < 0) return new Error("session tunnel: a field runs past the end of its message");
    if (this.messageLeft === 0) this.part = Part.Prefix;
    else this.startVarint(Part.Tag);
    return undefined;
  }
}
