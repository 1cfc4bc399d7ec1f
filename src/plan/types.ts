import type { CacheSharing, SourceLocation, Target } from "../model/index.ts";

/** The base of a planned target. */
export type PlannedBase =
  | { kind: "scratch" }
  | { kind: "image"; ref: string }
  | { kind: "target"; name: string };

/** Host files copied into a target, with paths resolved. */
export interface PlannedCopy {
  /** Absolute host directory the files are read from (the upload root). */
  hostRoot: string;
  /** Path of the source relative to `hostRoot` ("." for all of it). */
  srcPath: string;
  /** Absolute destination in the container. */
  dest: string;
  /** Include patterns, relative to `hostRoot`. */
  include: string[];
  /** Exclude patterns, relative to `hostRoot`. */
  exclude: string[];
}

/** A cache mount of a planned target. */
export interface PlannedCache {
  id: string;
  path: string;
  sharing: CacheSharing;
}

/** A host destination for an artifact. */
export interface PlannedOutput {
  /** Absolute path of the artifact in the target's result. */
  artifact: string;
  /** Absolute host directory. */
  dest: string;
}

/** A target with every reference resolved and every path absolute. */
export interface PlannedTarget {
  name: string;
  description: string | undefined;
  definedAt: SourceLocation | undefined;
  base: PlannedBase;
  workdir: string;
  env: Array<[string, string]>;
  copies: PlannedCopy[];
  caches: PlannedCache[];
  commands: string[][];
  outputs: PlannedOutput[];
  dependsOn: string[];
  /** The model value it came from. */
  source: Target;
}

/** A validated build plan: the requested targets and everything they need. */
export interface Plan {
  configFile: string;
  projectDir: string;
  /** Every target in the closure, by name. */
  targets: ReadonlyMap<string, PlannedTarget>;
  /** The targets the user asked for (groups expanded), in order. */
  requested: string[];
  /** Targets to build, in waves: each wave only depends on earlier waves. */
  waves: string[][];
}
