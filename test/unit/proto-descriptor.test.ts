import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { parseProtoFiles, protoDescriptorJson } from "../../src/proto/parse.ts";

/** Every field of every message as a comparable line, after resolution. */
function shapeOf(root: protobuf.Root): string[] {
  root.resolveAll();
  const lines: string[] = [];
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) {
        for (const f of nested.fieldsArray) {
          const key = f instanceof protobuf.MapField ? ` map<${f.keyType}>` : "";
          lines.push(`${nested.fullName}.${f.name}=${f.id} ${f.type}${key} ${f.repeated ? "repeated" : ""} ${f.packed ? "packed" : ""} ${f.resolvedType?.fullName ?? ""}`);
        }
      } else if (nested instanceof protobuf.Enum) {
        lines.push(`${nested.fullName} ${JSON.stringify(nested.values)}`);
      }
      if (nested instanceof protobuf.Namespace) visit(nested);
    }
  };
  visit(root);
  return lines.sort();
}

describe("the shipped proto descriptor", () => {
  it("describes exactly what parsing the .proto files gives", () => {
    const parsed = shapeOf(parseProtoFiles());
    const shipped = shapeOf(protobuf.Root.fromJSON(JSON.parse(protoDescriptorJson()) as protobuf.INamespace));
    expect(parsed.length).toBeGreaterThan(200);
    expect(shipped).toEqual(parsed);
  });

  it("encodes a packed repeated scalar the same way as the parsed root", () => {
    const parsed = parseProtoFiles();
    const shipped = protobuf.Root.fromJSON(JSON.parse(protoDescriptorJson()) as protobuf.INamespace);
    parsed.resolveAll();
    shipped.resolveAll();
    const message = { args: ["sh"], validExitCodes: [0, 1, 300] };
    const typeName = "pb.Meta";
    const a = parsed.lookupType(typeName);
    const b = shipped.lookupType(typeName);
    expect(Buffer.from(b.encode(b.fromObject(message)).finish())).toEqual(Buffer.from(a.encode(a.fromObject(message)).finish()));
  });
});
