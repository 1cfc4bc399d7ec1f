import protobuf from "protobufjs";
import type { Pb_Definition, Pb_OpMetadata } from "../proto/generated.ts";
import { protoRoot } from "../proto/registry.ts";
import { digestOf } from "./encode.ts";

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One op of a definition, decoded for people to read. */
export interface OpJSON {
  /** The op's digest (sha256 of its bytes as given). */
  digest: string;
  /** The decoded `pb.Op`: enums by name, bytes as base64, 64-bit ints as numbers when exact. */
  op: Json;
  /** The op's metadata (custom name, caps, ...), if any. */
  metadata?: Pb_OpMetadata;
}

/** A readable view of a definition, e.g. for `brewkit definition <target>`. */
export interface DefinitionJSON {
  /** The digest of the result op (the terminator's input), if there is one. */
  head?: string;
  /** Every op in definition order; the last one is the terminator. */
  ops: OpJSON[];
}

function isLong(v: unknown): v is { toString(): string; low: number; high: number } {
  return typeof v === "object" && v !== null && "low" in v && "high" in v;
}

function scalarToJson(field: protobuf.Field, value: unknown): Json {
  if (field.resolvedType instanceof protobuf.Enum) {
    return field.resolvedType.valuesById[value as number] ?? (value as number);
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (isLong(value) || typeof value === "bigint") {
    const big = BigInt(value.toString());
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
  }
  return value as Json;
}

function valueToJson(field: protobuf.Field, value: unknown): Json {
  return field.resolvedType instanceof protobuf.Type ? messageToJson(field.resolvedType, value) : scalarToJson(field, value);
}

function messageToJson(type: protobuf.Type, message: unknown): Json {
  const record = (message ?? {}) as Record<string, unknown>;
  const out: { [key: string]: Json } = {};
  for (const field of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
    // Decoded messages keep defaults on the prototype: own properties are what was on the wire.
    if (!Object.hasOwn(record, field.name)) continue;
    const value = record[field.name];
    if (value === undefined || value === null) continue;
    if (field instanceof protobuf.MapField) {
      const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (entries.length > 0) out[field.name] = Object.fromEntries(entries.map(([k, v]) => [k, valueToJson(field, v)]));
    } else if (field.repeated) {
      const items = value as unknown[];
      if (items.length > 0) out[field.name] = items.map((v) => valueToJson(field, v));
    } else {
      out[field.name] = valueToJson(field, value);
    }
  }
  return out;
}

/** Decodes every op of `def` into a JSON-friendly view with its digest and metadata. */
export function definitionToJSON(def: Pick<Pb_Definition, "def" | "metadata">): DefinitionJSON {
  const opType = protoRoot().lookupType("pb.Op");
  const ops: OpJSON[] = (def.def ?? []).map((bytes) => {
    const digest = digestOf(bytes);
    const entry: OpJSON = { digest, op: messageToJson(opType, opType.decode(bytes)) };
    const metadata = def.metadata?.[digest];
    if (metadata) entry.metadata = metadata;
    return entry;
  });
  const last = def.def?.at(-1);
  const head = last && (opType.decode(last) as unknown as { inputs?: { digest?: string }[] }).inputs?.[0]?.digest;
  return head ? { head, ops } : { ops };
}
