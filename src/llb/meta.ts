import { isAbsPath, joinPath } from "../gopath/index.ts";
import { normalizePlatform, type Platform } from "./platform.ts";

/** Network a container gets: BuildKit's sandbox (default), the host's, or none. */
export type NetworkMode = "sandbox" | "host" | "none";

/** `insecure` runs the container privileged (needs the `security.insecure` entitlement). */
export type SecurityMode = "sandbox" | "insecure";

/**
 * What a State carries besides its filesystem. None of it is a vertex: it only
 * matters when `run` captures it into an exec op (or a file op resolves paths).
 */
export interface StateMeta {
  readonly dir: string;
  /** `[key, value]` pairs; a key's position is where it was last set. */
  readonly env: readonly (readonly [string, string])[];
  readonly user: string | undefined;
  readonly platform: Platform | undefined;
  readonly network: NetworkMode | undefined;
  readonly security: SecurityMode | undefined;
  readonly hostname: string | undefined;
}

/** Metadata of a fresh State: working dir `/`, the output's platform if it has one. */
export function initialMeta(platform: Platform | undefined): StateMeta {
  return {
    dir: "/",
    env: [],
    user: undefined,
    platform: platform && normalizePlatform(platform),
    network: undefined,
    security: undefined,
    hostname: undefined,
  };
}

/** Go's `Dir`: relative paths join the current dir; absolute ones are kept verbatim. */
export function withDir(meta: StateMeta, dir: string): StateMeta {
  return { ...meta, dir: isAbsPath(dir) ? dir : joinPath(meta.dir || "/", dir) };
}

/** Go's `EnvList.AddOrReplace`: setting a key again moves it to the end. */
export function withEnv(meta: StateMeta, key: string, value: string): StateMeta {
  return { ...meta, env: [...meta.env.filter(([k]) => k !== key), [key, value]] };
}

/** The value of `key`, or undefined. */
export function envValue(meta: StateMeta, key: string): string | undefined {
  return meta.env.find(([k]) => k === key)?.[1];
}
