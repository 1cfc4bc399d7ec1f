// The messages brewkit speaks, read from the descriptor the build makes of proto/ (the
// JSON form of the parsed .proto files). Types are built the first time they are used:
// a run needs a small part of the schema, and starting up counts.

/** A protobuf scalar type name. */
export type ScalarType =
  | "double" | "float" | "int32" | "int64" | "uint32" | "uint64" | "sint32" | "sint64"
  | "fixed32" | "fixed64" | "sfixed32" | "sfixed64" | "bool" | "string" | "bytes";

/** An enum: its values by name, and names by value. */
export interface EnumSchema {
  readonly kind: "enum";
  readonly fullName: string;
  readonly values: Readonly<Record<string, number>>;
  readonly names: ReadonlyMap<number, string>;
}

/** One field of a message. */
export interface FieldSchema {
  readonly name: string;
  readonly id: number;
  /** The scalar type, or "message" / "enum" (see `message` and `enumType`). */
  readonly type: ScalarType | "message" | "enum";
  /** A repeated field (map fields are not: they have `keyType`). */
  readonly repeated: boolean;
  /** For a map field, the type of its keys (its values are described by the rest). */
  readonly keyType: ScalarType | undefined;
  /** Repeated numbers written as one length-delimited run (proto3's default). */
  readonly packed: boolean;
  /** The oneof the field belongs to, synthetic ones (proto3 `optional`) included. */
  readonly oneof: string | undefined;
  /** Member of a oneof the user wrote (not the synthetic one of a proto3 `optional`). */
  readonly inRealOneof: boolean;
  /** The message type of a message field (or map value). */
  readonly message: MessageSchema | undefined;
  /** The enum type of an enum field (or map value). */
  readonly enumType: EnumSchema | undefined;
  /** A 64-bit integer field whose values pass 2^53: decoded as bigints (see `bigintFields`). */
  readonly int64: boolean;
}

/** A message type. */
export interface MessageSchema {
  readonly kind: "message";
  readonly fullName: string;
  /** Fields in declaration order. */
  readonly fields: readonly FieldSchema[];
  readonly byName: ReadonlyMap<string, FieldSchema>;
  readonly byId: ReadonlyMap<number, FieldSchema>;
  /** Real oneofs in declaration order, with their members. */
  readonly oneofs: readonly { readonly name: string; readonly members: readonly string[] }[];
}

/** The JSON descriptor: nested namespaces, message types (`fields`) and enums (`values`). */
export interface DescriptorJson {
  nested?: Record<string, DescriptorJson>;
  fields?: Record<string, { type: string; id: number; rule?: string; keyType?: string; options?: Record<string, unknown> }>;
  oneofs?: Record<string, { oneof: string[] }>;
  values?: Record<string, number>;
  [other: string]: unknown;
}

/**
 * 64-bit fields whose values pass 2^53 (nanosecond durations and times: 2^53 ns is 104
 * days), given as bigints by the decoder so that they stay exact. Every other 64-bit
 * field brewkit reads (sizes, counts, seconds) is a number, exact below 2^53.
 */
export const bigintFields: ReadonlySet<string> = new Set([
  "moby.buildkit.v1.PruneRequest.keepDuration",
  "moby.buildkit.v1.DiskUsageRequest.ageLimit",
  "moby.buildkit.v1.types.GCPolicy.keepDuration",
  "pb.FileActionCopy.timestamp",
  "pb.FileActionMkFile.timestamp",
  "pb.FileActionSymlink.timestamp",
  "pb.FileActionMkDir.timestamp",
  "fsutil.types.Stat.modTime",
]);

const scalarTypes = new Set<string>(["double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes"]);
const packableTypes = new Set<string>([...scalarTypes].filter((t) => t !== "string" && t !== "bytes"));

/** A schema error: the descriptor and the code disagree. */
export class SchemaError extends Error {
  override name = "SchemaError";
}

/** Every type of a descriptor, by full name (`pb.Op`, `moby.buildkit.v1.SolveRequest`). */
export class Schema {
  private readonly raw = new Map<string, DescriptorJson>();
  private readonly built = new Map<string, MessageSchema | EnumSchema>();

