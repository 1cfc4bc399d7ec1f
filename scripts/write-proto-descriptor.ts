// Part of `npm run build`: writes dist/proto/descriptor.json, the parsed form of proto/
// that the compiled registry loads instead of parsing the .proto files at start-up.
import { mkdirSync, writeFileSync } from "node:fs";
import { protoDescriptorJson } from "../src/proto/registry.ts";

const out = new URL("../dist/proto/descriptor.json", import.meta.url);
mkdirSync(new URL(".", out), { recursive: true });
writeFileSync(out, protoDescriptorJson());
