// brewkit's protobuf codec (src/proto) against protobufjs, an independent implementation:
// random messages of every type in brewkit's descriptor (and of a type with every scalar,
// map key and field kind), encoded by one and decoded by the other, both ways; and
// truncated, mutated and hostile inputs, which must give a DecodeError, never another
// exception or a hang. Deterministic: FUZZ_SEED=<n> replays a run; a failure names its seed.
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { FileSyncProtocolError } from "../../src/filesync/errors.ts";
import { decodePacket, encodePacket, type Packet, type Stat } from "../../src/filesync/packet.ts";
import { DecodeError, decodeMessage, maxNestingDepth } from "../../src/proto/decode.ts";
import { encodeMessage } from "../../src/proto/encode.ts";
import { readProtoJson } from "../../src/proto/json.ts";
import { parseProtoFiles } from "../../src/proto/parse.ts";
import { messageSchema } from "../../src/proto/registry.ts";
import { bigintFields, Schema, type DescriptorJson, type FieldSchema, type MessageSchema, type ScalarType } from "../../src/proto/schema.ts";

const seed = Number(process.env.FUZZ_SEED ?? 20261202);

/** mulberry32: a small seeded PRNG, so that every run makes the same messages. */
function prng(start: number) {
  let state = start >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, pick, bytes, chance: (p: number) => next() < p };
}
type Random = ReturnType<typeof prng>;

/** Runs `body` for the seed's iterations; a failure says how to replay it. */
function property(name: string, iterations: number, body: (random: Random, i: number) => void): void {
  const random = prng(seed ^ hashOf(name));
  for (let i = 0; i < iterations; i++) {
    try {
      body(random, i);
    } catch (err) {
      throw new Error(`${name}: iteration ${i} failed (replay with FUZZ_SEED=${seed}): ${(err as Error).message}`, { cause: err });
    }
  }
}

function hashOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

// ---------------------------------------------------------------------------
// The schemas: brewkit's descriptor, and a type that uses everything protobuf has.

const everyKind = `
syntax = "proto3";
package fuzz;
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Everything {
  double d = 1; float f = 2; int32 i32 = 3; int64 i64 = 4; uint32 u32 = 5; uint64 u64 = 6;
  sint32 s32 = 7; sint64 s64 = 8; fixed32 f32 = 9; fixed64 f64 = 10; sfixed32 sf32 = 11;
  sfixed64 sf64 = 12; bool b = 13; string s = 14; bytes by = 15; Color color = 16; Everything child = 17;
  repeated double rd = 21; repeated float rf = 22; repeated int32 ri32 = 23; repeated int64 ri64 = 24;
  repeated uint32 ru32 = 25; repeated uint64 ru64 = 26; repeated sint32 rs32 = 27; repeated sint64 rs64 = 28;
  repeated fixed32 rf32 = 29; repeated fixed64 rf64 = 30; repeated sfixed32 rsf32 = 31; repeated sfixed64 rsf64 = 32;
  repeated bool rb = 33; repeated string rs = 34; repeated bytes rby = 35; repeated Color rcolor = 36;
  repeated Everything children = 37;
  repeated int32 unpacked32 = 40 [packed = false]; repeated sint64 unpacked64 = 41 [packed = false];
  repeated double unpackedDouble = 42 [packed = false]; repeated Color unpackedColor = 43 [packed = false];
  map<string, string> mss = 50; map<int32, bytes> mi32 = 51; map<int64, int64> mi64 = 52;
  map<uint32, Color> mu32 = 53; map<uint64, double> mu64 = 54; map<sint32, float> ms32 = 55;
  map<sint64, bool> ms64 = 56; map<fixed32, Everything> mf32 = 57; map<fixed64, sint32> mf64 = 58;
  map<sfixed32, uint64> msf32 = 59; map<sfixed64, string> msf64 = 60; map<bool, int32> mb = 61;
  map<string, Everything> msm = 62;
  oneof choice { string os = 70; int64 oi = 71; Everything om = 72; bytes ob = 73; }
  optional int32 opt32 = 74; optional string optString = 75; optional Everything optMessage = 76;
}
`;

const brewkitRoot = parseProtoFiles().resolveAll();
const everyKindRoot = protobuf.parse(everyKind, { keepCase: true }).root.resolveAll();
const everyKindSchema = new Schema(everyKindRoot.toJSON() as DescriptorJson);

/** Every message type of brewkit's descriptor, by full name. */
function brewkitTypeNames(): string[] {
  const names: string[] = [];
  const visit = (ns: protobuf.NamespaceBase) => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type && !nested.fullName.startsWith(".google.protobuf.") ) names.push(nested.fullName.slice(1));
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) visit(nested);
    }
  };
  visit(brewkitRoot);
  return names;
}

