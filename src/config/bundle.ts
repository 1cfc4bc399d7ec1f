import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Message, Plugin } from "esbuild";
import { UserInputError } from "../errors.ts";
import { importMetaResolveKey } from "./import-meta-resolve.ts";

/** How Node runs the compiled config: as an ES module, or as CommonJS (a project without `"type": "module"`). */
export type ModuleFormat = "esm" | "cjs";

/** A config compiled into one plain JavaScript module that Node runs without loader hooks. */
export interface BundledConfig {
  /** The module's code, with an inline source map back to the files it came from. */
  code: string;
  /** Every file compiled into the module: the config, its local imports, TypeScript libraries. */
  inputs: string[];
  /** Files the module imports at run time (JavaScript packages, brewkit itself), resolved. */
  externals: string[];
}

// Per-module values that code may read about its own file. A bundle is one file, so each
// compiled module gets its own copy of these, set to the file it came from.
const importMetaUrl = "__brewkit_import_meta_url";
const importMetaDirname = "__brewkit_import_meta_dirname";
const importMetaFilename = "__brewkit_import_meta_filename";
const importMetaResolve = "__brewkit_import_meta_resolve";

// TypeScript (a config's local imports, libraries shipped as source) is compiled into the
// bundle; packages of plain JavaScript stay where they are and are imported from there.
const compiledExtension = /\.(?:[cm]?tsx?|jsx|json)$/;
const sourceExtension = /\.(?:[cm]?[jt]sx?)$/;
// esbuild's filters are Go regular expressions (no lookahead): the rest is checked in the callback.
const bareSpecifier = /^[^./]/;
const notPackage = /^(?:[a-zA-Z]:[\\/]|node:)/;

/**
 * Compiles `file` and the modules it imports into one module of `format` (esbuild, the
 * compiler tsx runs too). Imports of JavaScript packages are kept as imports of the
 * files they resolve to, so they run as they would from the config's own directory.
 */
export async function bundleConfig(file: string, format: ModuleFormat): Promise<BundledConfig> {
  // Required, not imported: as an ES module import, Node would first scan esbuild's
  // CommonJS entry for its export names, which costs more than loading it.
  const { build } = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
  const externals = new Set<string>();
  const prefixes = new Map<string, number>();
  const result = await build({
    entryPoints: [file],
    absWorkingDir: path.dirname(file),
    bundle: true,
    format,
    platform: "node",
    target: `node${process.versions.node.split(".")[0]}`,
    write: false,
    metafile: true,
    // Nothing is written there: it only names where the source map's paths start from.
    outfile: path.join(path.dirname(file), "brewkit.config.bundle.js"),
    sourcemap: "external",
    sourcesContent: false,
    keepNames: true,
    logLevel: "silent",
    define: {
      "import.meta.url": importMetaUrl,
      "import.meta.dirname": importMetaDirname,
      "import.meta.filename": importMetaFilename,
      "import.meta.resolve": importMetaResolve,
      ...(format === "cjs" ? { __dirname: importMetaDirname, __filename: importMetaFilename } : {}),
    },
    plugins: [packagesInPlace(externals, format), ownFileValues(prefixes)],
  }).catch((err: unknown) => {
    throw compileError(file, err, prefixes);
  });
  const inputs = Object.keys(result.metafile!.inputs).map((p) => path.resolve(path.dirname(file), p));
  const output = (ext: string) => result.outputFiles!.find((f) => f.path.endsWith(ext))!.text;
  return { code: withInlineSourceMap(output(".js"), output(".js.map"), path.dirname(file)), inputs, externals: [...externals] };
}

// The compiled module runs from brewkit's cache, so its source map names the sources by
// absolute path rather than relative to the config.
function withInlineSourceMap(code: string, mapText: string, from: string): string {
  const map = JSON.parse(mapText) as { sources: string[] };
  map.sources = map.sources.map((s) => path.resolve(from, s));
  return `${code.replace(/\n?$/, "\n")}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}\n`;
}

// Bare imports: TypeScript packages are compiled in, anything else is imported from
// where it resolved (by file URL for ES modules, by path for require()).
function packagesInPlace(externals: Set<string>, format: ModuleFormat): Plugin {
  return {
    name: "brewkit-packages-in-place",
    setup(build) {
      build.onResolve({ filter: bareSpecifier }, async (args) => {
        if (args.pluginData === packagesInPlace || notPackage.test(args.path)) return undefined;
        const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: packagesInPlace });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        if (resolved.external || compiledExtension.test(resolved.path)) return resolved;
        externals.add(resolved.path);
        return { path: format === "esm" ? pathToFileURL(resolved.path).href : resolved.path, external: true };
      });
    },
  };
}

// Gives each compiled module its own import.meta.url/dirname/filename/resolve (and
// __dirname, __filename), on its first line so that line numbers stay as written;
// `prefixes` gets the length added to each file's first line. import.meta.resolve is
// brewkit's (installed by the loader): Node's would resolve from brewkit's cache.
function ownFileValues(prefixes: Map<string, number>): Plugin {
  return {
    name: "brewkit-own-file-values",
    setup(build) {
      build.onLoad({ filter: sourceExtension }, async (args) => {
        const source = await readFile(args.path, "utf8");
        const values =
          `const ${importMetaUrl} = ${JSON.stringify(pathToFileURL(args.path).href)}, ` +
          `${importMetaDirname} = ${JSON.stringify(path.dirname(args.path))}, ${importMetaFilename} = ${JSON.stringify(args.path)}, ` +
          `${importMetaResolve} = (specifier) => globalThis[Symbol.for(${JSON.stringify(importMetaResolveKey.description)})](specifier, ${importMetaUrl});`;
        prefixes.set(args.path, values.length);
        return { contents: values + source, loader: loaderFor(args.path) };
      });
    },
  };
}

function loaderFor(file: string): "ts" | "tsx" | "js" | "jsx" {
  if (/\.[cm]?ts$/.test(file)) return "ts";
  if (file.endsWith(".tsx")) return "tsx";
  if (file.endsWith(".jsx")) return "jsx";
  return "js";
}

/** A compile failure as a user error naming the file, line and column of the first problem. */
function compileError(file: string, err: unknown, prefixes: ReadonlyMap<string, number>): UserInputError {
  const messages = (err as { errors?: Message[] }).errors ?? [];
  const first = messages[0];
  let where = "";
  if (first?.location) {
    const at = path.resolve(path.dirname(file), first.location.file);
    const column = first.location.column - (first.location.line === 1 ? (prefixes.get(at) ?? 0) : 0);
    where = `${at}:${first.location.line}:${Math.max(column, 0) + 1}: `;
  }
  const text = first ? first.text : err instanceof Error ? err.message : String(err);
  const more = messages.length > 1 ? ` (and ${messages.length - 1} more)` : "";
  return new UserInputError("CONFIG_EVAL", `${path.basename(file)} failed to load: ${where}${text}${more}`, {
    hint: "fix the error in the config file",
    context: { file, ...(first?.location ? { line: first.location.line } : {}) },
    cause: err,
  });
}
