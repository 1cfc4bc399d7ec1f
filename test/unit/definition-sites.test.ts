// Definition sites (where a config called target(), group(), variable(), cache(), ...) are
// looked up in the compiled config's source map by brewkit itself, not through Node's
// source map support (which decodes the whole map into an object per mapping first). The
// answer must be Node's: each config below is loaded in a plain Node process (the built
// CLI's stages), once with brewkit's lookup and once with Node mapping the same frames.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const srcIndex = path.join(repoRoot, "src/index.ts");

// Loads the config twice in this process: the first time the definition sites are read with
// brewkit's lookups (counted), the second time with them unregistered, so that Node's
// source map support maps the frames, as it did before brewkit had lookups of its own.
const probe = `
const [configDist, file] = process.argv.slice(2);
const { loadConfig } = await import(configDist);
const positions = () => globalThis[Symbol.for("brewkit.compiledPositions")] ?? new Map();
const sites = (loaded) => {
  const out = {};
  const add = (name, value) => { out[name] = value.definedAt ?? null; };
  for (const [name, t] of loaded.targets) {
    add(name, t);
    for (const [i, c] of (t.spec.cache ?? []).entries()) add(name + ".cache" + i, c);
    for (const [i, s] of (t.spec.secrets ?? []).entries()) add(name + ".secret" + i, s);
  }
  for (const [name, g] of loaded.groups) add(name, g);
  for (const [name, v] of loaded.variables) add(name, v);
  if (loaded.buildCache) add(loaded.buildCache.name, loaded.buildCache.value);
  return out;
};
let lookups = 0;
const fast = await loadConfig(file);
for (const [name, lookup] of positions()) positions().set(name, (line, column) => (lookups++, lookup(line, column)));
const fastSites = sites(fast);
const slow = await loadConfig(file);
positions().clear();
const nodeSites = sites(slow);
process.stdout.write(JSON.stringify({ lookups, fast: fastSites, node: nodeSites }));
`;

type Sites = Record<string, { file: string; line: number; column?: number } | null>;

async function definitionSites(file: string, home: string): Promise<{ lookups: number; fast: Sites; node: Sites }> {
  const script = path.join(home, "probe.mjs");
  writeFileSync(script, probe);
  const configDist = path.join(repoRoot, "dist/config/index.js");
  const { stdout } = await promisify(execFile)(process.execPath, [script, configDist, file], { env: { ...process.env, BREWKIT_HOME: home } });
  return JSON.parse(stdout) as { lookups: number; fast: Sites; node: Sites };
}

/** A project whose files import brewkit as users do ("brewkit", the built package), or its TypeScript source. */
function project(files: Record<string, string>, options: { type?: "module" | "commonjs"; dir?: string } = {}): string {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), "brewkit-sites-"));
  mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  writeFileSync(path.join(dir, "package.json"), JSON.stringify(options.type === "commonjs" ? {} : { type: "module" }));
  symlinkSync(repoRoot, path.join(dir, "node_modules", "brewkit"), "dir");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

// Calls on one line and over several, TypeScript syntax esbuild removes before the call,
// characters outside the BMP before it (columns count UTF-16 units), tabs, a factory in
// a local file called in a loop, a helper package (skipped, as brewkit's own frames are),
// calls from callbacks and methods, and every kind of value that records its site.
const config = (brewkit: string) => `import { buildCache, cache, fmt, group, scratch, secret, target, variable, type Target } from ${brewkit};
import { make, Factory } from "./lib/factory.ts";
import { viaHelper } from "helper";

/** The base. */
export const base = target({ from: scratch, cache: [cache("c", "/c")], secrets: [secret("s", "/run/s")] });
export const typed: Target = (target as (spec: object) => Target)({ from: base }) as Target;
const smile = "😀😀"; export const astral = target({ from: base, description: smile });
\texport const tabbed =\t\ttarget({
\t\tfrom: base,
\t\tcommands: [
\t\t\t"echo (",
\t\t],
\t});
export const one = make(1), two = make(2);
export const [first, second] = [3, 4].map((n) => target({ from: base, workdir: "/w" + n }));
export const method = new Factory().build();
export const helped = viaHelper({ from: base });
export const version = variable({ from: base, command: "echo 1" });
export const named = target({ from: base, env: { V: fmt\`v\${version}\` } });
export const all = group(one, two,
  first);
export const settings = buildCache({ to: "local:.cache" });
`;

