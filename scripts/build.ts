// `npm run build`, after tsc has written dist/ (the typed modules and their declarations):
// - dist/bundle/: the CLI as one ES module (plus one chunk per lazily loaded command), so
//   start-up reads a few files instead of some two hundred;
// - dist/api/: the config API (`import ... from "brewkit"`) as one file, as an ES module and
//   as CommonJS for projects without `"type": "module"`;
// - the parsed form of proto/ (descriptor.json) next to the code that loads it, instead of
//   parsing the .proto files at start-up.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { build, type BuildOptions } from "esbuild";
import { protoDescriptorJson } from "../src/proto/parse.ts";

const dist = new URL("../dist/", import.meta.url);
const root = new URL("../", import.meta.url);
const at = (path: string) => new URL(path, root).pathname;

const common: BuildOptions = {
  bundle: true,
  platform: "node",
  target: "node20",
  // Loaded from the installation at run time: esbuild compiles configs (and finds its own
  // binary from its package), TypeScript typechecks them.
  external: ["esbuild", "typescript"],
  logLevel: "warning",
  legalComments: "none",
};

// Bundled CommonJS dependencies call require(): give ES module output one.
const esmRequire = { js: 'import { createRequire as __brewkitCreateRequire } from "node:module"; const require = __brewkitCreateRequire(import.meta.url);' };

// Chunk names carry content hashes: without this, every build would leave the old ones behind.
rmSync(new URL("bundle/", dist), { recursive: true, force: true });

await Promise.all([
  build({ ...common, entryPoints: { main: at("src/cli/main.ts") }, outdir: at("dist/bundle"), format: "esm", splitting: true, chunkNames: "[name]-[hash]", banner: esmRequire }),
  build({ ...common, entryPoints: { index: at("src/index.ts") }, outdir: at("dist/api"), format: "esm", outExtension: { ".js": ".mjs" } }),
  build({ ...common, entryPoints: { index: at("src/index.ts") }, outdir: at("dist/api"), format: "cjs", outExtension: { ".js": ".cjs" } }),
]);

const descriptor = protoDescriptorJson();
for (const dir of ["proto/", "bundle/"]) {
  mkdirSync(new URL(dir, dist), { recursive: true });
  writeFileSync(new URL(`${dir}descriptor.json`, dist), descriptor);
}