interface Subject {
  ours: MessageSchema;
  theirs: protobuf.Type;
}

const subjects: Subject[] = [
  ...brewkitTypeNames().map((name) => ({ ours: messageSchema(name), theirs: brewkitRoot.lookupType(name) })),
  // Google's well-known types brewkit uses (Timestamp, Any, ...).
  ...["google.protobuf.Timestamp", "google.protobuf.Any"].map((name) => ({ ours: messageSchema(name), theirs: brewkitRoot.lookupType(name) })),
  { ours: everyKindSchema.message("fuzz.Everything"), theirs: everyKindRoot.lookupType("fuzz.Everything") },
];

// ---------------------------------------------------------------------------
// Random messages, as brewkit's encoder takes them (64-bit integers as bigints).

const int32Edges = [0, 1, -1, 127, 128, 300, 2 ** 31 - 1, -(2 ** 31)];
const uint32Edges = [0, 1, 127, 128, 2 ** 31, 2 ** 32 - 1];
const int64Edges = [0n, 1n, -1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n)];
const uint64Edges = [0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n];
const doubleEdges = [0, -0, 1.5, -1e300, Number.MIN_VALUE, Infinity, -Infinity, NaN];
const floatEdges = [0, -0, 1.5, 3.4028234663852886e38, -1.1754943508222875e-38, Infinity, NaN];
const textPieces = ["a", "brewkit", "/src/app", " ", "é", "€", "日本", "😀", "\u0000", "\uffff", "𝄞x"];

function randomInt64(random: Random): bigint {
  return random.chance(0.3) ? random.pick(int64Edges) : BigInt.asIntN(64, random.bytes(8).readBigUInt64LE(0) >> BigInt(random.int(64)));
}

function randomScalar(type: ScalarType, random: Random): unknown {
  switch (type) {
    case "double":
      return random.chance(0.3) ? random.pick(doubleEdges) : (random.next() - 0.5) * 10 ** random.int(20);
    case "float":
      return Math.fround(random.chance(0.3) ? random.pick(floatEdges) : (random.next() - 0.5) * 10 ** random.int(10));
    case "int32":
    case "sint32":
    case "sfixed32":
      return random.chance(0.4) ? random.pick(int32Edges) : random.bytes(4).readInt32LE(0) >> random.int(32);
    case "uint32":
    case "fixed32":
      return random.chance(0.4) ? random.pick(uint32Edges) : random.bytes(4).readUInt32LE(0) >>> random.int(32);
    case "int64":
    case "sint64":
    case "sfixed64":
      return randomInt64(random);
    case "uint64":
    case "fixed64":
      return random.chance(0.3) ? random.pick(uint64Edges) : random.bytes(8).readBigUInt64LE(0) >> BigInt(random.int(64));
    case "bool":
      return random.chance(0.5);
    case "string":
      return Array.from({ length: random.int(random.chance(0.1) ? 60 : 6) }, () => random.pick(textPieces)).join("");
    case "bytes":
      return random.bytes(random.int(random.chance(0.1) ? 300 : 12));
  }
}

function randomValue(field: FieldSchema, random: Random, depth: number): unknown {
  if (field.type === "message") return randomMessage(field.message!, random, depth + 1);
  if (field.type === "enum") {
    const known = Object.values(field.enumType!.values);
    // proto3 enums are open: an unknown number is kept.
    return random.chance(0.85) ? random.pick(known) : random.int(1000);
  }
  return randomScalar(field.type, random);
}

function randomKey(type: ScalarType, random: Random): string {
  const key = randomScalar(type, random);
  return String(key);
}

