import { isUtf8 } from "node:buffer";
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
 * How deep messages may nest: protoc's and protobufjs's limit. A peer could otherwise
 * overflow the stack with a small recursive message (two bytes per level).
 */
export const maxNestingDepth = 100;

// Field numbers are 29 bits; 0 is not one.
const maxFieldNumber = 2 ** 29 - 1;

/**
 * Decodes `bytes` as a message of `type` into a plain object: fields on the wire by name
 * (an absent field is absent, as are defaults proto3 does not send), every repeated
 * field an array and every map an object even when empty, enums as numbers, bytes as
 * Buffers viewing `bytes`. As Go's runtime does: unknown fields, and known ones sent
 * with another wire type, are skipped; a message field sent twice is merged; the last
 * member of a oneof wins. 64-bit integers are numbers, except in the schema's
 * `bigintFields` (nanosecond times), which are bigints; a number that would not be
 * exact is an error. With `int64: "bigint"` every 64-bit integer is a bigint.
 */
export function decodeMessage(type: MessageSchema, bytes: Uint8Array, options: DecodeOptions = {}): Record<string, unknown> {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new Reader(buf, options.int64 === "bigint").message(type, buf.length, 0, undefined);
}

const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/** The wire type a scalar (or an enum, as int32) is sent with. */
function scalarWire(type: ScalarType): Wire {
  switch (type) {
    case "double": case "fixed64": case "sfixed64": return Wire.Fixed64;
    case "float": case "fixed32": case "sfixed32": return Wire.Fixed32;
    case "string": case "bytes": return Wire.Bytes;
    default: return Wire.Varint;
  }
}

const scalarOf = (field: FieldSchema): ScalarType => (field.type === "enum" ? "int32" : (field.type as ScalarType));

const is64 = (type: ScalarType) => type === "int64" || type === "uint64" || type === "sint64" || type === "fixed64" || type === "sfixed64";

const enum Kind {
  Scalar,
  Message,
  Map,
  Repeated,
  Packed,
  RepeatedMessage,
}

/** How a field is read when it comes with one tag (its number and a wire type). */
interface FieldReader {
  readonly field: FieldSchema;
  readonly kind: Kind;
  readonly scalar: ScalarType;
  /** For a member of a real oneof: the other members, cleared when it is read. */
  readonly rivals: readonly string[];
}

/**
 * The fields of a message by the tags they may come with: its own wire type, and for a
 * repeated number also a packed run. A field sent with another wire type is not found,
 * and is skipped as an unknown field, as Go does.
 */
function readersOf(type: MessageSchema): Map<number, FieldReader> {
  const known = readers.get(type);
  if (known) return known;
  const byTag = new Map<number, FieldReader>();
  for (const field of type.fields) {
    const scalar = scalarOf(field);
    const rivals = field.inRealOneof ? type.oneofs.find((o) => o.name === field.oneof)!.members.filter((m) => m !== field.name) : [];
    const add = (wire: Wire, kind: Kind) => byTag.set(field.id * 8 + wire, { field, kind, scalar, rivals });
    if (field.keyType !== undefined) add(Wire.Bytes, Kind.Map);
    else if (field.type === "message") add(Wire.Bytes, field.repeated ? Kind.RepeatedMessage : Kind.Message);
    else if (!field.repeated) add(scalarWire(scalar), Kind.Scalar);
    else {
      add(scalarWire(scalar), Kind.Repeated);
      if (scalarWire(scalar) !== Wire.Bytes) add(Wire.Bytes, Kind.Packed);
    }
  }
  readers.set(type, byTag);
  return byTag;
}

const readers = new WeakMap<MessageSchema, Map<number, FieldReader>>();

class Reader {
  private at = 0;
  // Where the message (or packed run, or map entry) being read ends.
  private end: number;
  // The message and field being read, for errors.
  private type: MessageSchema | undefined;
  private field: FieldSchema | undefined;

  constructor(
    private readonly buf: Buffer,
    private readonly bigints: boolean,
  ) {
    this.end = buf.length;
  }

