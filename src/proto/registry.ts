import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { decodeMessage } from "./decode.ts";
import { encodeMessage } from "./encode.ts";
import { readProtoJson } from "./json.ts";
import { Schema, type DescriptorJson, type MessageSchema } from "./schema.ts";

/** Directory holding brewkit's subset of BuildKit's .proto files. */
export const protoDir = fileURLToPath(new URL("../../proto/", import.meta.url));

/** The .proto files brewkit speaks, relative to `protoDir`. */
export const protoFiles = [
  "buildkit/control.proto",
  "buildkit/gateway.proto",
  "buildkit/errdefs.proto",
  "buildkit/stack.proto",
  "buildkit/filesync.proto",
  "buildkit/secrets.proto",
  "buildkit/auth.proto",
  "containerd/content.proto",
  "buildkit/sshforward.proto",
  "grpc/health.proto",
] as const;

/**
 * The parsed .proto files, as the build writes them (src/proto/parse.ts) next to the
 * compiled registry; from brewkit's sources (tests), the build's copy in dist/.
 */
const descriptorFiles = [new URL("./descriptor.json", import.meta.url), new URL("../../dist/proto/descriptor.json", import.meta.url)].map((u) => fileURLToPath(u));

let schema: Schema | undefined;

function loadSchema(): Schema {
  if (schema) return schema;
  const file = descriptorFiles.find((f) => existsSync(f));
  if (!file) throw new Error(`brewkit's proto descriptor is missing (${descriptorFiles[0]}): run \`npm run build\` in the brewkit package`);
  schema = new Schema(JSON.parse(readFileSync(file, "utf8")) as DescriptorJson);
  return schema;
}

/** The message type `typeName` (fully qualified, e.g. `pb.Op`). */
export function messageSchema(typeName: string): MessageSchema {
  return loadSchema().message(typeName);
}

/** Encodes and decodes one message type as plain objects. */
export interface Codec<T> {
  readonly type: MessageSchema;
  encode(message: T): Buffer;
  decode(bytes: Uint8Array): T;
  /** Reads the message from its protobuf JSON form (as Go's protojson writes it). */
  fromJson(json: unknown): T;
}

const codecs = new Map<string, Codec<unknown>>();

/**
 * A codec for the fully qualified message `typeName` (e.g. `moby.buildkit.v1.SolveRequest`).
 * Encoding skips properties the type does not have (a Definition's digests, say);
 * decoding gives 64-bit integers as numbers: every one brewkit reads this way (sizes,
 * counts, timestamps in seconds) fits in 53 bits.
 */
export function codecFor<T>(typeName: string): Codec<T> {
  const known = codecs.get(typeName);
  if (known) return known as Codec<T>;
  const type = messageSchema(typeName);
  const codec: Codec<T> = {
    type,
    encode: (message) => {
      const bytes = encodeMessage(type, message as object);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    decode: (bytes) => decodeMessage(type, bytes) as T,
    fromJson: (json) => readProtoJson(type, json) as T,
  };
  codecs.set(typeName, codec as Codec<unknown>);
  return codec;
}