function randomMessage(type: MessageSchema, random: Random, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Fewer fields deeper down: a recursive type would otherwise grow exponentially.
  const presence = [0.7, 0.3, 0.15][depth] ?? 0;
  const chosenOneof = new Map(type.oneofs.map((o) => [o.name, random.pick(o.members)]));
  for (const field of type.fields) {
    if (field.type === "message" && depth >= 2) continue;
    if (field.inRealOneof && chosenOneof.get(field.oneof!) !== field.name) continue;
    if (!random.chance(presence)) continue;
    const count = random.int(4);
    if (field.keyType !== undefined) {
      const map: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) map[randomKey(field.keyType, random)] = randomValue(field, random, depth);
      out[field.name] = map;
    } else if (field.repeated) {
      out[field.name] = Array.from({ length: count }, () => randomValue(field, random, depth));
    } else {
      out[field.name] = randomValue(field, random, depth);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// One canonical form for what either side gives, so that they can be compared:
// absent scalars without presence are their default, 64-bit integers and map keys
// decimal strings, bytes hex, floats with their sign of zero.

const is64 = (type: string) => /64$/.test(type);

function canonScalar(type: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  if (is64(type)) return typeof value === "object" && value !== null ? String(value) : BigInt(value as bigint | number | string).toString();
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  return value;
}

function defaultScalar(type: string): unknown {
  if (type === "string") return "";
  if (type === "bytes") return "";
  if (type === "bool") return false;
  return canonScalar(type, is64(type) ? 0n : 0);
}

/** The canonical form of `value`, a message of `type` as brewkit or protobufjs gives it (`theirs`). */
function canon(type: MessageSchema, value: Record<string, unknown> | undefined, theirs: boolean): Record<string, unknown> {
  const record = value ?? {};
  const out: Record<string, unknown> = {};
  for (const field of type.fields) {
    const v = record[field.name];
    const scalarType = field.type === "enum" ? "int32" : field.type;
    const item = (x: unknown) => (field.type === "message" ? canon(field.message!, x as Record<string, unknown>, theirs) : canonScalar(scalarType, x));
    if (field.keyType !== undefined) {
      const entries = Object.entries((v ?? {}) as Record<string, unknown>).map(([k, x]) => {
        // protobufjs keys 64-bit map entries by an 8-byte hash of the number.
        const key = theirs && is64(field.keyType!) ? protobuf.util.longFromHash(k, field.keyType!.startsWith("u") || field.keyType === "fixed64").toString() : is64(field.keyType!) || field.keyType !== "string" ? canonKey(field.keyType!, k) : k;
        return [key, item(x)] as const;
      });
      out[field.name] = Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    } else if (field.repeated) out[field.name] = ((v ?? []) as unknown[]).map(item);
    else if (v !== undefined && v !== null) out[field.name] = item(v);
    else if (field.oneof === undefined && field.type !== "message") out[field.name] = defaultScalar(scalarType);
  }
  return out;
}

function canonKey(type: string, key: string): string {
  if (type === "bool") return key;
  return BigInt(key).toString();
}

// ---------------------------------------------------------------------------
// The two codecs.

function oursEncode(subject: Subject, message: Record<string, unknown>): Buffer {
  return Buffer.from(encodeMessage(subject.ours, message, { strict: true }));
}

function oursDecode(subject: Subject, bytes: Uint8Array): Record<string, unknown> {
  return decodeMessage(subject.ours, bytes, { int64: "bigint" });
}

/** protobufjs's plain object of `message`: 64-bit integers as strings, bytes as Buffers. */
function forProtobufjs(type: MessageSchema, message: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message)) {
    const field = type.byName.get(name)!;
    const convert = (x: unknown): unknown => (field.type === "message" ? forProtobufjs(field.message!, x as Record<string, unknown>) : typeof x === "bigint" ? x.toString() : x);
    if (field.keyType !== undefined) out[name] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, x]) => [k, convert(x)]));
    else if (field.repeated) out[name] = (value as unknown[]).map(convert);
    else out[name] = convert(value);
  }
  return out;
}

function theirsEncode(subject: Subject, message: Record<string, unknown>): Buffer {
  const t = subject.theirs;
  return Buffer.from(t.encode(t.fromObject(forProtobufjs(subject.ours, message))).finish());
}

function theirsDecode(subject: Subject, bytes: Uint8Array): Record<string, unknown> {
  const t = subject.theirs;
  // A plain Uint8Array: protobufjs's reader of Buffers cuts a string that runs past the end short instead of failing.
  return t.toObject(t.decode(new Uint8Array(bytes)), { longs: String, enums: Number, arrays: true, objects: true }) as Record<string, unknown>;
}

/** protobufjs writes every key of a map<bool, _> as true (its keys are strings): leave them out of what it encodes. */
function withoutBoolKeyedMaps(type: MessageSchema, message: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message)) {
    const field = type.byName.get(name)!;
    if (field.keyType === "bool") continue;
    const strip = (x: unknown) => (field.type === "message" ? withoutBoolKeyedMaps(field.message!, x as Record<string, unknown>) : x);
    if (field.keyType !== undefined) out[name] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, x]) => [k, strip(x)]));
    else if (field.repeated) out[name] = (value as unknown[]).map(strip);
    else out[name] = strip(value);
  }
  return out;
}

/** protobufjs keys 64-bit and bool map entries by hashes or strings of its own in JSON: leave those maps out. */
function withoutHashedMapKeys(type: MessageSchema, message: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message)) {
    const field = type.byName.get(name)!;
    if (field.keyType === "bool" || (field.keyType !== undefined && is64(field.keyType))) continue;
    const strip = (x: unknown) => (field.type === "message" ? withoutHashedMapKeys(field.message!, x as Record<string, unknown>) : x);
    if (field.keyType !== undefined) out[name] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, x]) => [k, strip(x)]));
    else if (field.repeated) out[name] = (value as unknown[]).map(strip);
    else out[name] = strip(value);
  }
  return out;
}

