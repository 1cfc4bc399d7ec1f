import { compareUtf8 } from "./order.ts";
import type { FieldSchema, MessageSchema } from "./schema.ts";

const initialBytes = 512;
const retainedBytes = 1 << 16;

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
  buf = new Uint8Array(initialBytes);
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

// One buffer for every message: encoding is synchronous and never nested, and `finish` copies the bytes out.
const writer = new Writer();

/**
 * A value the encoder refuses. Thrown without saying where: each level it passes on the
 * way out adds its part of the field's path, so a message's fields are written without
 * building a path string for each of them.
 */
class EncodeProblem extends Error {
  /** The path of the field, outermost part first, e.g. `[".exec", ".meta", ".args", "[0]"]`. */
  readonly at: string[] = [];
}

function problem(message: string): EncodeProblem {
  return new EncodeProblem(message);
}

// Adds `part` to the path of a problem passing through; anything else goes on as it is.
function locate(err: unknown, part: string): unknown {
  if (err instanceof EncodeProblem) err.at.unshift(part);
  return err;
}

function toBigInt(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) {
    if (!Number.isSafeInteger(value)) throw problem(`${value} is not exact; pass a bigint`);
    return BigInt(value);
  }
  throw problem(`expected an integer, got ${typeof value} ${String(value)}`);
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

/** Writes a scalar's payload (no tag) the way Go's protobuf runtime does; a value of the wrong type is an `EncodeProblem`. */
type ScalarWriter = (w: Writer, value: unknown) => void;

function fixedWriter(size: 4 | 8, set: (view: DataView, value: unknown) => void): ScalarWriter {
  return (w, value) => {
    const view = new DataView(new ArrayBuffer(size));
    set(view, value);
    w.push(new Uint8Array(view.buffer));
  };
}

