import path from "node:path";
import { UserInputError } from "../errors.ts";

/** One cache exporter or importer of a Solve, as BuildKit's `CacheOptionsEntry`. */
export interface CacheEntry {
  type: string;
  attrs: Record<string, string>;
}

/** The build cache a run exports and imports. */
export interface CacheOptions {
  exports: CacheEntry[];
  imports: CacheEntry[];
}

/** Where a cache spec was written, for errors: a flag (`--cache-to`) or a config field. */
export interface CacheSpecSite {
  /** `--cache-to`, `--cache-from`, or e.g. `buildCache.to` of the config. */
  where: string;
  /** The config file and line, for a spec written in the config. */
  file?: string;
  line?: number;
  /** The directory relative `type=local` paths are resolved against (the working directory for flags, the project for the config). */
  baseDir: string;
}

const exportTypes = ["registry", "inline", "local"];
const importTypes = ["registry", "local"];

/**
 * Parses one `--cache-to` / `--cache-from` value in buildx's syntax: comma-separated
 * `key=value` fields (a field may be double-quoted), `type` first or anywhere; a value
 * without `=` (only for imports) is a registry ref. Errors name the flag and the fix.
 */
export function parseCacheSpec(spec: string, direction: "export" | "import", site: CacheSpecSite): CacheEntry {
  const where = `${site.file ? `${site.file}${site.line ? `:${site.line}` : ""}: ` : ""}${site.where}`;
  const fail = (message: string, hint: string): never => {
    throw new UserInputError("CACHE_SPEC_INVALID", `${where} ${JSON.stringify(spec)}: ${message}`, { hint, context: { file: site.file, line: site.line, field: site.where } });
  };
  const example = direction === "export" ? "type=registry,ref=registry.example.com/app:buildcache,mode=max" : "type=registry,ref=registry.example.com/app:buildcache";
  const fields = splitCsv(spec.trim(), fail);
  if (fields.length === 0) fail("is empty", `e.g. ${example}`);
  if (direction === "import" && fields.length === 1 && !fields[0]!.includes("=")) return { type: "registry", attrs: { ref: fields[0]! } };
  const attrs: Record<string, string> = {};
  let type: string | undefined;
  for (const field of fields) {
    const eq = field.indexOf("=");
    if (eq <= 0) fail(`the field ${JSON.stringify(field)} is not key=value`, `e.g. ${example}`);
    const key = field.slice(0, eq).trim().toLowerCase();
    const value = field.slice(eq + 1);
    if (key === "type") type = value;
    else attrs[key] = value;
  }
  const types = direction === "export" ? exportTypes : importTypes;
  if (type === undefined) fail("has no type", `start with type=${types.join("|type=")}, e.g. ${example}`);
  if (!types.includes(type!)) fail(`type ${JSON.stringify(type)} is not supported${type === "inline" ? " for --cache-from (import inline cache with type=registry,ref=<the image>)" : ""}`, `use ${types.map((t) => `type=${t}`).join(", ")}, e.g. ${example}`);
  if (type === "registry" && !attrs.ref) fail("needs ref=<image reference> of the cache", `e.g. ${example}`);
  if (attrs.mode !== undefined && (direction === "import" || !["min", "max"].includes(attrs.mode))) {
    fail(direction === "import" ? "mode is an export setting" : `mode must be min or max, not ${JSON.stringify(attrs.mode)}`, "mode=max exports every step's cache, mode=min (the default) only the result's");
  }
  if (type === "local") {
    const dir = direction === "export" ? "dest" : "src";
    if (!attrs[dir]) fail(`needs ${dir}=<directory>`, `e.g. type=local,${dir}=.cache/build`);
    if (attrs[dir]!.startsWith("~")) fail(`${dir} starts with "~", which brewkit does not expand`, `write the path out, e.g. ${dir}=.cache/build`);
    if (attrs.digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(attrs.digest)) fail("digest must be a sha256 digest", "leave digest out to use the one index.json records under the tag (default latest)");
    // The daemon names the directory back when it reads or writes it: an absolute path.
    attrs[dir] = path.resolve(site.baseDir, attrs[dir]!);
  }
  return { type: type!, attrs };
}

function splitCsv(text: string, fail: (message: string, hint: string) => never): string[] {
  const fields: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else current += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      fields.push(current);
      current = "";
    } else current += ch;
  }
  if (quoted) fail("has an unclosed quote", 'close it, e.g. ref="registry.example.com/app:cache"');
  if (current !== "" || fields.length > 0) fields.push(current);
  return fields.map((f) => f.trim()).filter((f) => f !== "");
}

/** The directories of the `type=local` caches (exported to and imported from), absolute. */
export function localCacheDirs(options: CacheOptions | undefined): string[] {
  if (!options) return [];
  return [...new Set([...options.exports.filter((e) => e.type === "local").map((e) => e.attrs.dest!), ...options.imports.filter((e) => e.type === "local").map((e) => e.attrs.src!)])];
}

/** The Solve's `Cache` field for these options. */
export function solveCacheOptions(options: CacheOptions, exporting: boolean): { Exports: Array<{ Type: string; Attrs: Record<string, string> }>; Imports: Array<{ Type: string; Attrs: Record<string, string> }> } {
  const entry = (e: CacheEntry) => ({ Type: e.type, Attrs: e.attrs });
  return { Exports: exporting ? options.exports.map(entry) : [], Imports: options.imports.map(entry) };
}