/** Decodes with brewkit's decoder: the message, or the DecodeError; any other exception fails the test. */
function oursOutcome(subject: Subject, bytes: Uint8Array): { value?: Record<string, unknown>; error?: DecodeError } {
  try {
    return { value: oursDecode(subject, bytes) };
  } catch (err) {
    if (err instanceof DecodeError) return { error: err };
    throw new Error(`${subject.ours.fullName}: ${(err as Error).name} instead of a DecodeError for ${Buffer.from(bytes).toString("hex").slice(0, 400)}: ${(err as Error).message}`, { cause: err });
  }
}

function theirsOutcome(subject: Subject, bytes: Uint8Array): { value?: Record<string, unknown>; error?: Error } {
  try {
    return { value: theirsDecode(subject, bytes) };
  } catch (err) {
    return { error: err as Error };
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** Where each top-level field of a valid message ends (and 0), read with protobufjs's reader. */
function fieldBoundaries(bytes: Uint8Array): Set<number> {
  const reader = protobuf.Reader.create(new Uint8Array(bytes));
  const ends = new Set([0]);
  while (reader.pos < reader.len) {
    reader.skipType(reader.uint32() & 7);
    ends.add(reader.pos);
  }
  return ends;
}

/** Asserts that two canonical forms are equal: as JSON first (fast), with vitest's diff when they differ. */
function expectSame(actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual, what).toEqual(expected);
}

/** Iterations per type: many for the type with every kind of field, a few for each of brewkit's. */
const iterationsOf = (subject: Subject, many: number, few: number) => (subject === subjects.at(-1) ? many : few);

// On a machine shared with other work, the fuzz takes longer than vitest's default 5 s.
const fuzzTimeoutMs = 60_000;

// ---------------------------------------------------------------------------

describe("brewkit's protobuf codec against protobufjs", () => {
  it("covers every message type of brewkit's descriptor", () => {
    expect(subjects.length).toBeGreaterThan(100);
    for (const name of bigintFields) {
      const [typeName, fieldName] = [name.slice(0, name.lastIndexOf(".")), name.slice(name.lastIndexOf(".") + 1)];
      const field = messageSchema(typeName).byName.get(fieldName);
      expect(field?.int64, name).toBe(true);
      expect(is64(field!.type), name).toBe(true);
    }
  });

  it("decodes what protobufjs encodes, and protobufjs decodes what brewkit encodes", () => {
    for (const subject of subjects) {
      property(`round trip of ${subject.ours.fullName}`, iterationsOf(subject, 120, 12), (random) => {
        const message = randomMessage(subject.ours, random);
        const expected = canon(subject.ours, message, false);

        const ours = oursEncode(subject, message);
        const decodedByThem = canon(subject.ours, theirsDecode(subject, ours), true);
        expectSame(decodedByThem, expected, `protobufjs decoding brewkit's ${hex(ours)}`);

        const forThem = withoutBoolKeyedMaps(subject.ours, message);
        const theirs = theirsEncode(subject, forThem);
        const decodedByUs = canon(subject.ours, oursDecode(subject, theirs), false);
        expectSame(decodedByUs, canon(subject.ours, forThem, false), `brewkit decoding protobufjs's ${hex(theirs)}`);
      });
    }
  }, fuzzTimeoutMs);

  it("reads protobuf JSON (as protobufjs writes it, like Go's protojson) into what the same message's bytes decode to", () => {
    for (const subject of subjects) {
      property(`JSON of ${subject.ours.fullName}`, iterationsOf(subject, 120, 12), (random) => {
        const message = withoutHashedMapKeys(subject.ours, randomMessage(subject.ours, random));
        const bytes = oursEncode(subject, message);
        const t = subject.theirs;
        const json = JSON.parse(JSON.stringify(t.toObject(t.decode(new Uint8Array(bytes)), { longs: String, enums: String, bytes: String, json: true })));
        const read = canon(subject.ours, readProtoJson(subject.ours, json, { int64: "bigint" }), false);
        // JSON has no negative zero.
        const expected = JSON.parse(JSON.stringify(canon(subject.ours, oursDecode(subject, bytes), false)).replaceAll('"-0"', '"0"'));
        expectSame(read, expected, `brewkit reading ${JSON.stringify(json)}`);
      });
    }
  }, fuzzTimeoutMs);

  it("refuses protobuf JSON of the wrong shape with a DecodeError", () => {
    const op = messageSchema("pb.Op");
    for (const bad of [[], "op", { inputs: {} }, { inputs: [{ index: "1.5" }] }, { exec: { network: "NOPE" } }, { exec: { mounts: [{ input: 2 ** 60 }] } }, { exec: { meta: { args: [1] } } }, { exec: {}, file: {} }]) {
      expect(() => readProtoJson(op, bad), JSON.stringify(bad)).toThrow(DecodeError);
    }
    expect(readProtoJson(op, { exec: { meta: { proxy_env: { http_proxy: "x" } }, mounts: [{ input: "-1", mountType: "CACHE", cacheOpt: { ID: "c" } }] }, unknown: 1 })).toMatchObject({
      exec: { meta: { proxy_env: { http_proxy: "x" } }, mounts: [{ input: -1, mountType: 3, cacheOpt: { ID: "c" } }] },
    });
    expect(readProtoJson(op, { exec: { meta: { proxyEnv: { httpProxy: "y" } } } })).toMatchObject({ exec: { meta: { proxy_env: { http_proxy: "y" } } } });
  });

  it("gives 64-bit integers as exact numbers, as bigints in the fields that need them, and refuses inexact ones", () => {
    for (const subject of subjects) {
      property(`64-bit numbers of ${subject.ours.fullName}`, iterationsOf(subject, 40, 5), (random) => {
        const bytes = oursEncode(subject, randomMessage(subject.ours, random));
        const exact = oursDecode(subject, bytes);
        let asNumbers: Record<string, unknown> | undefined;
        try {
          asNumbers = decodeMessage(subject.ours, bytes);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          expect(err.message).toMatch(/beyond 2\^53/);
          expect(unsafeNumberIn(subject.ours, exact), `${hex(bytes)} was refused: ${err.message}`).toBe(true);
          return;
        }
        expect(unsafeNumberIn(subject.ours, exact)).toBe(false);
        expect(asNumbers).toEqual(toNumbers(subject.ours, exact));
      });
    }
  }, fuzzTimeoutMs);

  it("decodes a truncated message only where a field ends, then as protobufjs does; elsewhere fails", () => {
    for (const subject of subjects) {
      property(`truncations of ${subject.ours.fullName}`, iterationsOf(subject, 30, 4), (random) => {
        const bytes = oursEncode(subject, randomMessage(subject.ours, random));
        // protobufjs is no judge of where a message may end: it accepts a varint cut
        // after four bytes. A prefix is a message exactly when it ends between two fields.
        const boundaries = fieldBoundaries(bytes);
        const cuts = bytes.length <= 64 ? Array.from({ length: bytes.length }, (_, i) => i) : Array.from({ length: 40 }, () => random.int(bytes.length));
        for (const cut of cuts) {
          const truncated = bytes.subarray(0, cut);
          const ours = oursOutcome(subject, truncated);
          const say = `cut at ${cut} of ${hex(bytes)}: ${ours.error?.message ?? "decoded"}`;
          expect(ours.error === undefined, say).toBe(boundaries.has(cut));
          if (ours.value) expectSame(canon(subject.ours, ours.value, false), canon(subject.ours, theirsDecode(subject, truncated), true), say);
        }
      });
    }
  }, fuzzTimeoutMs);

  it("answers mutated and random bytes with a message or a DecodeError, never another exception", () => {
    for (const subject of subjects) {
      property(`mutations of ${subject.ours.fullName}`, iterationsOf(subject, 200, 20), (random) => {
        const bytes = Buffer.from(oursEncode(subject, randomMessage(subject.ours, random)));
        const mutated = mutate(bytes, random);
        oursOutcome(subject, mutated);
        oursOutcome(subject, random.bytes(random.int(64)));
      });
    }
  }, fuzzTimeoutMs);
});

function mutate(bytes: Buffer, random: Random): Buffer {
  const out = Buffer.from(bytes);
  if (out.length === 0) return random.bytes(1 + random.int(8));
  switch (random.int(4)) {
    case 0:
      out[random.int(out.length)] = random.int(256);
      return out;
    case 1: {
      const at = random.int(out.length);
      out[at] = out[at]! ^ (1 << random.int(8));
      return out;
    }
    case 2: {
      const at = random.int(out.length);
      return Buffer.concat([out.subarray(0, at), random.bytes(1 + random.int(6)), out.subarray(at)]);
    }
    default: {
      const at = random.int(out.length);
      return Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + random.int(4))]);
    }
  }
}