const lib = (brewkit: string) => `import { scratch, target, type Target } from ${brewkit};

export function make(n: number): Target {
  const spec = { from: scratch, workdir: \`/make/\${n}\` };
  return target(spec);
}

export class Factory {
  build(): Target {
    return target({ from: scratch, description: "made in a method" });
  }
}
`;

// CommonJS, so that configs of both formats can import it.
const helper = `const { target } = require("brewkit");
exports.viaHelper = function viaHelper(spec) {
  return target(spec);
};
`;

function helperPackage(dir: string): void {
  mkdirSync(path.join(dir, "node_modules/helper"), { recursive: true });
  writeFileSync(path.join(dir, "node_modules/helper/package.json"), JSON.stringify({ name: "helper", main: "index.js" }));
  writeFileSync(path.join(dir, "node_modules/helper/index.js"), helper);
}

describe("definition sites", () => {
  for (const [kind, brewkit] of [["the brewkit package", '"brewkit"'], ["brewkit's TypeScript source", JSON.stringify(srcIndex)]] as const) {
    for (const type of ["module", "commonjs"] as const) {
      it(`are where Node's source maps put them (${type} project, importing ${kind})`, async () => {
        const dir = project({ "brewkit.config.ts": config(brewkit), "lib/factory.ts": lib(brewkit) }, { type });
        helperPackage(dir);
        const home = mkdtempSync(path.join(tmpdir(), "brewkit-sites-home-"));
        const { lookups, fast, node } = await definitionSites(path.join(dir, "brewkit.config.ts"), home);
        // brewkit's lookups answered (the comparison is not Node against itself).
        expect(lookups).toBeGreaterThan(0);
        expect(fast).toEqual(node);
        const configFile = path.join(dir, "brewkit.config.ts");
        const libFile = path.join(dir, "lib/factory.ts");
        // Spot checks against the text as written.
        expect(fast.base).toEqual({ file: configFile, line: 6, column: 21 });
        expect(fast["base.cache0"]).toEqual({ file: configFile, line: 6, column: 53 });
        expect(fast.typed).toMatchObject({ file: configFile, line: 7 });
        expect(fast.astral).toMatchObject({ file: configFile, line: 8 });
        expect(fast.tabbed).toMatchObject({ file: configFile, line: 9 });
        expect(fast.one).toMatchObject({ file: libFile, line: 5 });
        expect(fast.method).toMatchObject({ file: libFile, line: 10 });
        expect(fast.first).toMatchObject({ file: configFile, line: 16 });
        expect(fast.helped).toMatchObject({ file: configFile, line: 18 });
        expect(fast.all).toMatchObject({ file: configFile, line: 21 });
        expect(fast.settings).toMatchObject({ file: configFile, line: 23 });
      });
    }
  }

  it("name a config in a directory whose path has spaces and parentheses by its path", async () => {
    const parent = mkdtempSync(path.join(tmpdir(), "brewkit-sites-"));
    const dir = path.join(parent, "my project (copy)");
    project({ "brewkit.config.ts": 'import { scratch, target } from "brewkit";\n\nexport const app = target({ from: scratch });\n' }, { dir });
    const home = mkdtempSync(path.join(tmpdir(), "brewkit-sites-home-"));
    const { fast } = await definitionSites(path.join(dir, "brewkit.config.ts"), home);
    expect(fast.app).toEqual({ file: path.join(dir, "brewkit.config.ts"), line: 3, column: 20 });
  });
});
