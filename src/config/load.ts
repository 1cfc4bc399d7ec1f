import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { UserInputError } from "../errors.ts";
import type { ModuleFormat } from "./bundle.ts";
import { compiledConfig } from "./cache.ts";
import type { Group, Target, Variable } from "../model/index.ts";
import { isGroup, isTarget, isVariable } from "../model/index.ts";

/** A config module, evaluated: its targets and groups by export name. */
export interface LoadedConfig {
  /** Absolute path of the config file. */
  file: string;
  /** The project directory: host paths in the config are relative to it. */
  projectDir: string;
  /** Exported targets by export name. */
  targets: ReadonlyMap<string, Target>;
  /** Exported groups by export name. */
  groups: ReadonlyMap<string, Group>;
  /** Exported variables by export name. */
  variables: ReadonlyMap<string, Variable>;
  /** What `brewkit run` builds with no names: the default export, else `all`. */
  defaultName: string | undefined;
  /** Local files the config imported (the config itself included), for watching. */
  importedFiles: string[];
}

/** The export name that stands for the default export. */
export const defaultExportName = "default";

/** Evaluates a brewkit.config.ts in a fresh module graph and collects its targets. */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const format = isCommonJs(file) ? "cjs" : "esm";
  const compiled = await compiledConfig(file, format);
  let exports: Record<string, unknown>;
  try {
    exports = await evaluate(compiled.file, format);
  } catch (err) {
    throw new UserInputError("CONFIG_EVAL", `${path.basename(file)} failed to load: ${describeLoadError(err, file)}`, {
      hint: "fix the error in the config file",
      context: { file },
      cause: err,
    });
  }
  const targets = new Map<string, Target>();
  const groups = new Map<string, Group>();
  const variables = new Map<string, Variable>();
  for (const [name, value] of Object.entries(exports)) {
    if (isTarget(value)) targets.set(name, value);
    else if (isGroup(value)) groups.set(name, value);
    else if (isVariable(value)) variables.set(name, value);
  }
  const defaultName = targets.has(defaultExportName) || groups.has(defaultExportName) ? defaultExportName : targets.has("all") || groups.has("all") ? "all" : undefined;
  const importedFiles = compiled.inputs.filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`));
  return { file, projectDir: path.dirname(file), targets, groups, variables, defaultName, importedFiles };
}

let evaluations = 0;

/**
 * Runs a compiled config, anew on every call (a changed config in watch mode is a new
 * module). Stack traces map through its source map to the files the user wrote.
 */
async function evaluate(compiled: string, format: ModuleFormat): Promise<Record<string, unknown>> {
  process.setSourceMapsEnabled(true);
  if (format === "esm") return (await import(`${pathToFileURL(compiled).href}?evaluation=${++evaluations}`)) as Record<string, unknown>;
  const require = createRequire(compiled);
  const exports = require(compiled) as Record<string, unknown>;
  // Evaluated anew next time (a module that throws is not cached in the first place).
  delete require.cache[compiled];
  // A config with ES module syntax compiles to CommonJS with this marker beside its exports.
  const { __esModule: _marker, ...named } = exports;
  return named;
}

/** True when Node runs `file` as CommonJS: `.cts`/`.cjs`, or a nearest package.json without `"type": "module"`. */
function isCommonJs(file: string): boolean {
  if (/\.c[jt]s$/.test(file)) return true;
  if (/\.m[jt]s$/.test(file)) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, "utf8")) as { type?: string }).type !== "module";
      } catch {
        return true;
      }
    }
    if (path.dirname(dir) === dir) return true;
  }
}

function describeLoadError(err: unknown, file: string): string {
  if (!(err instanceof Error)) return String(err);
  // Point at the user's file when the stack has a real position in it; frames of
  // compiled code (data: URLs, brewkit's loader) say nothing useful to a user.
  const frame = err.stack
    ?.split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("at ") && !l.includes("data:") && (l.includes(file) || l.includes(pathToFileURL(file).href)));
  const position = frame ? /:(\d+):(\d+)\)?$/.exec(frame) : null;
  return position ? `${err.message} (${file}:${position[1]}:${position[2]})` : err.message;
}
