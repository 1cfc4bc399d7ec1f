import { mkdirSync } from "node:fs";
import path from "node:path";
import { indexDigest } from "../contentstore/local-store.ts";
import type { LoadedConfig } from "../config/index.ts";
import type { BuildCache } from "../model/index.ts";
import { parseCacheSpec, type CacheOptions } from "../solve/cache-options.ts";

/** `--cache-to` / `--cache-from` values, after buildx's flags. */
export interface CacheFlags {
  cacheTo?: string | string[];
  cacheFrom?: string | string[];
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)]);

/** A loaded config's `buildCache()` in the form `runCacheOptions` takes (undefined for none). */
export function configBuildCache(config: LoadedConfig): { value: BuildCache; file: string } | undefined {
  return config.buildCache && { value: config.buildCache.value, file: config.file };
}

/**
 * The build cache of a run: `--cache-to` and `--cache-from`, each replacing what the
 * config's `buildCache()` says for its direction; undefined when neither sets anything.
 * Every spec is checked here, before anything reaches the daemon.
 */
export function runCacheOptions(flags: CacheFlags, config: { value: BuildCache; file: string } | undefined, cwd = process.cwd()): CacheOptions | undefined {
  const at = config?.value.definedAt;
  const fromConfig = (field: "to" | "from") => {
    const value = config?.value.spec[field];
    const file = config?.file ?? "";
    return { specs: value === undefined ? [] : Array.isArray(value) ? value : [value], site: { where: `buildCache.${field}`, file: at?.file ?? config?.file, line: at?.line, baseDir: path.dirname(file) } };
  };
  const pick = (flag: string[], name: string, field: "to" | "from") => (flag.length ? { specs: flag, site: { where: name, baseDir: cwd } } : fromConfig(field));
  const to = pick(list(flags.cacheTo), "--cache-to", "to");
  const from = pick(list(flags.cacheFrom), "--cache-from", "from");
  if (to.specs.length === 0 && from.specs.length === 0) return undefined;
  return {
    exports: to.specs.map((spec) => parseCacheSpec(String(spec), "export", to.site)),
    imports: from.specs.map((spec) => parseCacheSpec(String(spec), "import", from.site)),
  };
}

/**
 * Readies the `type=local` caches of a run, as BuildKit's client does: export directories
 * are created; an import without `digest` takes the one its `index.json` records under
 * `tag` (default `latest`), and is left out, with a warning, when there is none yet.
 */
export async function prepareLocalCaches(options: CacheOptions | undefined, warn: (message: string) => void): Promise<CacheOptions | undefined> {
  if (!options) return undefined;
  for (const e of options.exports) if (e.type === "local") mkdirSync(e.attrs.dest!, { recursive: true });
  const imports = [];
  for (const e of options.imports) {
    if (e.type !== "local" || e.attrs.digest) {
      imports.push(e);
      continue;
    }
    const { tag = "latest", ...attrs } = e.attrs;
    const digest = await indexDigest(attrs.src!, tag);
    if (digest) imports.push({ type: "local", attrs: { ...attrs, digest } });
    else warn(`the local build cache ${attrs.src} has no ${tag} entry in its index.json yet: nothing to import from it`);
  }
  return { exports: options.exports, imports };
}