const scalarWriters: Record<string, ScalarWriter> = {
  string: (w, value) => {
    if (typeof value !== "string") throw problem("expected a string");
    w.string(value);
  },
  bytes: (w, value) => {
    if (!(value instanceof Uint8Array)) throw problem("expected a Uint8Array");
    w.bytes(value);
  },
  bool: (w, value) => {
    if (typeof value !== "boolean") throw problem("expected a boolean");
    w.smallVarint(value ? 1 : 0);
  },
  double: fixedWriter(8, (view, value) => {
    if (typeof value !== "number") throw problem("expected a number");
    view.setFloat64(0, value, true);
  }),
  float: fixedWriter(4, (view, value) => {
    if (typeof value !== "number") throw problem("expected a number");
    view.setFloat32(0, value, true);
  }),
  fixed32: fixedWriter(4, (view, value) => view.setUint32(0, Number(BigInt.asUintN(32, toBigInt(value))), true)),
  sfixed32: fixedWriter(4, (view, value) => view.setUint32(0, Number(BigInt.asUintN(32, toBigInt(value))), true)),
  fixed64: fixedWriter(8, (view, value) => view.setBigUint64(0, BigInt.asUintN(64, toBigInt(value)), true)),
  sfixed64: fixedWriter(8, (view, value) => view.setBigUint64(0, BigInt.asUintN(64, toBigInt(value)), true)),
  sint32: (w, value) => {
    const v = toBigInt(value);
    w.varint(v >= 0n ? v << 1n : (-v << 1n) - 1n);
  },
  uint32: (w, value) => {
    const small = smallUnsigned(value);
    if (small !== undefined && small <= 0xffffffff) w.smallVarint(small);
    else w.varint(BigInt.asUintN(32, toBigInt(value)));
  },
  // Negative int32 values are sign-extended to 64 bits: always 10 bytes.
  int32: (w, value) => {
    const small = smallUnsigned(value);
    if (small !== undefined && small <= 0x7fffffff) w.smallVarint(small);
    else w.varint(BigInt.asIntN(32, toBigInt(value)));
  },
  // int64 and uint64 (enums are written as int32)
  varint: (w, value) => {
    const small = smallUnsigned(value);
    if (small !== undefined) w.smallVarint(small);
    else w.varint(toBigInt(value));
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

function writeMap(w: Writer, field: FieldPlan, value: unknown, strict: boolean): void {
  if (typeof value !== "object" || value === null) throw problem("expected an object");
  const record = value as Record<string, unknown>;
  for (const key of sortedMapKeys(Object.keys(record), field.keyType)) {
    // Go always writes both key and value of a map entry, even when they are empty.
    w.smallVarint(field.tag);
    const entry = w.begin();
    w.smallVarint(field.keyTag);
    try {
      field.writeKey(w, mapKeyValue(key, field.keyType));
    } catch (err) {
      throw locate(err, ".key");
    }
    const item = record[key];
    w.smallVarint(field.itemTag);
    try {
      if (field.message) {
        const start = w.begin();
        encodeInto(w, planOf(field.message), item ?? {}, strict);
        w.end(start);
      } else {
        field.write(w, item);
      }
    } catch (err) {
      throw locate(err, `[${key}]`);
    }
    w.end(entry);
  }
}

function writeField(w: Writer, field: FieldPlan, value: unknown, strict: boolean): void {
  // The item being written, for the path of a problem: -1 for the field itself.
  let item = -1;
  try {
    switch (field.kind) {
      case "scalar":
        if (!field.hasPresence && isDefaultScalar(value)) return;
        w.smallVarint(field.tag);
        field.write(w, value);
        return;
      case "message": {
        // Sub-messages are written whenever present, even when empty.
        w.smallVarint(field.tag);
        const start = w.begin();
        encodeInto(w, planOf(field.message!), value, strict);
        w.end(start);
        return;
      }
      case "map":
        writeMap(w, field, value, strict);
        return;
    }
    if (!Array.isArray(value)) throw problem("expected an array");
    const length = value.length;
    if (length === 0) return;
    if (field.kind === "repeatedMessage") {
      const plan = planOf(field.message!);
      for (item = 0; item < length; item++) {
        w.smallVarint(field.tag);
        const start = w.begin();
        encodeInto(w, plan, value[item], strict);
        w.end(start);
      }
    } else if (field.kind === "packed") {
      w.smallVarint(field.tag);
      const start = w.begin();
      for (item = 0; item < length; item++) field.write(w, value[item]);
      w.end(start);
    } else {
      for (item = 0; item < length; item++) {
        w.smallVarint(field.itemTag);
        field.write(w, value[item]);
      }
    }
  } catch (err) {
    throw locate(item < 0 ? err : locate(err, `[${item}]`), `.${field.name}`);
  }
}

function encodeInto(w: Writer, plan: MessagePlan, message: unknown, strict: boolean): void {
  if (typeof message !== "object" || message === null) throw problem("expected an object");
  const record = message as Record<string, unknown>;
  const fields = plan.fields;
  // Checked before anything is written: a key the type does not have, several members of a oneof.
  if (strict) {
    let known = 0;
    for (let i = 0; i < fields.length; i++) if (record[fields[i]!.name] !== undefined) known++;
    let set = 0;
    for (const key in record) if (record[key] !== undefined) set++;
    if (set !== known) {
      const unknown = Object.keys(record).find((k) => record[k] !== undefined && !plan.type.byName.has(k));
      throw problem(`${plan.type.fullName} has no field "${unknown}"`);
    }
  }
  for (let o = 0; o < plan.oneofs.length; o++) {
    const members = plan.oneofs[o]!.members;
    let present = 0;
    for (let m = 0; m < members.length; m++) if (record[members[m]!] !== undefined && record[members[m]!] !== null) present++;
    if (present > 1) {
      const names = members.filter((n) => record[n] !== undefined && record[n] !== null);
      throw problem(`oneof ${plan.oneofs[o]!.name} has several members set (${names.join(", ")})`);
    }
  }
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const value = record[field.name];
    if (value !== undefined && value !== null) writeField(w, field, value, strict);
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
  const w = writer;
  w.length = 0;
  try {
    encodeInto(w, planOf(type), message, options.strict === true);
    return w.finish();
  } catch (err) {
    if (err instanceof EncodeProblem) throw new TypeError(`${type.fullName}${err.at.join("")}: ${err.message}`);
    throw err;
  } finally {
    // A large message (a Definition carrying a config's text) does not keep its buffer alive.
    if (w.buf.length > retainedBytes) w.buf = new Uint8Array(initialBytes);
  }
}
