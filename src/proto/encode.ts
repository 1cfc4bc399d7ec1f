import { compareUtf8 } from "./order.ts";
import type { FieldSchema, MessageSchema } from "./schema.ts";

const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/**
 * Appends encoded bytes to one growing buffer. A length-delimited field is written in
 * place: `begin` keeps one byte for its length and `end` fills it in, moving the
 * content on in the rare case that the length needs more bytes (content of 128+).
 */
class Writer {
  buf = new Uint8Array(512);
  length = 0;

  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  push(bytes: Uint8Array): void {
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

  bytes(bytes: Uint8Array): void {
    this.smallVarint(bytes.length);
    this.push(bytes);
  }

  /** A length-prefixed UTF-8 string; ASCII (nearly every string of an op) is copied directly. */
  string(value: string): void {
    const start = this.begin();
    this.reserve(value.length);
    let i = 0;
    for (; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      this.buf[this.length++] = c;
    }
    if (i < value.length) {
      const rest = value.slice(i);
      this.reserve(rest.length * 3);
      this.length += utf8.encodeInto(rest, this.buf.subarray(this.length)).written;
    }
    this.end(start);
  }

  /** Starts a length-delimited payload; returns where its content starts. */
  begin(): number {
    this.reserve(1);
    this.length += 1;
    return this.length;
  }

  /** Ends the payload started at `start`, writing its length before it. */
  end(start: number): void {
    const size = this.length - start;
    let prefix = 1;
    for (let v = size; v >= 0x80; v = Math.floor(v / 0x80)) prefix++;
    if (prefix > 1) {
      this.reserve(prefix - 1);
      this.buf.copyWithin(start + prefix - 1, start, this.length);
      this.length += prefix - 1;
    }
    let at = start - 1;
    let v = size;
    while (v >= 0x80) {
      this.buf[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[at] = v;
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

/** A non-negative integer that fits a plain varint without bigint arithmetic, else undefined. */
function smallUnsigned(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function isDefaultScalar(value: unknown): boolean {
  if (typeof value === "number") return Object.is(value, 0);
  if (typeof value === "bigint") return value === 0n;
  if (typeof value === "string") return value === "";
  if (typeof value === "boolean") return !value;
  if (value instanceof Uint8Array) return value.length === 0;
  return false;
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
type ScalarWriter = (w: Writer, value: unknown, name: string) => void;

function fixedWriter(size: 4 | 8, set: (view: DataView, value: unknown, name: string) => void): ScalarWriter {
  return (w, value, name) => {
    const view = new DataView(new ArrayBuffer(size));
    set(view, value, name);
    w.push(new Uint8Array(view.buffer));
  };
}

const scalarWriters: Record<string, ScalarWriter> = {
  string: (w, value, name) => {
    if (typeof value !== "string") throw new TypeError(`${name}: expected a string`);
    w.string(value);
  },
  bytes: (w, value, name) => {
    if (!(value instanceof Uint8Array)) throw new TypeError(`${name}: expected a Uint8Array`);
    w.bytes(value);
  },
  bool: (w, value, name) => {
    if (typeof value !== "boolean") throw new TypeError(`${name}: expected a boolean`);
    w.smallVarint(value ? 1 : 0);
  },
  double: fixedWriter(8, (view, value, name) => {
    if (typeof value !== "number") throw new TypeError(`${name}: expected a number`);
    view.setFloat64(0, value, true);
  }),
  float: fixedWriter(4, (view, value, name) => {
    if (typeof value !== "number") throw new TypeError(`${name}: expected a number`);
    view.setFloat32(0, value, true);
  }),
  fixed32: fixedWriter(4, (view, value, name) => view.setUint32(0, Number(BigInt.asUintN(32, toBigInt(value, name))), true)),
  sfixed32: fixedWriter(4, (view, value, name) => view.setUint32(0, Number(BigInt.asUintN(32, toBigInt(value, name))), true)),
  fixed64: fixedWriter(8, (view, value, name) => view.setBigUint64(0, BigInt.asUintN(64, toBigInt(value, name)), true)),
  sfixed64: fixedWriter(8, (view, value, name) => view.setBigUint64(0, BigInt.asUintN(64, toBigInt(value, name)), true)),
  sint32: (w, value, name) => {
    const v = toBigInt(value, name);
    w.varint(v >= 0n ? v << 1n : (-v << 1n) - 1n);
  },
  uint32: (w, value, name) => {
    const small = smallUnsigned(value);
    if (small !== undefined && small <= 0xffffffff) w.smallVarint(small);
    else w.varint(BigInt.asUintN(32, toBigInt(value, name)));
  },
  // Negative int32 values are sign-extended to 64 bits: always 10 bytes.
  int32: (w, value, name) => {
    const small = smallUnsigned(value);
    if (small !== undefined && small <= 0x7fffffff) w.smallVarint(small);
    else w.varint(BigInt.asIntN(32, toBigInt(value, name)));
  },
  // int64 and uint64 (enums are written as int32)
  varint: (w, value, name) => {
    const small = smallUnsigned(value);
    if (small !== undefined) w.smallVarint(small);
    else w.varint(toBigInt(value, name));
  },
};
scalarWriters.sint64 = scalarWriters.sint32!;

function scalarWriter(type: string): ScalarWriter {
  return scalarWriters[type] ?? scalarWriters.varint!;
}

/** How one field is written, worked out once per message type. */
interface FieldPlan {
  readonly name: string;
  readonly id: number;
  readonly kind: "scalar" | "message" | "repeated" | "packed" | "repeatedMessage" | "map";
  /** The field's tag, or for a map, the tag of each entry. */
  readonly tag: number;
  /** Oneof members and proto3 optionals have presence: their default is still written. */
  readonly hasPresence: boolean;
  /** Scalars (enums as int32): the tag of each item of an unpacked list, or of a map's value. */
  readonly itemTag: number;
  readonly write: ScalarWriter;
  readonly message: MessageSchema | undefined;
  readonly keyType: string;
  readonly keyTag: number;
  readonly writeKey: ScalarWriter;
}

interface MessagePlan {
  readonly type: MessageSchema;
  readonly fields: readonly FieldPlan[];
  /** Real oneofs: at most one member may be set. */
  readonly oneofs: readonly { readonly name: string; readonly members: readonly string[] }[];
}

const tagOf = (id: number, wire: WireType) => id * 8 + wire;

function fieldPlan(field: FieldSchema): FieldPlan {
  const message = field.message;
  const scalar = field.type === "enum" ? "int32" : field.type;
  const common = { name: field.name, id: field.id, hasPresence: field.oneof !== undefined, message, write: scalarWriter(scalar), keyType: "", keyTag: 0, writeKey: scalarWriters.varint! };
  if (field.keyType !== undefined) {
    const valueTag = tagOf(2, message ? WireType.Bytes : scalarWireType(scalar));
    return { ...common, kind: "map", tag: tagOf(field.id, WireType.Bytes), itemTag: valueTag, keyType: field.keyType, keyTag: tagOf(1, scalarWireType(field.keyType)), writeKey: scalarWriter(field.keyType) };
  }
  if (field.repeated) {
    if (message) return { ...common, kind: "repeatedMessage", tag: tagOf(field.id, WireType.Bytes), itemTag: 0 };
    if (field.packed) return { ...common, kind: "packed", tag: tagOf(field.id, WireType.Bytes), itemTag: 0 };
    return { ...common, kind: "repeated", tag: 0, itemTag: tagOf(field.id, scalarWireType(scalar)) };
  }
  if (message) return { ...common, kind: "message", tag: tagOf(field.id, WireType.Bytes), itemTag: 0 };
  return { ...common, kind: "scalar", tag: tagOf(field.id, scalarWireType(scalar)), itemTag: 0 };
}

const plans = new WeakMap<MessageSchema, MessagePlan>();

/**
 * Go writes fields by number, except that members of real oneofs come after every
 * other field (grouped per oneof in declaration order); proto3 `optional` fields
 * live in synthetic oneofs and keep their place.
 */
function planOf(type: MessageSchema): MessagePlan {
  const known = plans.get(type);
  if (known) return known;
  const oneofIndex = (f: FieldSchema) => type.oneofs.findIndex((o) => o.name === f.oneof);
  const ordered = [...type.fields].sort((a, b) => {
    if (a.inRealOneof !== b.inRealOneof) return a.inRealOneof ? 1 : -1;
    if (a.inRealOneof && a.oneof !== b.oneof) return oneofIndex(a) - oneofIndex(b);
    return a.id - b.id;
  });
  const plan: MessagePlan = { type, fields: ordered.map(fieldPlan), oneofs: type.oneofs };
  plans.set(type, plan);
  return plan;
}

function sortedMapKeys(keys: string[], keyType: string): string[] {
  if (keyType === "string") return keys.sort(compareUtf8);
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

function writeMap(w: Writer, field: FieldPlan, value: unknown, name: string, strict: boolean): void {
  if (typeof value !== "object" || value === null) throw new TypeError(`${name}: expected an object`);
  const record = value as Record<string, unknown>;
  for (const key of sortedMapKeys(Object.keys(record), field.keyType)) {
    // Go always writes both key and value of a map entry, even when they are empty.
    w.smallVarint(field.tag);
    const entry = w.begin();
    w.smallVarint(field.keyTag);
    field.writeKey(w, mapKeyValue(key, field.keyType), `${name}.key`);
    const item = record[key];
    w.smallVarint(field.itemTag);
    if (field.message) {
      const start = w.begin();
      encodeInto(w, planOf(field.message), item ?? {}, `${name}[${key}]`, strict);
      w.end(start);
    } else {
      field.write(w, item, `${name}[${key}]`);
    }
    w.end(entry);
  }
}

function writeField(w: Writer, field: FieldPlan, value: unknown, path: string, strict: boolean): void {
  const name = () => `${path}.${field.name}`;
  switch (field.kind) {
    case "scalar":
      if (!field.hasPresence && isDefaultScalar(value)) return;
      w.smallVarint(field.tag);
      field.write(w, value, name());
      return;
    case "message": {
      // Sub-messages are written whenever present, even when empty.
      w.smallVarint(field.tag);
      const start = w.begin();
      encodeInto(w, planOf(field.message!), value, name(), strict);
      w.end(start);
      return;
    }
    case "map":
      writeMap(w, field, value, name(), strict);
      return;
  }
  if (!Array.isArray(value)) throw new TypeError(`${name()}: expected an array`);
  if (value.length === 0) return;
  if (field.kind === "repeatedMessage") {
    const plan = planOf(field.message!);
    value.forEach((item, i) => {
      w.smallVarint(field.tag);
      const start = w.begin();
      encodeInto(w, plan, item, `${name()}[${i}]`, strict);
      w.end(start);
    });
  } else if (field.kind === "packed") {
    w.smallVarint(field.tag);
    const start = w.begin();
    value.forEach((item, i) => field.write(w, item, `${name()}[${i}]`));
    w.end(start);
  } else {
    value.forEach((item, i) => {
      w.smallVarint(field.itemTag);
      field.write(w, item, `${name()}[${i}]`);
    });
  }
}

function encodeInto(w: Writer, plan: MessagePlan, message: unknown, path: string, strict: boolean): void {
  if (typeof message !== "object" || message === null) throw new TypeError(`${path}: expected an object`);
  const record = message as Record<string, unknown>;
  // Checked before anything is written: a key the type does not have, several members of a oneof.
  let known = 0;
  for (const field of plan.fields) if (record[field.name] !== undefined) known++;
  let set = 0;
  for (const key in record) if (record[key] !== undefined) set++;
  if (strict && set !== known) {
    const unknown = Object.keys(record).find((k) => record[k] !== undefined && !plan.type.byName.has(k));
    throw new TypeError(`${path}: ${plan.type.fullName} has no field "${unknown}"`);
  }
  for (const oneof of plan.oneofs) {
    const members = oneof.members.filter((n) => record[n] !== undefined && record[n] !== null);
    if (members.length > 1) throw new TypeError(`${path}: oneof ${oneof.name} has several members set (${members.join(", ")})`);
  }
  for (const field of plan.fields) {
    const value = record[field.name];
    if (value !== undefined && value !== null) writeField(w, field, value, path, strict);
  }
}

/** Options of `encodeMessage`. */
export interface EncodeOptions {
  /** Refuse properties the type has no field for (they are skipped otherwise). */
  strict?: boolean;
}

/**
 * Encodes `message` as `type` byte for byte like Go's `proto.MarshalOptions{Deterministic: true}`
 * (and vtprotobuf's MarshalVT): fields by number with oneof members last, map entries
 * by key, defaults left out except where a field has presence.
 */
export function encodeMessage(type: MessageSchema, message: object, options: EncodeOptions = {}): Uint8Array {
  const w = new Writer();
  encodeInto(w, planOf(type), message, type.fullName, options.strict === true);
  return w.finish();
}