/** True when a 64-bit value outside the bigint fields is not a safe integer. */
function unsafeNumberIn(type: MessageSchema, message: Record<string, unknown>): boolean {
  return type.fields.some((field) => {
    const v = message[field.name];
    if (v === undefined) return false;
    const values = field.keyType !== undefined ? Object.values(v as object) : field.repeated ? (v as unknown[]) : [v];
    if (field.type === "message") return values.some((x) => unsafeNumberIn(field.message!, x as Record<string, unknown>));
    return !field.int64 && values.some((x) => typeof x === "bigint" && !Number.isSafeInteger(Number(x)));
  });
}

/** `message` with the 64-bit values outside the bigint fields as numbers. */
function toNumbers(type: MessageSchema, message: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(message)) {
    const field = type.byName.get(name)!;
    const convert = (x: unknown): unknown => (field.type === "message" ? toNumbers(field.message!, x as Record<string, unknown>) : typeof x === "bigint" && !field.int64 ? Number(x) : x);
    if (field.keyType !== undefined) out[name] = Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, convert(x)]));
    else if (field.repeated) out[name] = (v as unknown[]).map(convert);
    else out[name] = convert(v);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Hostile inputs, each the smallest of its kind.

const everything = subjects.at(-1)!;

/** A varint's bytes. */
function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A field's tag as bytes. */
const tag = (id: number, wire: number) => varint(id * 8 + wire);

