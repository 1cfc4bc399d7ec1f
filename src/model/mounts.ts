import { cacheBrand, hasBrand, secretBrand } from "./brands.ts";
import { callerLocation, type SourceLocation } from "./source-location.ts";

/** How concurrent steps share one cache mount. */
export type CacheSharing = "shared" | "private" | "locked";

/** Options of `cache()`. */
export interface CacheOptions {
  /** How concurrent steps share it: `shared` (default), `private` (a copy per writer) or `locked` (one at a time). */
  sharing?: CacheSharing;
  /**
   * A host folder (relative to the project) mirrored with the cache: it seeds an empty
   * cache before the build, and receives the cache's content after it.
   */
  hostDir?: string;
}

/** A persistent cache directory mounted into a target's steps. */
export interface CacheMount {
  readonly [cacheBrand]: true;
  /** Cache id: steps naming the same id see the same content. */
  readonly id: string;
  /** Mount path inside the container (relative paths join the target's workdir). */
  readonly path: string;
  /** How concurrent steps share it. */
  readonly sharing: CacheSharing;
  /** Host folder mirrored with the cache, if any. */
  readonly hostDir: string | undefined;
  /** Where `cache()` was called. */
  readonly definedAt: SourceLocation | undefined;
}

/** A cache mount: `id` names the cache, `path` is where steps see it. */
export function cache(id: string, path: string, options: CacheOptions = {}): CacheMount {
  const site = callerLocation(cache);
  return Object.freeze({ [cacheBrand]: true as const, id, path, sharing: options.sharing ?? "shared", hostDir: options.hostDir, get definedAt() { return site(); } });
}

/** True for values made by `cache()`. */
export function isCacheMount(value: unknown): value is CacheMount {
  return hasBrand(value, cacheBrand);
}

/** Where a secret appears in a step: a file, or an environment variable. */
export type SecretTarget = string | { env: string };

/** Options of `secret()`. */
export interface SecretOptions {
  /** Build without it when no value is given (instead of failing before the build). */
  optional?: boolean;
  /** File permissions, e.g. `0o440`; default `0o400`. */
  mode?: number;
  /** Owner uid of the file; default 0. */
  uid?: number;
  /** Owner gid of the file; default 0. */
  gid?: number;
}

/** A secret given to a target's steps; its value never enters the build graph or the logs. */
export interface SecretMount {
  readonly [secretBrand]: true;
  /** Secret id; its value comes from `--secret id=...` or the user config file. */
  readonly id: string;
  /** File path in the container, when mounted as a file. */
  readonly path: string | undefined;
  /** Environment variable name, when exposed as a variable. */
  readonly env: string | undefined;
  readonly optional: boolean;
  readonly mode: number | undefined;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** Where `secret()` was called. */
  readonly definedAt: SourceLocation | undefined;
}

/** A secret mounted as a file at `target`, or exposed as `{ env: "NAME" }`. */
export function secret(id: string, target: SecretTarget, options: SecretOptions = {}): SecretMount {
  const path = typeof target === "string" ? target : undefined;
  const env = typeof target === "object" && target !== null ? target.env : undefined;
  const site = callerLocation(secret);
  return Object.freeze({
    [secretBrand]: true as const,
    id,
    path,
    env,
    optional: options.optional ?? false,
    mode: options.mode,
    uid: options.uid,
    gid: options.gid,
    get definedAt() {
      return site();
    },
  });
}

/** True for values made by `secret()`. */
export function isSecretMount(value: unknown): value is SecretMount {
  return hasBrand(value, secretBrand);
}

/** Forwarding of the host's SSH agent into a target's steps. */
export interface SshSpec {
  /** Agent id (`default` is the one in SSH_AUTH_SOCK). */
  id?: string;
  /** Socket path in the container; SSH_AUTH_SOCK points at it. */
  path?: string;
}
