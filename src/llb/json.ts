import { decodeMessage } from "../proto/decode.ts";
import type { Pb_Definition, Pb_OpMetadata } from "../proto/generated.ts";
import { messageSchema } from "../proto/registry.ts";
import type { FieldSchema, MessageSchema } from "../proto/schema.ts";
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

function scalarToJson(field: FieldSchema, value: unknown): Json {
  if (field.enumType) return field.enumType.names.get(value as number) ?? (value as number);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "bigint") return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  return value as Json;
}

function valueToJson(field: FieldSchema, value: unknown): Json {
  return field.message ? messageToJson(field.message, value) : scalarToJson(field, value);
}

function messageToJson(type: MessageSchema, message: unknown): Json {
  const record = (message ?? {}) as Record<string, unknown>;
  const out: { [key: string]: Json } = {};
  for (const field of [...type.fields].sort((a, b) => a.id - b.id)) {
    // Decoded messages hold what was on the wire (and empty lists and maps).
    const value = record[field.name];
    if (value === undefined || value === null) continue;
    if (field.keyType !== undefined) {
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
  const opType = messageSchema("pb.Op");
  // 64-bit values exactly: file timestamps are nanoseconds, beyond 2^53.
  const decode = (bytes: Uint8Array) => decodeMessage(opType, bytes, { int64: "bigint" });
  const ops: OpJSON[] = (def.def ?? []).map((bytes) => {
    const digest = digestOf(bytes);
    const entry: OpJSON = { digest, op: messageToJson(opType, decode(bytes)) };
    const metadata = def.metadata?.[digest];
    if (metadata) entry.metadata = metadata;
    return entry;
  });
  const last = def.def?.at(-1);
  const head = last && (decode(last) as { inputs?: { digest?: string }[] }).inputs?.[0]?.digest;
  return head ? { head, ops } : { ops };
}
