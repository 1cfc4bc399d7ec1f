import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { UserInputError } from "../errors.ts";
import { compiledConfig } from "./cache.ts";
import { evaluateConfig } from "./evaluate.ts";
import type { BuildCache, Group, Target, Variable } from "../model/index.ts";
import { isBuildCache, isGroup, isTarget, isVariable } from "../model/index.ts";

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
  /** The project's build cache settings (an exported `buildCache()`), with the export's name. */
  buildCache?: { name: string; value: BuildCache };
  /** Local files the config imported (the config itself included), for watching. */
  importedFiles: string[];
}

/** The export name that stands for the default export. */
export const defaultExportName = "default";

/** Evaluates a brewkit.config.ts in a fresh module graph and collects its targets. */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const format = isCommonJs(file) ? "cjs" : "esm";
  const compiled = await compiledConfig(file, format);
  const importedFiles = compiled.inputs.filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`));
  const exports = await evaluateConfig({ file, compiled: compiled.file, format, sources: importedFiles });
  const targets = new Map<string, Target>();
  const groups = new Map<string, Group>();
  const variables = new Map<string, Variable>();
  let buildCache: LoadedConfig["buildCache"];
  for (const [name, value] of Object.entries(exports)) {
    if (isBuildCache(value)) {
      if (buildCache) {
        throw new UserInputError("CONFIG_BUILD_CACHE_TWICE", `${file}: exports two buildCache() settings, "${buildCache.name}" and "${name}"`, { hint: "export one buildCache({ to, from }) per project", context: { file } });
      }
      buildCache = { name, value };
      continue;
    }
    if (isTarget(value)) targets.set(name, value);
    else if (isGroup(value)) groups.set(name, value);
    else if (name === defaultExportName) throw defaultExportError(file, value);
    else if (isVariable(value)) variables.set(name, value);
  }
  const defaultName = targets.has(defaultExportName) || groups.has(defaultExportName) ? defaultExportName : targets.has("all") || groups.has("all") ? "all" : undefined;
  return { file, projectDir: path.dirname(file), targets, groups, variables, defaultName, importedFiles, ...(buildCache ? { buildCache } : {}) };
}

/** What `brewkit run` would build with no names is not a target: say what it is and what to write. */
function defaultExportError(file: string, value: unknown): UserInputError {
  const line = defaultExportLine(file);
  const what = describeValue(value);
  const fix = Array.isArray(value) || (typeof value === "object" && value !== null && !isVariable(value))
    ? "wrap the targets in group(...), e.g. `export default group(build, test)`"
    : "export a target or a group, e.g. `export default group(build, test)`";
  return new UserInputError("CONFIG_DEFAULT_EXPORT", `${file}${line ? `:${line}` : ""}: the default export is ${what}, not a target or a group, so \`brewkit run\` would not know what to build`, {
    hint: `${fix}, or remove the default export`,
    context: { file, line },
  });
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (isVariable(value)) return "a variable (its value is a string, not something to build)";
  if (typeof value === "function") return "a function (call it to get targets)";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The line of the config's default export, when the config writes it itself. */
function defaultExportLine(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const index = text.split("\n").findIndex((l) => /^\s*export\s+default\b/.test(l) || /^\s*export\s*\{[^}]*\bas\s+default\b/.test(l) || /^\s*module\.exports\.default\s*=/.test(l));
  return index < 0 ? undefined : index + 1;
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
