import { createHash } from "node:crypto";
import protobuf from "protobufjs";
import { protoRoot } from "../proto/registry.ts";
import type { Pb_Op, Pb_OpMetadata } from "../proto/generated.ts";

/**
 * A message as the encoder accepts it: like the generated interface, except that
 * every integer may also be a bigint (file timestamps are nanoseconds, beyond 2^53).
 */
export type Wire<T> = T extends number
  ? number | bigint
  : T extends Uint8Array
    ? Uint8Array
    : T extends readonly (infer U)[]
      ? readonly Wire<U>[]
      : T extends object
        ? { [K in keyof T]?: Wire<T[K]> }
        : T;

const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/** Appends encoded bytes to one growing buffer (ops are small: a few hundred bytes). */
class Writer {
  private buf = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  varint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    if (v <= 0x1fffffffffffffn) return this.smallVarint(Number(v));
    this.reserve(10);
    while (v >= 0x80n) {
      this.buf[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.length++] = Number(v);
  }

  /** A varint of a non-negative integer below 2^53, without bigint arithmetic. */
  smallVarint(value: number): void {
    this.reserve(8);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  tag(id: number, wire: WireType): void {
    this.smallVarint(id * 8 + wire);
  }

  lengthDelimited(bytes: Uint8Array): void {
    this.smallVarint(bytes.length);
    this.push(bytes);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const utf8 = new TextEncoder();

function toBigInt(value: unknown, field: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) throw new TypeError(`${field}: ${value} is not exact; pass a bigint`);
    return BigInt(value);
  }
  throw new TypeError(`${field}: expected an integer, got ${typeof value} ${String(value)}`);
}

function isDefaultScalar(value: unknown): boolean {
  if (typeof value === "number") return Object.is(value, 0);
  if (typeof value === "bigint") return value === 0n;
  if (typeof value === "string") return value === "";
  if (typeof value === "boolean") return !value;
  if (value instanceof Uint8Array) return value.length === 0;
  return false;
}

const packableTypes = new Set([
  "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
  "fixed32", "fixed64", "sfixed32", "sfixed64", "bool",
]);

function isEnum(field: protobuf.FieldBase): boolean {
  return field.resolvedType instanceof protobuf.Enum;
}

function isMessage(field: protobuf.FieldBase): boolean {
  return field.resolvedType instanceof protobuf.Type;
}

function scalarWireType(type: string): WireType {
  switch (type) {
    case "double": case "fixed64": case "sfixed64": return WireType.Fixed64;
    case "float": case "fixed32": case "sfixed32": return WireType.Fixed32;
    case "string": case "bytes": return WireType.Bytes;
    default: return WireType.Varint;
  }
}

/** Writes a scalar's payload (no tag) the way Go's protobuf runtime does. */
function writeScalarPayload(w: Writer, type: string, value: unknown, name: string): void {
  switch (type) {
    case "string":
      if (typeof value !== "string") throw new TypeError(`${name}: expected a string`);
      w.lengthDelimited(utf8.encode(value));
      return;
    case "bytes":
      if (!(value instanceof Uint8Array)) throw new TypeError(`${name}: expected a Uint8Array`);
      w.lengthDelimited(value);
      return;
    case "bool":
      if (typeof value !== "boolean") throw new TypeError(`${name}: expected a boolean`);
      w.varint(value ? 1n : 0n);
      return;
    case "double": case "float": {
      if (typeof value !== "number") throw new TypeError(`${name}: expected a number`);
      const buf = new DataView(new ArrayBuffer(type === "double" ? 8 : 4));
      if (type === "double") buf.setFloat64(0, value, true);
      else buf.setFloat32(0, value, true);
      w.push(new Uint8Array(buf.buffer));
      return;
    }
    case "fixed32": case "sfixed32": {
      const buf = new DataView(new ArrayBuffer(4));
      buf.setUint32(0, Number(BigInt.asUintN(32, toBigInt(value, name))), true);
      w.push(new Uint8Array(buf.buffer));
      return;
    }
    case "fixed64": case "sfixed64": {
      const buf = new DataView(new ArrayBuffer(8));
      buf.setBigUint64(0, BigInt.asUintN(64, toBigInt(value, name)), true);
      w.push(new Uint8Array(buf.buffer));
      return;
    }
    case "sint32": case "sint64": {
      const v = toBigInt(value, name);
      w.varint(v >= 0n ? v << 1n : (-v << 1n) - 1n);
      return;
    }
    case "uint32":
      w.varint(BigInt.asUintN(32, toBigInt(value, name)));
      return;
    case "int32":
      // Negative int32 values are sign-extended to 64 bits: always 10 bytes.
      w.varint(BigInt.asIntN(32, toBigInt(value, name)));
      return;
    default:
      // int64, uint64 and enums
      w.varint(toBigInt(value, name));
  }
}

function fieldType(field: protobuf.FieldBase): string {
  return isEnum(field) ? "int32" : field.type;
}

/**
 * Go writes fields by number, except that members of real oneofs come after every
 * other field (grouped per oneof in declaration order); proto3 `optional` fields
 * live in synthetic oneofs and keep their place.
 */
function inRealOneof(field: protobuf.Field): boolean {
  return field.partOf !== null && field.options?.["proto3_optional"] !== true;
}

const orderCache = new WeakMap<protobuf.Type, protobuf.Field[]>();

function orderedFields(type: protobuf.Type): protobuf.Field[] {
  const cached = orderCache.get(type);
  if (cached) return cached;
  const oneofIndex = (f: protobuf.Field) => (f.partOf ? type.oneofsArray.indexOf(f.partOf) : -1);
  const fields = [...type.fieldsArray].sort((a, b) => {
    const ao = inRealOneof(a), bo = inRealOneof(b);
    if (ao !== bo) return ao ? 1 : -1;
    if (ao && a.partOf !== b.partOf) return oneofIndex(a) - oneofIndex(b);
    return a.id - b.id;
  });
  orderCache.set(type, fields);
  return fields;
}

const keyBytes = (k: string) => Buffer.from(k, "utf8");

function sortedMapKeys(keys: string[], keyType: string): string[] {
  if (keyType === "string") return keys.sort((a, b) => Buffer.compare(keyBytes(a), keyBytes(b)));
  if (keyType === "bool") return keys.sort((a, b) => Number(a === "true") - Number(b === "true"));
  return keys.sort((a, b) => {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function mapKeyValue(key: string, keyType: string): unknown {
  if (keyType === "string") return key;
  if (keyType === "bool") return key === "true";
  return BigInt(key);
}

function writeMap(w: Writer, field: protobuf.MapField, value: unknown, name: string): void {
  if (typeof value !== "object" || value === null) throw new TypeError(`${name}: expected an object`);
  const record = value as Record<string, unknown>;
  for (const key of sortedMapKeys(Object.keys(record), field.keyType)) {
    // Go always writes both key and value of a map entry, even when they are empty.
    const entry = new Writer();
    entry.tag(1, scalarWireType(field.keyType));
    writeScalarPayload(entry, field.keyType, mapKeyValue(key, field.keyType), `${name}.key`);
    const item = record[key];
    if (isMessage(field)) {
      entry.tag(2, WireType.Bytes);
      entry.lengthDelimited(encodeWith(field.resolvedType as protobuf.Type, item ?? {}, `${name}[${key}]`));
    } else {
      const type = fieldType(field);
      entry.tag(2, scalarWireType(type));
      writeScalarPayload(entry, type, item, `${name}[${key}]`);
    }
    w.tag(field.id, WireType.Bytes);
    w.lengthDelimited(entry.finish());
  }
}

function writeRepeated(w: Writer, field: protobuf.Field, value: unknown, name: string): void {
  if (!Array.isArray(value)) throw new TypeError(`${name}: expected an array`);
  if (value.length === 0) return;
  const type = fieldType(field);
  if (isMessage(field)) {
    value.forEach((item, i) => {
      w.tag(field.id, WireType.Bytes);
      w.lengthDelimited(encodeWith(field.resolvedType as protobuf.Type, item, `${name}[${i}]`));
    });
  } else if (field.packed && packableTypes.has(type)) {
    const packed = new Writer();
    value.forEach((item, i) => writeScalarPayload(packed, type, item, `${name}[${i}]`));
    w.tag(field.id, WireType.Bytes);
    w.lengthDelimited(packed.finish());
  } else {
    value.forEach((item, i) => {
      w.tag(field.id, scalarWireType(type));
      writeScalarPayload(w, type, item, `${name}[${i}]`);
    });
  }
}

function encodeWith(type: protobuf.Type, message: unknown, path: string): Uint8Array {
  if (typeof message !== "object" || message === null) throw new TypeError(`${path}: expected an object`);
  const record = message as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (record[key] !== undefined && !type.fields[key]) throw new TypeError(`${path}: ${type.fullName} has no field "${key}"`);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((n) => record[n] !== undefined && record[n] !== null);
    if (set.length > 1) throw new TypeError(`${path}: oneof ${oneof.name} has several members set (${set.join(", ")})`);
  }
  const w = new Writer();
  for (const field of orderedFields(type)) {
    const value = record[field.name];
    if (value === undefined || value === null) continue;
    const name = `${path}.${field.name}`;
    if (field instanceof protobuf.MapField) writeMap(w, field, value, name);
    else if (field.repeated) writeRepeated(w, field, value, name);
    else if (isMessage(field)) {
      // Sub-messages are written whenever present, even when empty.
      w.tag(field.id, WireType.Bytes);
      w.lengthDelimited(encodeWith(field.resolvedType as protobuf.Type, value, name));
    } else {
      // A oneof member (or proto3 optional) has presence: its default is still written.
      if (field.partOf === null && isDefaultScalar(value)) continue;
      const scalar = fieldType(field);
      w.tag(field.id, scalarWireType(scalar));
      writeScalarPayload(w, scalar, value, name);
    }
  }
  return w.finish();
}

/**
 * Encodes `message` of the fully qualified type `typeName` byte for byte like Go's
 * `proto.MarshalOptions{Deterministic: true}` (and vtprotobuf's MarshalVT).
 */
export function encodeMessage(typeName: string, message: object): Uint8Array {
  let type = messageTypes.get(typeName);
  if (!type) messageTypes.set(typeName, (type = protoRoot().lookupType(typeName)));
  return encodeWith(type, message, typeName);
}

const messageTypes = new Map<string, protobuf.Type>();

/** Encodes one LLB op; its digest is the sha256 of exactly these bytes. */
export function encodeOp(op: Wire<Pb_Op>): Uint8Array {
  return encodeMessage("pb.Op", op);
}

/** Encodes per-op metadata deterministically (used to compare with Go). */
export function encodeOpMetadata(metadata: Pb_OpMetadata): Uint8Array {
  return encodeMessage("pb.OpMetadata", metadata);
}

/** The content address BuildKit gives to serialized bytes: `sha256:<hex>`. */
export function digestOf(bytes: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}