  constructor(descriptor: DescriptorJson) {
    const visit = (node: DescriptorJson, prefix: string) => {
      for (const [name, child] of Object.entries(node.nested ?? {})) {
        const fullName = prefix ? `${prefix}.${name}` : name;
        if (child.fields || child.values) this.raw.set(fullName, child);
        visit(child, fullName);
      }
    };
    visit(descriptor, "");
  }

  /** The message type `fullName`. */
  message(fullName: string): MessageSchema {
    const type = this.type(fullName);
    if (type.kind !== "message") throw new SchemaError(`${fullName} is an enum, not a message`);
    return type;
  }

  private type(fullName: string): MessageSchema | EnumSchema {
    const known = this.built.get(fullName);
    if (known) return known;
    const raw = this.raw.get(fullName);
    if (!raw) throw new SchemaError(`no type ${fullName} in brewkit's proto descriptor`);
    if (raw.values) {
      const values = raw.values;
      const names = new Map<number, string>();
      for (const [name, value] of Object.entries(values)) if (!names.has(value)) names.set(value, name);
      const built: EnumSchema = { kind: "enum", fullName, values, names };
      this.built.set(fullName, built);
      return built;
    }
    // Registered before its fields are built: a message may refer to itself.
    const fields: FieldSchema[] = [];
    const oneofs: { name: string; members: string[] }[] = [];
    const built: MessageSchema = { kind: "message", fullName, fields, byName: new Map(), byId: new Map(), oneofs };
    this.built.set(fullName, built);
    const oneofOf = new Map<string, { name: string; real: boolean }>();
    for (const [name, oneof] of Object.entries(raw.oneofs ?? {})) {
      const members = oneof.oneof;
      // A proto3 `optional` field lives in a oneof of its own: `_<field>`.
      const real = !(members.length === 1 && raw.fields?.[members[0]!]?.options?.["proto3_optional"] === true);
      for (const member of members) oneofOf.set(member, { name, real });
      if (real) oneofs.push({ name, members });
    }
    for (const [name, f] of Object.entries(raw.fields ?? {})) {
      const repeated = f.rule === "repeated";
      let type: FieldSchema["type"];
      let message: MessageSchema | undefined;
      let enumType: EnumSchema | undefined;
      if (scalarTypes.has(f.type)) type = f.type as ScalarType;
      else {
        const resolved = this.type(this.resolve(f.type, fullName));
        if (resolved.kind === "message") {
          type = "message";
          message = resolved;
        } else {
          type = "enum";
          enumType = resolved;
        }
      }
      const oneof = oneofOf.get(name);
      const keyType = f.keyType === undefined ? undefined : (f.keyType as ScalarType);
      const packed = repeated && keyType === undefined && (type === "enum" || packableTypes.has(type)) && f.options?.["packed"] !== false;
      const int64 = bigintFields.has(`${fullName}.${name}`);
      if (int64 && !/64$/.test(f.type)) throw new SchemaError(`${fullName}.${name} is listed as a 64-bit field but is ${f.type}`);
      const field: FieldSchema = { name, id: f.id, type, repeated, keyType, packed, oneof: oneof?.name, inRealOneof: oneof?.real === true, message, enumType, int64 };
      fields.push(field);
      (built.byName as Map<string, FieldSchema>).set(name, field);
      (built.byId as Map<number, FieldSchema>).set(f.id, field);
    }
    return built;
  }

  // A type reference as protobuf scopes it: from the referring message outwards.
  private resolve(ref: string, from: string): string {
    if (ref.startsWith(".")) return ref.slice(1);
    for (let scope = from; scope !== ""; scope = scope.includes(".") ? scope.slice(0, scope.lastIndexOf(".")) : "") {
      if (this.raw.has(`${scope}.${ref}`)) return `${scope}.${ref}`;
    }
    if (this.raw.has(ref)) return ref;
    throw new SchemaError(`type ${ref} used in ${from} is not in brewkit's proto descriptor`);
  }
}
