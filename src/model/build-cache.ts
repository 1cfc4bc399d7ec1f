import { buildCacheBrand, hasBrand } from "./brands.ts";
import { callerLocation, type SourceLocation } from "./source-location.ts";

/** Where a project's builds export their cache to and import it from, in buildx's syntax. */
export interface BuildCacheSpec {
  /**
   * Export the build cache, e.g. `"type=registry,ref=registry.example.com/app:buildcache,mode=max"`
   * `"type=inline"` (in the pushed image) or `"type=local,dest=.cache/build"` (relative to the project). Replaced by `--cache-to`.
   */
  to?: string | string[];
  /** Import build cache, several at once, e.g. `"type=registry,ref=registry.example.com/app:buildcache"`. Replaced by `--cache-from`. */
  from?: string | string[];
}

/** A project's build cache settings, made by `buildCache()`. */
export interface BuildCache {
  readonly [buildCacheBrand]: true;
  readonly spec: Readonly<BuildCacheSpec>;
  /** Where `buildCache()` was called. */
  readonly definedAt: SourceLocation | undefined;
}

/** A project's build cache, shared across machines and daemons: export it from `brewkit.config.ts`. */
export function buildCache(spec: BuildCacheSpec): BuildCache {
  const site = callerLocation(buildCache);
  return Object.freeze({ [buildCacheBrand]: true as const, spec: Object.freeze({ ...spec }), get definedAt() { return site(); } });
}

/** True for values made by `buildCache()`. */
export function isBuildCache(value: unknown): value is BuildCache {
  return hasBrand(value, buildCacheBrand);
}
