// Loading configs: compiled once into plain JavaScript, cached until a file it was made
// from changes, evaluated with the module values and error positions of the files the
// user wrote. No daemon is involved.
import { mkdirSync, mkdtempSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import { compiledConfig } from "../../src/config/cache.ts";
import { loadConfig } from "../../src/config/index.ts";
import { BrewkitError } from "../../src/errors.ts";

const srcIndex = path.resolve(import.meta.dirname, "../../src/index.ts");

let home: string;
beforeEach(() => {
  home = mkdtempSync(path.join(tmpdir(), "brewkit-config-home-"));
  process.env.BREWKIT_HOME = home;
});

function project(files: Record<string, string>, type: "module" | "commonjs" = "module"): string {
  const dir = mkdtempSync(path.join(tmpdir(), "brewkit-config-"));
  writeFileSync(path.join(dir, "package.json"), JSON.stringify(type === "module" ? { type } : {}));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

// Gives a file a new mtime without changing its size or content.
function touch(file: string): void {
  const { mtimeMs } = statSync(file);
  utimesSync(file, new Date(), new Date(mtimeMs + 5_000));
}

async function evaluate(file: string): Promise<Record<string, unknown>> {
  return (await import(`${pathToFileURL(file).href}?t=${Math.random()}`)) as Record<string, unknown>;
}

describe("the config cache", () => {
  it("compiles a config once and then loads it from the cache while nothing changed", async () => {
    const dir = project({ "brewkit.config.ts": 'import { n } from "./lib/n.ts";\nexport const value: number = n + 1;\n', "lib/n.ts": "export const n: number = 41;\n" });
    const config = path.join(dir, "brewkit.config.ts");
    const first = await compiledConfig(config, "esm", home);
    const second = await compiledConfig(config, "esm", home);
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.file).toBe(first.file);
    expect(first.file.startsWith(path.join(home, "cache", "config"))).toBe(true);
    expect(second.inputs.sort()).toEqual([config, path.join(dir, "lib/n.ts")].sort());
    expect((await evaluate(second.file)).value).toBe(42);
  });

  it("compiles again when an imported file, a manifest, or a new tsconfig.json changes what a compile gives", async () => {
    const dir = project({ "brewkit.config.ts": 'export { n } from "./lib/n.ts";\n', "lib/n.ts": "export const n = 1;\n" });
    const config = path.join(dir, "brewkit.config.ts");
    const cached = async () => (await compiledConfig(config, "esm", home)).cached;
    expect(await cached()).toBe(false);
    expect(await cached()).toBe(true);

    writeFileSync(path.join(dir, "lib/n.ts"), "export const n = 2;\n");
    expect(await cached()).toBe(false);
    expect((await evaluate((await compiledConfig(config, "esm", home)).file)).n).toBe(2);

    touch(path.join(dir, "package.json"));
    expect(await cached()).toBe(false);
    expect(await cached()).toBe(true);

    writeFileSync(path.join(dir, "tsconfig.json"), "{}\n");
    expect(await cached()).toBe(false);
    expect(await cached()).toBe(true);
  });

  it("keeps JavaScript packages where they are and compiles TypeScript packages in", async () => {
    const dir = project({
      "brewkit.config.ts": 'import { js } from "plain-js";\nimport { ts } from "ts-source";\nexport const both = js + ts;\n',
      "node_modules/plain-js/package.json": JSON.stringify({ name: "plain-js", type: "module", exports: "./index.js" }),
      "node_modules/plain-js/index.js": 'export const js = "js";\n',
      "node_modules/ts-source/package.json": JSON.stringify({ name: "ts-source", type: "module", exports: "./src/index.ts" }),
      "node_modules/ts-source/src/index.ts": 'export const ts: string = "ts";\n',
    });
    const compiled = await compiledConfig(path.join(dir, "brewkit.config.ts"), "esm", home);
    expect(compiled.inputs).toContain(path.join(dir, "node_modules/ts-source/src/index.ts"));
    expect(compiled.inputs).not.toContain(path.join(dir, "node_modules/plain-js/index.js"));
    expect((await evaluate(compiled.file)).both).toBe("jsts");

    // A new version of the package compiles the config again: its files are part of the cache key.
    writeFileSync(path.join(dir, "node_modules/plain-js/index.js"), 'export const js = "JS2";\n');
    expect((await compiledConfig(path.join(dir, "brewkit.config.ts"), "esm", home)).cached).toBe(false);
  });
});

describe("loadConfig", () => {
  const config = (body: string) => `import { target, scratch } from ${JSON.stringify(srcIndex)};\n${body}`;

  it("collects the exported targets and gives every module its own import.meta.url", async () => {
    const dir = project({
      "brewkit.config.ts": config('import { where } from "./lib/where.ts";\nexport const app = target({ from: scratch, description: `${import.meta.url} ${where}` });\n'),
      "lib/where.ts": "export const where = import.meta.filename + ' ' + import.meta.dirname;\n",
    });
    const file = path.join(dir, "brewkit.config.ts");
    const loaded = await loadConfig(file);
    const description = loaded.targets.get("app")!.spec.description;
    expect(description).toBe(`${pathToFileURL(file).href} ${path.join(dir, "lib/where.ts")} ${path.join(dir, "lib")}`);
    expect(loaded.importedFiles.filter((f) => f.startsWith(dir)).sort()).toEqual([file, path.join(dir, "lib/where.ts")].sort());
    // Definition sites read through the source map: the line the user wrote.
    expect(loaded.targets.get("app")!.definedAt).toMatchObject({ file, line: 3 });
  });

  it("runs the config of a CommonJS project as CommonJS, with its own __dirname", async () => {
    const dir = project({ "brewkit.config.ts": config("export const app = target({ from: scratch, description: __dirname });\nexport default app;\n") }, "commonjs");
    const loaded = await loadConfig(path.join(dir, "brewkit.config.ts"));
    expect(loaded.targets.get("app")!.spec.description).toBe(dir);
    expect(loaded.defaultName).toBe("default");
  });

  it("names the file, line and column of a syntax error", async () => {
    const dir = project({ "brewkit.config.ts": config("export const app = target({ from: scratch,, });\n") });
    const file = path.join(dir, "brewkit.config.ts");
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrewkitError);
    expect((err as BrewkitError).code).toBe("CONFIG_EVAL");
    expect((err as Error).message).toMatch(new RegExp(`failed to load: ${file.replace(/[.]/g, "\\.")}:2:43: `));
  });

  it("names the file and line where evaluating the config threw", async () => {
    const dir = project({ "brewkit.config.ts": config('export const a = 1;\n\nthrow new Error("no such thing");\n') });
    const file = path.join(dir, "brewkit.config.ts");
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(new RegExp(`no such thing \\(${file.replace(/[.]/g, "\\.")}:4:\\d+\\)`));
  });

  it("evaluates a changed config anew", async () => {
    const dir = project({ "brewkit.config.ts": config('export const app = target({ from: scratch, description: "one" });\n') });
    const file = path.join(dir, "brewkit.config.ts");
    expect((await loadConfig(file)).targets.get("app")!.spec.description).toBe("one");
    writeFileSync(file, config('export const app = target({ from: scratch, description: "two" });\n'));
    expect((await loadConfig(file)).targets.get("app")!.spec.description).toBe("two");
  });
});