  /** Reads fields up to `end` into `into` (a new object unless a message is merged). */
  message(type: MessageSchema, end: number, depth: number, into: Record<string, unknown> | undefined): Record<string, unknown> {
    if (depth > maxNestingDepth) throw new DecodeError(`${type.fullName} is nested more than ${maxNestingDepth} messages deep`);
    const out = into ?? {};
    if (!into) {
      for (const f of type.fields) {
        if (f.keyType !== undefined) out[f.name] = {};
        else if (f.repeated) out[f.name] = [];
      }
    }
    const byTag = readersOf(type);
    const outerEnd = this.end;
    const outerType = this.type;
    const outerField = this.field;
    this.end = end;
    while (this.at < end) {
      this.type = type;
      this.field = undefined;
      const tag = this.varint();
      const reader = byTag.get(tag);
      if (reader === undefined) {
        const id = Math.floor(tag / 8);
        if (id < 1 || id > maxFieldNumber) throw this.error(`invalid field number ${id}`);
        this.skip(tag % 8);
        continue;
      }
      const field = reader.field;
      this.field = field;
      switch (reader.kind) {
        case Kind.Scalar:
          for (const rival of reader.rivals) delete out[rival];
          out[field.name] = this.scalar(reader.scalar, field);
          break;
        case Kind.Message:
          for (const rival of reader.rivals) delete out[rival];
          out[field.name] = this.embedded(field.message!, depth, out[field.name] as Record<string, unknown> | undefined);
          break;
        case Kind.Map:
          this.mapEntry(field, out[field.name] as Record<string, unknown>, depth);
          break;
        case Kind.Repeated:
          (out[field.name] as unknown[]).push(this.scalar(reader.scalar, field));
          break;
        case Kind.RepeatedMessage:
          (out[field.name] as unknown[]).push(this.embedded(field.message!, depth, undefined));
          break;
        case Kind.Packed: {
          const list = out[field.name] as unknown[];
          const runEnd = this.lengthEnd();
          this.end = runEnd;
          while (this.at < runEnd) list.push(this.scalar(reader.scalar, field));
          this.end = end;
          break;
        }
      }
    }
    this.end = outerEnd;
    this.type = outerType;
    this.field = outerField;
    return out;
  }

  private embedded(type: MessageSchema, depth: number, into: Record<string, unknown> | undefined): Record<string, unknown> {
    const end = this.lengthEnd();
    return this.message(type, end, depth + 1, into);
  }

  // Map entries are messages of a key (1) and a value (2); either may be left out.
  private mapEntry(field: FieldSchema, into: Record<string, unknown>, depth: number): void {
    const entryEnd = this.lengthEnd();
    const messageEnd = this.end;
    this.end = entryEnd;
    const keyType = field.keyType!;
    const valueType = scalarOf(field);
    let key: unknown;
    let value: unknown;
    while (this.at < entryEnd) {
      const tag = this.varint();
      const id = Math.floor(tag / 8);
      const wire = tag % 8;
      if (id < 1 || id > maxFieldNumber) throw this.error(`invalid field number ${id} in a map entry`);
      if (id === 1 && wire === scalarWire(keyType)) key = this.scalar(keyType, undefined);
      else if (id === 2 && field.type === "message" && wire === Wire.Bytes) value = this.embedded(field.message!, depth, undefined);
      else if (id === 2 && field.type !== "message" && wire === scalarWire(valueType)) value = this.scalar(valueType, field);
      else this.skip(wire);
    }
    this.end = messageEnd;
    if (value === undefined) value = field.type === "message" ? this.message(field.message!, entryEnd, depth + 1, undefined) : defaultOf(valueType, this.bigints || field.int64);
    into[key === undefined ? defaultKey(keyType) : String(key)] = value;
  }

