// Build time only: parses brewkit's .proto files with protobufjs into the JSON descriptor
// that brewkit reads at run time (scripts/build.ts writes it into dist/).
import path from "node:path";
import protobuf from "protobufjs";
import { protoDir, protoFiles } from "./registry.ts";

/** Parses brewkit's .proto files (with the well-known types they import) into a new root. */
export function parseProtoFiles(): protobuf.Root {
  const root = new protobuf.Root();
  const defaultResolve = root.resolvePath.bind(root);
  // Well-known google/protobuf types ship with protobufjs; everything else is ours.
  root.resolvePath = (origin, target) => (target.startsWith("google/protobuf/") ? defaultResolve(origin, target) : path.join(protoDir, target));
  root.loadSync([...protoFiles], { keepCase: true });
  return root;
}

/** The JSON descriptor of brewkit's .proto files. */
export function protoDescriptorJson(): string {
  return JSON.stringify(parseProtoFiles().toJSON());
}
