import type { BuildCache } from "../model/index.ts";
import { parseCacheSpec, type CacheOptions } from "../solve/cache-options.ts";

/** `--cache-to` / `--cache-from` values, after buildx's flags. */
export interface CacheFlags {
  cacheTo?: string | string[];
  cacheFrom?: string | string[];
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)]);

/**
 * The build cache of a run: `--cache-to` and `--cache-from`, each replacing what the
 * config's `buildCache()` says for its direction; undefined when neither sets anything.
 * Every spec is checked here, before anything reaches the daemon.
 */
export function runCacheOptions(flags: CacheFlags, config: { value: BuildCache; file: string } | undefined): CacheOptions | undefined {
  const at = config?.value.definedAt;
  const fromConfig = (field: "to" | "from") => {
    const value = config?.value.spec[field];
    return { specs: value === undefined ? [] : Array.isArray(value) ? value : [value], site: { where: `buildCache.${field}`, file: at?.file ?? config?.file, line: at?.line } };
  };
  const pick = (flag: string[], name: string, field: "to" | "from") => (flag.length ? { specs: flag, site: { where: name } } : fromConfig(field));
  const to = pick(list(flags.cacheTo), "--cache-to", "to");
  const from = pick(list(flags.cacheFrom), "--cache-from", "from");
  if (to.specs.length === 0 && from.specs.length === 0) return undefined;
  return {
    exports: to.specs.map((spec) => parseCacheSpec(String(spec), "export", to.site)),
    imports: from.specs.map((spec) => parseCacheSpec(String(spec), "import", from.site)),
  };
}