function decodeError(subject: Subject, bytes: number[] | Buffer, options: { int64?: "number" | "bigint" } = {}): string {
  try {
    decodeMessage(subject.ours, Buffer.from(bytes), options);
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return (err as Error).message;
  }
  throw new Error(`${hex(Buffer.from(bytes))} was accepted`);
}

/** Messages nested in each other: the first tag is the outermost field, each holds the next. */
function nest(tags: readonly number[][]): Buffer {
  // Sizes from the inside out, then the prefixes from the outside in.
  const contentSizes = new Array<number>(tags.length);
  let size = 0;
  for (let i = tags.length - 1; i >= 0; i--) {
    contentSizes[i] = size;
    size += tags[i]!.length + varint(size).length;
  }
  const out = Buffer.alloc(size);
  let at = 0;
  tags.forEach((t, i) => {
    for (const byte of [...t, ...varint(contentSizes[i]!)]) out[at++] = byte;
  });
  return out;
}

/** pb.Definitions nested `levels` times through Source → SourceInfo → Definition (three messages a level). */
function nestedDefinitions(levels: number): Buffer {
  const definition = messageSchema("pb.Definition");
  const source = messageSchema("pb.Source");
  const sourceInfo = messageSchema("pb.SourceInfo");
  const fieldTag = (type: MessageSchema, fieldType: MessageSchema) => tag(type.fields.find((f) => f.message === fieldType)!.id, 2);
  const level = [fieldTag(definition, source), fieldTag(source, sourceInfo), fieldTag(sourceInfo, definition)];
  return nest(Array.from({ length: levels }, () => level).flat());
}