  private scalar(type: ScalarType, field: FieldSchema | undefined): unknown {
    switch (type) {
      case "string": {
        const end = this.lengthEnd();
        const text = this.buf.toString("utf8", this.at, end);
        // Invalid UTF-8 comes out as U+FFFD, which is rare enough to check for first.
        if (text.includes("\ufffd") && !isUtf8(this.buf.subarray(this.at, end))) throw this.error("a string that is not UTF-8");
        this.at = end;
        return text;
      }
      case "bytes": {
        const end = this.lengthEnd();
        const bytes = this.buf.subarray(this.at, end);
        this.at = end;
        return bytes;
      }
      case "bool":
        return this.number((v) => v !== 0, (v) => v !== 0n);
      case "int32":
        return this.number((v) => (v % 2 ** 32) | 0, (v) => Number(BigInt.asIntN(32, v)));
      case "uint32":
        return this.number((v) => v % 2 ** 32, (v) => Number(BigInt.asUintN(32, v)));
      case "sint32":
        return this.number(
          (v) => {
            const low = v % 2 ** 32;
            return low % 2 === 0 ? low / 2 : -(low + 1) / 2;
          },
          (v) => {
            const low = BigInt.asUintN(32, v);
            return Number((low >> 1n) ^ -(low & 1n));
          },
        );
      case "float":
        return this.fixed(4).readFloatLE(this.at - 4);
      case "double":
        return this.fixed(8).readDoubleLE(this.at - 8);
      case "fixed32":
        return this.fixed(4).readUInt32LE(this.at - 4);
      case "sfixed32":
        return this.fixed(4).readInt32LE(this.at - 4);
      case "int64":
        return this.number((v) => this.int64(v, field), (v) => this.int64(BigInt.asIntN(64, v), field));
      case "uint64":
        return this.number((v) => this.int64(v, field), (v) => this.int64(v, field));
      case "sint64":
        return this.number(
          (v) => this.int64(v % 2 === 0 ? v / 2 : -(v + 1) / 2, field),
          (v) => this.int64((v >> 1n) ^ -(v & 1n), field),
        );
      case "fixed64":
        return this.int64(this.fixed(8).readBigUInt64LE(this.at - 8), field);
      case "sfixed64":
        return this.int64(this.fixed(8).readBigInt64LE(this.at - 8), field);
    }
  }

  // A 64-bit value as the field is given: a bigint, or a number when that is exact.
  private int64(value: number | bigint, field: FieldSchema | undefined): number | bigint {
    if (this.bigints || field === undefined || field.int64) return BigInt(value);
    if (typeof value === "number") return value;
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw this.error(`${value} is beyond 2^53 and has no exact number`);
    return n;
  }

  /** Moves past `size` bytes of a fixed-size value; returns the buffer to read them from. */
  private fixed(size: number): Buffer {
    if (this.at + size > this.end) throw this.pastEnd("a fixed-size value");
    this.at += size;
    return this.buf;
  }

  // A varint as a number while it is below 2^49 (nearly always), else as a bigint.
  private number<T>(small: (value: number) => T, large: (value: bigint) => T): T {
    const start = this.at;
    let value = 0;
    for (let shift = 0; shift < 49; shift += 7) {
      if (this.at >= this.end) throw this.pastEnd("a varint");
      const byte = this.buf[this.at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return small(value);
    }
    this.at = start;
    return large(this.varint64());
  }

  /** A tag or a length as a number (inexact beyond 2^53, which no buffer reaches). */
  private varint(): number {
    return this.number((v) => v, (v) => Number(v));
  }

  /** A varint of up to 64 bits, as Go reads it: ten bytes at most, the last one 0 or 1. */
  private varint64(): bigint {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (this.at >= this.end) throw this.pastEnd("a varint");
      const byte = this.buf[this.at++]!;
      if (shift === 63n && byte > 1) throw this.error("a varint overflows 64 bits");
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  }

  /** An error naming the message and field being read. */
  private error(problem: string): DecodeError {
    const where = this.type ? `${this.type.fullName}${this.field ? `.${this.field.name}` : ""}` : "the message";
    return new DecodeError(`${where}: ${problem}`);
  }

  private pastEnd(what: string): DecodeError {
    return this.error(`${what} runs past the end of its message`);
  }

  /** Reads a length prefix; returns where the payload ends. */
  private lengthEnd(): number {
    const length = this.varint();
    const end = this.at + length;
    if (end > this.end) throw this.pastEnd("a length-delimited field");
    return end;
  }

  private skip(wire: number): void {
    switch (wire) {
      case Wire.Varint:
        this.varint64();
        return;
      case Wire.Fixed64:
        this.fixed(8);
        return;
      case Wire.Bytes:
        this.at = this.lengthEnd();
        return;
      case Wire.Fixed32:
        this.fixed(4);
        return;
      default:
        throw this.error(`unsupported wire type ${wire}`);
    }
  }
}

function defaultOf(type: ScalarType, bigint: boolean): unknown {
  if (type === "string") return "";
  if (type === "bytes") return Buffer.alloc(0);
  if (type === "bool") return false;
  return bigint && is64(type) ? 0n : 0;
}

function defaultKey(type: ScalarType): string {
  return type === "string" ? "" : type === "bool" ? "false" : "0";
}
