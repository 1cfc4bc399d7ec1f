// `npm run build`, after tsc has written dist/ (the typed modules and their declarations):
// - dist/bundle/: the CLI as one CommonJS script (main.cjs), which launch.js (an ES
//   module) compiles with V8's code cache: one file read instead of some two hundred,
//   and, from the second start on, little to parse or compile. Commands still load
//   lazily: esbuild evaluates each one's modules only when it is imported;
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

// The CLI's bundle, run by src/launch with `__filename` set to its own path. Without
// whitespace and comments it is a quarter smaller to read, hash and parse (names stay, for
// --debug stacks); in ASCII, V8 holds it as one byte per character.
const cliBundle: BuildOptions = {
  format: "cjs",
  outExtension: { ".js": ".cjs" },
  define: { "import.meta.url": "__brewkitBundleUrl" },
  banner: { js: 'var __brewkitBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  minifyWhitespace: true,
  charset: "ascii",
};

// Earlier builds' files (chunks named by content hashes) would stay behind.
rmSync(new URL("bundle/", dist), { recursive: true, force: true });

await Promise.all([
  build({ ...common, entryPoints: { main: at("src/cli/main.ts") }, outdir: at("dist/bundle"), ...cliBundle }),
  build({ ...common, entryPoints: { launch: at("src/launch/index.ts") }, outdir: at("dist/bundle"), format: "esm" }),
  build({ ...common, entryPoints: { index: at("src/index.ts") }, outdir: at("dist/api"), format: "esm", outExtension: { ".js": ".mjs" } }),
  build({ ...common, entryPoints: { index: at("src/index.ts") }, outdir: at("dist/api"), format: "cjs", outExtension: { ".js": ".cjs" } }),
]);

const descriptor = protoDescriptorJson();
for (const dir of ["proto/", "bundle/"]) {
  mkdirSync(new URL(dir, dist), { recursive: true });
  writeFileSync(new URL(`${dir}descriptor.json`, dist), descriptor);
}