describe("hostile input", () => {
  const definition: Subject = { ours: messageSchema("pb.Definition"), theirs: brewkitRoot.lookupType("pb.Definition") };

  it("refuses a deeply recursive message with an error, not a stack overflow, as protobufjs does", () => {
    const deep = nestedDefinitions(140_000);
    expect(deep.length).toBeGreaterThan(1_000_000);
    expect(decodeError(definition, deep)).toMatch(new RegExp(`nested more than ${maxNestingDepth}`));
    expect(theirsOutcome(definition, deep).error?.message).toMatch(/nesting depth/);
  });

  it("accepts nesting up to the limit and refuses one level more, like protobufjs", () => {
    // fuzz.Everything.child (17) nests one level at a time; the outer message is depth 0.
    const nested = (depth: number) => nest(Array.from({ length: depth }, () => tag(17, 2)));
    expect(oursOutcome(everything, nested(maxNestingDepth)).error).toBeUndefined();
    expect(theirsOutcome(everything, nested(maxNestingDepth)).error).toBeUndefined();
    expect(oursOutcome(everything, nested(maxNestingDepth + 1)).error?.message).toMatch(/nested more than/);
    expect(theirsOutcome(everything, nested(maxNestingDepth + 1)).error).toBeDefined();
  });

  it("refuses a truncated unknown fixed32 or fixed64 field", () => {
    // Field 999 is unknown to fuzz.Everything.
    const fixed64Tag = tag(999, 1);
    const fixed32Tag = tag(999, 5);
    expect(decodeError(everything, [...fixed64Tag, 1, 2, 3])).toMatch(/fixed-size value runs past the end/);
    expect(decodeError(everything, [...fixed32Tag, 1, 2, 3])).toMatch(/fixed-size value runs past the end/);
    // Inside a nested message: the field must stay within its own message, not the buffer.
    const child = [...fixed32Tag, 1, 2];
    expect(decodeError(everything, [...tag(17, 2), child.length, ...child, ...tag(3, 0), 1])).toMatch(/past the end/);
    expect(oursOutcome(everything, Buffer.from([...fixed64Tag, 1, 2, 3, 4, 5, 6, 7, 8])).value).toBeDefined();
  });

  it("refuses a packed run whose last value runs past the run", () => {
    // rf32 (29): packed fixed32 with 5 bytes; ri32 (23): a varint cut by the run's end; then a valid field.
    expect(decodeError(everything, [...tag(29, 2), 5, 1, 2, 3, 4, 5, ...tag(3, 0), 1])).toMatch(/past the end/);
    expect(decodeError(everything, [...tag(23, 2), 1, 0x80, 0x01, ...tag(3, 0), 1])).toMatch(/past the end/);
  });

  it("reads 64-bit integers beyond 2^53 exactly where the schema needs it, and refuses to round them elsewhere", () => {
    const big = 2n ** 60n + 1n;
    const workers = { ours: messageSchema("moby.buildkit.v1.ListWorkersResponse") };
    // A GC policy of 120 days: nanoseconds beyond 2^53.
    const keep = 120n * 24n * 3600n * 1_000_000_000n;
    const bytes = encodeMessage(workers.ours, { record: [{ ID: "w", GCPolicy: [{ keepDuration: keep, reservedSpace: 5 }] }] });
    const decoded = decodeMessage(workers.ours, bytes) as { record: { GCPolicy: { keepDuration: unknown; reservedSpace: unknown }[] }[] };
    expect(decoded.record[0]!.GCPolicy[0]!.keepDuration).toBe(keep);
    expect(decoded.record[0]!.GCPolicy[0]!.reservedSpace).toBe(5);
    const usage = { ours: messageSchema("moby.buildkit.v1.UsageRecord"), theirs: brewkitRoot.lookupType("moby.buildkit.v1.UsageRecord") };
    const size = usage.ours.byName.get("Size")!;
    expect(decodeError(usage, [...tag(size.id, 0), ...varint(big)])).toMatch(/UsageRecord\.Size: 1152921504606846977 is beyond 2\^53/);
    expect(decodeMessage(usage.ours, Buffer.from([...tag(size.id, 0), ...varint(big)]), { int64: "bigint" }).Size).toBe(big);
    expect(decodeMessage(usage.ours, Buffer.from([...tag(size.id, 0), ...varint(2n ** 53n - 1n)])).Size).toBe(2 ** 53 - 1);
  });

  it("refuses field number 0, wire types without a meaning, overlong varints and strings that are not UTF-8", () => {
    expect(decodeError(everything, [0x00, 1])).toMatch(/invalid field number 0/);
    expect(decodeError(everything, [...tag(14, 3)])).toMatch(/wire type 3/);
    expect(decodeError(everything, [...tag(999, 7)])).toMatch(/wire type 7/);
    expect(decodeError(everything, [...tag(3, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])).toMatch(/overflows 64 bits/);
    expect(decodeError(everything, [...tag(3, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).toMatch(/overflows 64 bits/);
    expect(decodeError(everything, [...tag(14, 2), 2, 0xc3, 0x28])).toMatch(/Everything\.s: a string that is not UTF-8/);
    expect(decodeError(everything, [...tag(15, 2), ...varint(2 ** 40), 1])).toMatch(/runs past the end/);
  });

  it("reads the last member of a oneof that is sent twice, and merges a message field that is sent twice, as Go does", () => {
    const os = [...tag(70, 2), 1, 0x61];
    const oi = [...tag(71, 0), 5];
    const decoded = decodeMessage(everything.ours, Buffer.from([...os, ...oi]), { int64: "bigint" });
    expect(decoded.oi).toBe(5n);
    expect(decoded.os).toBeUndefined();
    // child { i32: 1 } then child { u32: 2 }: one child with both.
    const merged = decodeMessage(everything.ours, Buffer.from([...tag(17, 2), 2, ...tag(3, 0), 1, ...tag(17, 2), 2, ...tag(5, 0), 2]));
    expect(merged.child).toMatchObject({ i32: 1, u32: 2 });
  });

  it("skips a known field sent with another wire type, as an unknown field", () => {
    // s (14, a string) sent as a varint, then i32 (3) = 7.
    const decoded = decodeMessage(everything.ours, Buffer.from([...tag(14, 0), 0x96, 0x01, ...tag(3, 0), 7]));
    expect(decoded.s).toBeUndefined();
    expect(decoded.i32).toBe(7);
  });
});

// ---------------------------------------------------------------------------
// The file-sync packet codec (src/filesync/packet.ts), hand-written for the hot path of
// every transfer, against protobufjs the same way.

const packetSubject: Subject = { ours: messageSchema("fsutil.types.Packet"), theirs: brewkitRoot.lookupType("fsutil.types.Packet") };

/** A random fsutil.types.Packet as src/proto takes it; device numbers stay exact as numbers. */
function randomPacketMessage(random: Random): Record<string, unknown> {
  const message = randomMessage(packetSubject.ours, random);
  const stat = message.stat as Record<string, unknown> | undefined;
  for (const device of ["devmajor", "devminor"]) if (stat?.[device] !== undefined) stat[device] = BigInt(random.int(4096));
  return message;
}

/** The message as packet.ts gives and takes it. */
function toPacket(message: Record<string, unknown>): Packet {
  const s = message.stat as Record<string, unknown> | undefined;
  const xattrs = Object.entries((s?.xattrs ?? {}) as Record<string, Uint8Array>);
  const stat: Stat | undefined = s && {
    path: (s.path as string) ?? "",
    mode: (s.mode as number) ?? 0,
    uid: (s.uid as number) ?? 0,
    gid: (s.gid as number) ?? 0,
    size: BigInt((s.size as bigint) ?? 0n),
    modTime: BigInt((s.modTime as bigint) ?? 0n),
    linkname: (s.linkname as string) ?? "",
    devmajor: Number(s.devmajor ?? 0),
    devminor: Number(s.devminor ?? 0),
    ...(xattrs.length > 0 ? { xattrs: new Map(xattrs) } : {}),
  };
  return { type: ((message.type as number) ?? 0) as Packet["type"], id: (message.ID as number) ?? 0, ...(stat ? { stat } : {}), ...(message.data !== undefined ? { data: message.data as Uint8Array } : {}) };
}

/** A packet as a src/proto message. */
function fromPacket(packet: Packet): Record<string, unknown> {
  const s = packet.stat;
  return {
    type: packet.type,
    ID: packet.id,
    ...(packet.data !== undefined ? { data: packet.data } : {}),
    ...(s ? { stat: { ...s, xattrs: Object.fromEntries(s.xattrs ?? []) } } : {}),
  };
}

describe("the file-sync packet codec against protobufjs", () => {
  it("decodes what protobufjs encodes, and protobufjs decodes what it encodes", () => {
    property("packet round trip", 400, (random) => {
      const message = randomPacketMessage(random);
      const expected = canon(packetSubject.ours, message, false);
      const ours = encodePacket(toPacket(message));
      expectSame(canon(packetSubject.ours, theirsDecode(packetSubject, ours), true), expected, `protobufjs decoding ${hex(ours)}`);
      const theirs = theirsEncode(packetSubject, message);
      expectSame(canon(packetSubject.ours, fromPacket(decodePacket(theirs)), false), expected, `packet.ts decoding ${hex(theirs)}`);
    });
  }, fuzzTimeoutMs);

  it("decodes a truncated packet only where a field ends; elsewhere fails with a protocol error", () => {
    property("packet truncations", 100, (random) => {
      const bytes = encodePacket(toPacket(randomPacketMessage(random)));
      const boundaries = fieldBoundaries(bytes);
      for (const cut of bytes.length <= 64 ? Array.from({ length: bytes.length }, (_, i) => i) : Array.from({ length: 40 }, () => random.int(bytes.length))) {
        const truncated = bytes.subarray(0, cut);
        let decoded: Packet | undefined;
        try {
          decoded = decodePacket(truncated);
        } catch (err) {
          if (!(err instanceof FileSyncProtocolError)) throw err;
        }
        expect(decoded !== undefined, `cut at ${cut} of ${hex(bytes)}`).toBe(boundaries.has(cut));
        if (decoded) expectSame(canon(packetSubject.ours, fromPacket(decoded), false), canon(packetSubject.ours, theirsDecode(packetSubject, truncated), true), `cut at ${cut} of ${hex(bytes)}`);
      }
    });
  }, fuzzTimeoutMs);

  it("answers mutated and random bytes with a packet or a protocol error, never another exception", () => {
    property("packet mutations", 1000, (random) => {
      for (const bytes of [mutate(encodePacket(toPacket(randomPacketMessage(random))), random), random.bytes(random.int(64))]) {
        try {
          decodePacket(bytes);
        } catch (err) {
          if (!(err instanceof FileSyncProtocolError)) throw new Error(`${(err as Error).name} for ${hex(bytes)}: ${(err as Error).message}`, { cause: err });
        }
      }
    });
  }, fuzzTimeoutMs);
});
