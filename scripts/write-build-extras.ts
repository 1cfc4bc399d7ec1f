// Part of `npm run build`, after the TypeScript compiles:
// - dist/proto/descriptor.json, the parsed form of proto/ that the compiled registry loads
//   instead of parsing the .proto files at start-up;
// - dist/cjs/package.json, marking the CommonJS build of the config API (what a config in a
//   project without `"type": "module"` requires) as CommonJS.
import { mkdirSync, writeFileSync } from "node:fs";
import { protoDescriptorJson } from "../src/proto/registry.ts";

const dist = new URL("../dist/", import.meta.url);
mkdirSync(new URL("proto/", dist), { recursive: true });
writeFileSync(new URL("proto/descriptor.json", dist), protoDescriptorJson());
writeFileSync(new URL("cjs/package.json", dist), `${JSON.stringify({ type: "commonjs" })}\n`);