describe("configs that would end or stall brewkit, or build what they do not name", () => {
  const config = (body: string) => `import { target, scratch } from ${JSON.stringify(srcIndex)};\n${body}`;
  const errorOf = async (file: string) => {
    const err = await loadConfig(file).catch((e: unknown) => e);
    if (!(err instanceof BrewkitError)) throw new Error(`expected a user error, got ${String(err)}`);
    return err;
  };

  it("a default export that is not a target or a group is named at its line, with the fix", async () => {
    for (const [value, what, fix] of [
      ["[app]", "an array", "wrap the targets in group(...)"],
      ["42", "number 42", "export a target or a group"],
      ["undefined", "undefined", "export a target or a group"],
    ] as const) {
      const dir = project({ "brewkit.config.ts": config(`export const app = target({ from: scratch });\nexport const all = app;\nexport default ${value};\n`) });
      const file = path.join(dir, "brewkit.config.ts");
      const err = await errorOf(file);
      expect(err.code).toBe("CONFIG_DEFAULT_EXPORT");
      expect(err.message).toBe(`${file}:4: the default export is ${what}, not a target or a group, so \`brewkit run\` would not know what to build`);
      expect(err.hint).toContain(fix);
      expect(err.context).toMatchObject({ file, line: 4 });
    }
  });

  it("a default export named in an export list is found too", async () => {
    const dir = project({ "brewkit.config.ts": config(`export const app = target({ from: scratch });\nconst names = ["app"];\nexport { app as build, names as default };\n`) });
    const file = path.join(dir, "brewkit.config.ts");
    expect((await errorOf(file)).message).toMatch(new RegExp(`^${file.replace(/[.]/g, "\\.")}:4: the default export is an array`));
  });

  it("process.exit while loading is an error at the line that called it, in any module, caught or not", async () => {
    const exit = process.exit;
    const cases: Array<[Record<string, string>, string, number, string]> = [
      [{ "brewkit.config.ts": config('export const app = target({ from: scratch });\nif (app) process.exit(3);\n') }, "brewkit.config.ts", 3, "process.exit(3)"],
      [{ "brewkit.config.ts": config('try {\n  process.exit();\n} catch {}\nexport const app = target({ from: scratch });\n') }, "brewkit.config.ts", 3, "process.exit()"],
      [{ "brewkit.config.ts": config('import "./lib/setup.ts";\nexport const app = target({ from: scratch });\n'), "lib/setup.ts": "\nprocess.exit(0);\n" }, "lib/setup.ts", 2, "process.exit(0)"],
    ];
    for (const [files, at, line, call] of cases) {
      const dir = project(files);
      const err = await errorOf(path.join(dir, "brewkit.config.ts"));
      expect(err.code).toBe("CONFIG_EXIT");
      expect(err.message).toBe(`${path.join(dir, at)}:${line}: the config called ${call} while loading, which would end brewkit before it did anything`);
      expect(err.hint).toContain("throw an Error");
      // brewkit's own exit is back in place.
      expect(process.exit).toBe(exit);
    }
  });

  // The line, read through the source map, is checked end to end (test/reliability/bad-input.test.ts).
  it("a CommonJS config that calls process.exit is named too", async () => {
    const dir = project({ "brewkit.config.ts": config("export const app = target({ from: scratch });\nprocess.exit(1);\n") }, "commonjs");
    const err = await errorOf(path.join(dir, "brewkit.config.ts"));
    expect(err.code).toBe("CONFIG_EXIT");
    expect(err.message).toContain("the config called process.exit(1) while loading");
  });
});

