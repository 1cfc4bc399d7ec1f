import { callerLocation, type SourceLocation } from "./source-location.ts";

// Brands use the global symbol registry so a config that loads its own copy of
// brewkit still produces values this copy recognises.
const targetBrand = Symbol.for("brewkit.target");
const imageBrand = Symbol.for("brewkit.image");
const scratchBrand = Symbol.for("brewkit.scratch");
const cacheBrand = Symbol.for("brewkit.cache");
const groupBrand = Symbol.for("brewkit.group");

/** A registry image used as a base, e.g. `image("debian:bookworm")`. */
export interface ImageRef {
  readonly [imageBrand]: true;
  /** The image reference as written. */
  readonly ref: string;
}

/** The empty filesystem. */
export interface Scratch {
  readonly [scratchBrand]: true;
}

/** How concurrent steps share one cache mount. */
export type CacheSharing = "shared" | "private" | "locked";

/** A persistent cache directory mounted into a target's steps. */
export interface CacheMount {
  readonly [cacheBrand]: true;
  /** Cache id: steps naming the same id see the same content. */
  readonly id: string;
  /** Mount path inside the container (absolute). */
  readonly path: string;
  /** How concurrent steps share it; `shared` by default. */
  readonly sharing: CacheSharing;
  /** Where `cache()` was called. */
  readonly definedAt: SourceLocation | undefined;
}

/** Host files copied into a target's filesystem. */
export interface CopySpec {
  /** Host path, relative to the project (the config's directory) or absolute. */
  src: string;
  /** Destination inside the container; relative paths are joined to `workdir`. Default: `src` under `workdir`. */
  dest?: string;
  /** Only copy paths matching these patterns (relative to `src`). */
  include?: string[];
  /** Never copy paths matching these patterns (relative to `src`), on top of the project's ignore file. */
  exclude?: string[];
}

/** An artifact of a target written back to the host. */
export interface OutputSpec {
  /** Path in the target's result (absolute, or relative to `workdir`); a directory exports its contents. */
  artifact: string;
  /** Host directory that receives it, relative to the project. */
  local: string;
  /** Allow `local` to point outside the project directory. */
  allowOutsideProject?: boolean;
}

/** What a base can be: an image ref string, an `image()`, another target, or `scratch`. */
export type Base = string | ImageRef | Target | Scratch;

/** The description of a target, as written in `brewkit.config.ts`. */
export interface TargetSpec {
  /** One line shown by `brewkit targets`. */
  description?: string;
  /** The base filesystem: an image ref like `"debian:bookworm"`, `image(...)`, another target, or `scratch`. */
  from: Base;
  /** Working directory of steps and base of relative paths (created if missing). */
  workdir?: string;
  /** Environment variables of every step. */
  env?: Record<string, string>;
  /** Host files copied in before the commands run. A string copies that path to the same place under `workdir`. */
  copy?: string | CopySpec | Array<string | CopySpec>;
  /** Cache mounts present during every command. */
  cache?: CacheMount[];
  /** The command to run: a shell string (run with `/bin/sh -c`) or an argv array. */
  command?: string | string[];
  /** Several commands run in order, each a shell string or an argv array (instead of `command`). */
  commands?: Array<string | string[]>;
  /** Artifacts written to the host after a successful build. */
  output?: OutputSpec | OutputSpec[];
  /** Targets built (and exported) before this one. */
  dependsOn?: Target[];
}

/** A build target. Export it from `brewkit.config.ts` to make it runnable by its export name. */
export interface Target {
  readonly [targetBrand]: true;
  /** The spec as written. */
  readonly spec: Readonly<TargetSpec>;
  /** Where `target()` was called. */
  readonly definedAt: SourceLocation | undefined;
}

/** Several targets built together, e.g. the config's default export. */
export interface Group {
  readonly [groupBrand]: true;
  /** The members, built in parallel where independent. */
  readonly targets: readonly Target[];
  /** One line shown by `brewkit targets`. */
  readonly description: string | undefined;
  /** Where `group()` was called. */
  readonly definedAt: SourceLocation | undefined;
}

/** Declares a build target. */
export function target(spec: TargetSpec): Target {
  return Object.freeze({ [targetBrand]: true as const, spec: Object.freeze({ ...spec }), definedAt: callerLocation() });
}

/** A registry image to build on, e.g. `image("debian:bookworm")`. */
export function image(ref: string): ImageRef {
  return Object.freeze({ [imageBrand]: true as const, ref });
}

/** The empty filesystem, for targets that start from nothing. */
export const scratch: Scratch = Object.freeze({ [scratchBrand]: true as const });

/** A cache mount: `id` names the cache, `path` is where steps see it. */
export function cache(id: string, path: string, options: { sharing?: CacheSharing } = {}): CacheMount {
  return Object.freeze({ [cacheBrand]: true as const, id, path, sharing: options.sharing ?? "shared", definedAt: callerLocation() });
}

/** Several targets built together. */
export function group(...members: Target[]): Group {
  return Object.freeze({ [groupBrand]: true as const, targets: Object.freeze([...members]), description: undefined, definedAt: callerLocation() });
}

/** True for values made by `target()`. */
export function isTarget(value: unknown): value is Target {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[targetBrand] === true;
}

/** True for values made by `image()`. */
export function isImageRef(value: unknown): value is ImageRef {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[imageBrand] === true;
}

/** True for `scratch`. */
export function isScratch(value: unknown): value is Scratch {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[scratchBrand] === true;
}

/** True for values made by `cache()`. */
export function isCacheMount(value: unknown): value is CacheMount {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[cacheBrand] === true;
}

/** True for values made by `group()`. */
export function isGroup(value: unknown): value is Group {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[groupBrand] === true;
}
