import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { register as registerCommonJs } from "tsx/cjs/api";
import { tsImport } from "tsx/esm/api";
import { UserInputError } from "../errors.ts";
import { existsSync, readFileSync } from "node:fs";
import type { Group, Target } from "../model/index.ts";
import { isGroup, isTarget } from "../model/index.ts";

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
  /** What `brewkit run` builds with no names: the default export, else `all`. */
  defaultName: string | undefined;
  /** Local files the config imported (the config itself included), for watching. */
  importedFiles: string[];
}

/** The export name that stands for the default export. */
export const defaultExportName = "default";

/** Evaluates a brewkit.config.ts in a fresh module graph and collects its targets. */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const importedFiles = new Set<string>();
  let exports: Record<string, unknown>;
  try {
    exports = isCommonJs(file)
      ? requireCommonJs(file, importedFiles)
      : await tsImport(pathToFileURL(file).href, {
          parentURL: import.meta.url,
          onImport: (url) => {
            if (url.startsWith("file://") && !url.includes("/node_modules/")) importedFiles.add(fileURLToPath(url.replace(/\?.*$/, "")));
          },
        });
  } catch (err) {
    throw new UserInputError("CONFIG_EVAL", `${path.basename(file)} failed to load: ${describeLoadError(err, file)}`, {
      hint: "fix the error in the config file",
      context: { file },
      cause: err,
    });
  }
  const targets = new Map<string, Target>();
  const groups = new Map<string, Group>();
  for (const [name, value] of Object.entries(unwrapCommonJs(exports))) {
    if (isTarget(value)) targets.set(name, value);
    else if (isGroup(value)) groups.set(name, value);
  }
  const defaultName = targets.has(defaultExportName) || groups.has(defaultExportName) ? defaultExportName : targets.has("all") || groups.has("all") ? "all" : undefined;
  return { file, projectDir: path.dirname(file), targets, groups, defaultName, importedFiles: [...importedFiles] };
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

/**
 * Loads a CommonJS config with tsx's require hook, in a fresh namespace (a fresh module
 * graph on every load), so stack frames keep the config's real file and lines.
 */
function requireCommonJs(file: string, importedFiles: Set<string>): Record<string, unknown> {
  const namespace = randomUUID();
  const api = registerCommonJs({ namespace });
  try {
    const loaded = api.require(file, import.meta.url) as Record<string, unknown>;
    for (const key of Object.keys(createRequire(import.meta.url).cache)) {
      if (!key.includes(`namespace=${namespace}`) || key.includes(`${path.sep}node_modules${path.sep}`)) continue;
      importedFiles.add(key.replace(/\?.*$/, ""));
    }
    return loaded;
  } finally {
    api.unregister();
  }
}

/**
 * In a project without `"type": "module"` the config is compiled to CommonJS, and its
 * namespace's `default` is the whole `module.exports`, real default export inside.
 */
function unwrapCommonJs(namespace: Record<string, unknown>): Record<string, unknown> {
  const inner = namespace.default;
  if (typeof inner !== "object" || inner === null || isTarget(inner) || isGroup(inner)) return namespace;
  if (!(inner as { __esModule?: unknown }).__esModule) return namespace;
  const { __esModule: _marker, ...exports } = inner as Record<string, unknown>;
  return exports;
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