describe("import.meta.resolve in a config", () => {
  const config = (body: string) => `import { target, scratch } from ${JSON.stringify(srcIndex)};\n${body}`;
  const packageFiles = {
    "node_modules/dual/package.json": JSON.stringify({ name: "dual", exports: { ".": { import: "./esm/index.js", require: "./cjs/index.js" }, "./data/*": "./files/*.json" } }),
    "node_modules/dual/esm/index.js": "export {};\n",
    "node_modules/dual/cjs/index.js": "module.exports = {};\n",
    "node_modules/dual/files/x.json": "{}\n",
  };

  for (const type of ["module", "commonjs"] as const) {
    it(`resolves from the file that calls it (${type} project), as Node would there`, async () => {
      const dir = project(
        {
          "brewkit.config.ts": config('import { fromLib } from "./lib/where.ts";\nexport const app = target({ from: scratch, description: [import.meta.resolve("./assets/logo.png"), import.meta.resolve("dual"), import.meta.resolve("dual/data/x"), import.meta.resolve("node:fs"), fromLib].join(" ") });\n'),
          "lib/where.ts": 'export const fromLib = import.meta.resolve("../VERSION");\n',
          "VERSION": "1\n",
          ...packageFiles,
        },
        type,
      );
      const loaded = await loadConfig(path.join(dir, "brewkit.config.ts"));
      const url = (p: string) => pathToFileURL(path.join(dir, p)).href;
      expect(loaded.targets.get("app")!.spec.description).toBe([url("assets/logo.png"), url("node_modules/dual/esm/index.js"), url("node_modules/dual/files/x.json"), "node:fs", url("VERSION")].join(" "));
    });
  }

  it("fails for a package that is not installed, naming the file that asked", async () => {
    const dir = project({ "brewkit.config.ts": config('export const app = target({ from: scratch, description: import.meta.resolve("not-installed") });\n') });
    const file = path.join(dir, "brewkit.config.ts");
    const err = await loadConfig(file).catch((e: unknown) => e);
    expect((err as Error).message).toContain(`Cannot find package 'not-installed' imported from ${file}`);
  });
});
