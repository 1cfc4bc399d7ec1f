import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import protobuf from "protobufjs";

/** Directory holding brewkit's subset of BuildKit's .proto files. */
export const protoDir = fileURLToPath(new URL("../../proto/", import.meta.url));

const protoFiles = [
  "buildkit/control.proto",
  "buildkit/gateway.proto",
  "buildkit/filesync.proto",
  "buildkit/secrets.proto",
  "buildkit/sshforward.proto",
  "grpc/health.proto",
];

/**
 * The build writes the parsed .proto files as a JSON descriptor next to the compiled
 * registry: reading it is several times faster than parsing, which counts at start-up.
 */
const descriptorFile = fileURLToPath(new URL("./descriptor.json", import.meta.url));

let cachedRoot: protobuf.Root | undefined;

/** The resolved protobuf root of every message brewkit speaks, loaded once. */
export function protoRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const root = existsSync(descriptorFile)
    ? protobuf.Root.fromJSON(JSON.parse(readFileSync(descriptorFile, "utf8")) as protobuf.INamespace)
    : parseProtoFiles();
  // Without resolveAll, repeated scalars are encoded unpacked (protobufjs >= 7.5).
  root.resolveAll();
  cachedRoot = root;
  return root;
}

/** Parses brewkit's .proto files (with the well-known types they import) into a new root. */
export function parseProtoFiles(): protobuf.Root {
  const root = new protobuf.Root();
  const defaultResolve = root.resolvePath.bind(root);
  // Well-known google/protobuf types ship with protobufjs; everything else is ours.
  root.resolvePath = (origin, target) =>
    target.startsWith("google/protobuf/") ? defaultResolve(origin, target) : path.join(protoDir, target);
  root.loadSync(protoFiles, { keepCase: true });
  return root;
}

/** The JSON descriptor the build ships beside the compiled registry. */
export function protoDescriptorJson(): string {
  return JSON.stringify(parseProtoFiles().toJSON());
}

/** Encodes and decodes one message type as plain objects. */
export interface Codec<T> {
  readonly type: protobuf.Type;
  encode(message: T): Buffer;
  decode(bytes: Uint8Array): T;
}

const codecs = new Map<string, Codec<unknown>>();

/** A codec for the fully qualified message `typeName` (e.g. `moby.buildkit.v1.SolveRequest`). */
export function codecFor<T>(typeName: string): Codec<T> {
  const known = codecs.get(typeName);
  if (known) return known as Codec<T>;
  const type = protoRoot().lookupType(typeName);
  const codec: Codec<T> = {
    type,
    encode(message) {
      const err = type.verify(message as Record<string, unknown>);
      if (err) throw new TypeError(`invalid ${typeName}: ${err}`);
      const writer = type.encode(type.fromObject(message as Record<string, unknown>));
      return Buffer.from(writer.finish());
    },
    decode(bytes) {
      // int64 fields become numbers: every int64 brewkit reads through this path
      // (sizes, counts, timestamps in seconds) fits in 53 bits.
      return type.toObject(type.decode(bytes), { longs: Number, arrays: true, objects: true }) as T;
    },
  };
  codecs.set(typeName, codec as Codec<unknown>);
  return codec;
}
