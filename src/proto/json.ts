import { DecodeError, maxNestingDepth, type DecodeOptions } from "./decode.ts";
import type { FieldSchema, MessageSchema, ScalarType } from "./schema.ts";

/**
 * Reads a message in protobuf's JSON form (Go's protojson, which BuildKit uses for its
 * typed error details) into the plain object `decodeMessage` would give for the same
 * message: repeated fields as arrays and maps as objects (empty when absent), enums as
 * numbers, bytes as Buffers, 64-bit integers as numbers (bigints for the schema's
 * `bigintFields`). Fields are found by their JSON name (`proxyEnv`) or as written in
 * the .proto (`proxy_env`); unknown fields are skipped, as protojson's
 * DiscardUnknown does. A value of the wrong kind is a DecodeError. With `int64: "bigint"`
 * every 64-bit integer is a bigint.
 */
export function readProtoJson(type: MessageSchema, json: unknown, options: DecodeOptions = {}): Record<string, unknown> {
  return readMessage(type, json, 0, options.int64 === "bigint");
}

/** protoc's JSON name of a field: underscores dropped, the letter after each capitalized. */
export function jsonName(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const jsonNames = new WeakMap<MessageSchema, Map<string, FieldSchema>>();

function fieldsByJsonName(type: MessageSchema): Map<string, FieldSchema> {
  let known = jsonNames.get(type);
  if (!known) {
    known = new Map();
    for (const field of type.fields) {
      known.set(field.name, field);
      known.set(jsonName(field.name), field);
    }
    jsonNames.set(type, known);
  }
  return known;
}

function readMessage(type: MessageSchema, json: unknown, depth: number, bigints: boolean): Record<string, unknown> {
  if (depth > maxNestingDepth) throw new DecodeError(`${type.fullName}: messages nested more than ${maxNestingDepth} deep`);
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new DecodeError(`${type.fullName}: expected a JSON object, got ${kindOf(json)}`);
  const out: Record<string, unknown> = {};
  for (const field of type.fields) {
    if (field.keyType !== undefined) out[field.name] = {};
    else if (field.repeated) out[field.name] = [];
  }
  const byName = fieldsByJsonName(type);
  for (const [key, value] of Object.entries(json)) {
    const field = byName.get(key);
    // null stands for the field's default, as if it were absent.
    if (!field || value === null) continue;
    const at = `${type.fullName}.${field.name}`;
    if (field.keyType !== undefined) {
      if (typeof value !== "object" || Array.isArray(value)) throw new DecodeError(`${at}: expected a JSON object, got ${kindOf(value)}`);
      const map: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) map[mapKey(field.keyType, k, at)] = readSingle(field, v, depth, at, bigints);
      out[field.name] = map;
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new DecodeError(`${at}: expected a JSON array, got ${kindOf(value)}`);
      out[field.name] = value.map((v) => readSingle(field, v, depth, at, bigints));
    } else {
      out[field.name] = readSingle(field, value, depth, at, bigints);
      if (field.inRealOneof) {
        const rivals = type.oneofs.find((o) => o.name === field.oneof)!.members.filter((m) => m !== field.name);
        for (const rival of rivals) if (rival in out) throw new DecodeError(`${at}: another member of oneof ${field.oneof} is set too`);
      }
    }
  }
  return out;
}

function readSingle(field: FieldSchema, value: unknown, depth: number, at: string, bigints: boolean): unknown {
  if (field.type === "message") return readMessage(field.message!, value, depth + 1, bigints);
  if (field.type === "enum") {
    if (typeof value === "string") {
      const number = field.enumType!.values[value];
      if (number === undefined) throw new DecodeError(`${at}: ${JSON.stringify(value)} is not a value of ${field.enumType!.fullName}`);
      return number;
    }
    return integer(value, "int32", at);
  }
  return scalar(field.type, value, field.int64 || bigints, at);
}

const int64Types = new Set<ScalarType>(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

function scalar(type: ScalarType, value: unknown, exact: boolean, at: string): unknown {
  switch (type) {
    case "string":
      if (typeof value !== "string") throw new DecodeError(`${at}: expected a string, got ${kindOf(value)}`);
      return value;
    case "bytes":
      if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw new DecodeError(`${at}: expected base64 bytes, got ${kindOf(value)}`);
      return Buffer.from(value, value.includes("-") || value.includes("_") ? "base64url" : "base64");
    case "bool":
      if (typeof value !== "boolean") throw new DecodeError(`${at}: expected true or false, got ${kindOf(value)}`);
      return value;
    case "double":
    case "float":
      if (typeof value === "number") return value;
      if (value === "NaN") return Number.NaN;
      if (value === "Infinity") return Number.POSITIVE_INFINITY;
      if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
      if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
      throw new DecodeError(`${at}: expected a number, got ${kindOf(value)}`);
    default: {
      const n = integer(value, type, at);
      if (!int64Types.has(type)) return n;
      if (exact) return n;
      if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) throw new DecodeError(`${at}: ${n} is beyond 2^53`);
      return Number(n);
    }
  }
}

/** An integer of `type` from a JSON number or a decimal string; 32-bit types as numbers, 64-bit ones as bigints. */
function integer(value: unknown, type: ScalarType, at: string): number | bigint {
  let n: bigint;
  if (typeof value === "number" && Number.isInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && /^-?\d+$/.test(value)) n = BigInt(value);
  else throw new DecodeError(`${at}: expected an integer, got ${kindOf(value)}`);
  const [min, max] = ranges[type] ?? [-(2n ** 31n), 2n ** 31n - 1n];
  if (n < min || n > max) throw new DecodeError(`${at}: ${n} is out of range for ${type}`);
  return int64Types.has(type) ? n : Number(n);
}

const ranges: Partial<Record<ScalarType, [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

// Map keys are always JSON strings; decodeMessage gives them as strings too.
function mapKey(type: ScalarType, key: string, at: string): string {
  if (type === "string") return key;
  if (type === "bool") {
    if (key !== "true" && key !== "false") throw new DecodeError(`${at}: map key ${JSON.stringify(key)} is not a bool`);
    return key;
  }
  return String(integer(key, type, at));
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}
