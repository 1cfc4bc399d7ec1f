import type { FieldSchema, MessageSchema, ScalarType } from "./schema.ts";

/** How 64-bit integers are given: as numbers (exact below 2^53), or as exact bigints. */
export interface DecodeOptions {
  int64?: "number" | "bigint";
}

/** A message that is not valid protobuf for its type. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

/**
 * Decodes `bytes` as a message of `type` into a plain object: fields on the wire by name
 * (an absent field is absent, as are defaults proto3 does not send), every repeated
 * field an array and every map an object even when empty, enums as numbers, bytes as
 * Buffers viewing `bytes`. Unknown fields are skipped.
 */
export function decodeMessage(type: MessageSchema, bytes: Uint8Array, options: DecodeOptions = {}): Record<string, unknown> {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new Reader(buf, options.int64 === "bigint").message(type, 0, buf.length);
}

const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

class Reader {
  private at = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly bigints: boolean,
  ) {}

  message(type: MessageSchema, start: number, end: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of type.fields) {
      if (f.keyType !== undefined) out[f.name] = {};
      else if (f.repeated) out[f.name] = [];
    }
    this.at = start;
    while (this.at < end) {
      const tag = this.varint();
      const id = Math.floor(tag / 8);
      const wire = tag % 8;
      const field = type.byId.get(id);
      if (!field) {
        this.skip(wire, end);
        continue;
      }
      if (field.keyType !== undefined) this.mapEntry(field, out[field.name] as Record<string, unknown>);
      else if (field.repeated) {
        const list = out[field.name] as unknown[];
        if (wire === Wire.Bytes && field.type !== "string" && field.type !== "bytes" && field.type !== "message") {
          // Packed: a run of values.
          const runEnd = this.lengthEnd(end);
          while (this.at < runEnd) list.push(this.scalar(field.type === "enum" ? "int32" : field.type));
        } else list.push(this.value(field, end));
      } else out[field.name] = this.value(field, end);
      if (this.at > end) throw new DecodeError(`${type.fullName}.${field.name} runs past the end of its message`);
    }
    return out;
  }

  private value(field: FieldSchema, end: number): unknown {
    if (field.type === "message") {
      const fieldEnd = this.lengthEnd(end);
      const value = this.message(field.message!, this.at, fieldEnd);
      this.at = fieldEnd;
      return value;
    }
    return this.scalar(field.type === "enum" ? "int32" : field.type, end);
  }

  // Map entries are messages of a key (1) and a value (2); either may be left out.
  private mapEntry(field: FieldSchema, into: Record<string, unknown>): void {
    const entryEnd = this.lengthEnd(this.buf.length);
    let key: unknown = field.keyType === "string" ? "" : field.keyType === "bool" ? false : 0;
    let value: unknown;
    while (this.at < entryEnd) {
      const tag = this.varint();
      if (tag === 0x08 || tag === 0x0a || tag === 0x0d || tag === 0x09) key = this.scalar(field.keyType!, entryEnd);
      else if (Math.floor(tag / 8) === 2) value = this.value(field, entryEnd);
      else this.skip(tag % 8, entryEnd);
    }
    this.at = entryEnd;
    if (value === undefined) value = field.type === "message" ? this.message(field.message!, entryEnd, entryEnd) : defaultOf(field.type === "enum" ? "int32" : field.type);
    into[String(key)] = value;
  }

  private scalar(type: ScalarType, end = this.buf.length): unknown {
    switch (type) {
      case "string": {
        const fieldEnd = this.lengthEnd(end);
        const text = this.buf.toString("utf8", this.at, fieldEnd);
        this.at = fieldEnd;
        return text;
      }
      case "bytes": {
        const fieldEnd = this.lengthEnd(end);
        const bytes = this.buf.subarray(this.at, fieldEnd);
        this.at = fieldEnd;
        return bytes;
      }
      case "bool":
        return this.varint() !== 0;
      case "int32":
        return this.number((v) => (v % 2 ** 32) | 0, (v) => Number(BigInt.asIntN(32, v)));
      case "uint32":
        return this.number((v) => v % 2 ** 32, (v) => Number(BigInt.asUintN(32, v)));
      case "sint32":
      case "sint64": {
        const v = this.varint64();
        const decoded = (v >> 1n) ^ -(v & 1n);
        return type === "sint32" ? Number(decoded) : this.int64(decoded);
      }
      case "int64":
        return this.number((v) => (this.bigints ? BigInt(v) : v), (v) => this.int64(BigInt.asIntN(64, v)));
      case "uint64":
        return this.number((v) => (this.bigints ? BigInt(v) : v), (v) => this.int64(v));
      case "fixed32":
        return this.fixed(4, () => this.buf.readUInt32LE(this.at));
      case "sfixed32":
        return this.fixed(4, () => this.buf.readInt32LE(this.at));
      case "float":
        return this.fixed(4, () => this.buf.readFloatLE(this.at));
      case "double":
        return this.fixed(8, () => this.buf.readDoubleLE(this.at));
      case "fixed64":
        return this.int64(this.fixed(8, () => this.buf.readBigUInt64LE(this.at)));
      case "sfixed64":
        return this.int64(this.fixed(8, () => this.buf.readBigInt64LE(this.at)));
    }
  }

  // A varint-encoded number: read as a number while it is small (nearly always), with
  // bigint arithmetic beyond 2^49 (negative values are ten bytes of two's complement).
  private number(small: (value: number) => unknown, large: (value: bigint) => unknown): unknown {
    const start = this.at;
    let value = 0;
    for (let shift = 0; shift < 49; shift += 7) {
      if (this.at >= this.buf.length) throw new DecodeError("a varint runs past the end of the message");
      const byte = this.buf[this.at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return small(value);
    }
    this.at = start;
    return large(this.varint64());
  }

  private int64(value: bigint): number | bigint {
    return this.bigints ? value : Number(value);
  }

  private fixed<T>(size: number, read: () => T): T {
    if (this.at + size > this.buf.length) throw new DecodeError("a fixed-size value runs past the end of the message");
    const value = read();
    this.at += size;
    return value;
  }

  /** A varint below 2^53 (tags, lengths, small values) as a number. */
  private varint(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (this.at >= this.buf.length) throw new DecodeError("a varint runs past the end of the message");
      const byte = this.buf[this.at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      if (shift >= 63) throw new DecodeError("a varint is longer than 10 bytes");
    }
  }

  private varint64(): bigint {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.at >= this.buf.length) throw new DecodeError("a varint runs past the end of the message");
      const byte = this.buf[this.at++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, value);
      if (shift >= 63n) throw new DecodeError("a varint is longer than 10 bytes");
    }
  }

  /** Reads a length prefix; returns where the payload ends. */
  private lengthEnd(limit: number): number {
    const length = this.varint();
    const end = this.at + length;
    if (end > limit) throw new DecodeError("a length-delimited field runs past the end of its message");
    return end;
  }

  private skip(wire: number, end: number): void {
    switch (wire) {
      case Wire.Varint:
        this.varint64();
        return;
      case Wire.Fixed64:
        this.at += 8;
        return;
      case Wire.Bytes:
        this.at = this.lengthEnd(end);
        return;
      case Wire.Fixed32:
        this.at += 4;
        return;
      default:
        throw new DecodeError(`unsupported wire type ${wire}`);
    }
  }
}

function defaultOf(type: ScalarType): unknown {
  if (type === "string") return "";
  if (type === "bytes") return Buffer.alloc(0);
  if (type === "bool") return false;
  return 0;
}
