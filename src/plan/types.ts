import type { Platform } from "../llb/index.ts";
import type { CacheSharing, NetworkMode, SourceLocation, TarballFormat, Target, Value, Variable } from "../model/index.ts";

/** The base of a planned target. */
export type PlannedBase =
  | { kind: "scratch" }
  | { kind: "image"; ref: string }
  | { kind: "target"; name: string };

/** Host files copied into a target. */
export interface PlannedHostCopy {
  kind: "host";
  /** Absolute host directory the files are read from (the upload root). */
  hostRoot: string;
  /** Path of the source relative to `hostRoot` ("." for all of it). */
  srcPath: string;
  /** Destination as written (relative to the workdir); undefined: `srcPath` under the workdir. */
  dest: Value | undefined;
  /** Include patterns, relative to `hostRoot`. */
  include: string[];
  /** Exclude patterns, relative to `hostRoot`. */
  exclude: string[];
}

/** Files copied from another target's result. */
export interface PlannedTargetCopy {
  kind: "target";
  /** The target whose result is read. */
  from: string;
  /** Path in that target's filesystem as written (relative: its workdir). */
  src: string;
  /** Destination as written; undefined: the basename of `src` under the workdir. */
  dest: Value | undefined;
  include: string[];
  exclude: string[];
}

/** Files copied into a target. */
export type PlannedCopy = PlannedHostCopy | PlannedTargetCopy;

/** A cache mount of a planned target. */
export interface PlannedCache {
  id: string;
  /** Mount path as written (relative: the workdir). */
  path: string;
  sharing: CacheSharing;
  /** Absolute host folder mirrored with the cache. */
  hostDir: string | undefined;
}

/** A secret of a planned target: a file at `path` or an env variable `env`. */
export interface PlannedSecret {
  id: string;
  path: string | undefined;
  env: string | undefined;
  optional: boolean;
  mode: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
}

/** A host destination for an artifact. */
export interface PlannedOutput {
  /** Index in the target's `output` list. */
  index: number;
  /** Path in the target's result as written (relative: the workdir). */
  artifact: string;
  /** Host directory as written (relative: the project). */
  local: Value;
  allowOutsideProject: boolean;
  /** Exported from the failed command's filesystem too when a command of the target fails. */
  onFailure: boolean;
}

/** An image the target's result is exported as. */
export interface PlannedImageOutput {
  /** Index in the target's `output` list. */
  index: number;
  /** Its names (tags), as written; strings already checked as image references. */
  names: Value[];
  push: boolean;
}

/** An image archive written to a host file. */
export interface PlannedTarballOutput {
  /** Index in the target's `output` list. */
  index: number;
  /** Host file as written (relative: the project). */
  file: Value;
  format: TarballFormat;
  /** Names the image carries in the archive, as written. */
  names: Value[];
  allowOutsideProject: boolean;
}

/** What a target sets of the config of the images made of it (the rest comes from its base and its steps). */
export interface PlannedImageConfig {
  /** Undefined: the base's. */
  entrypoint: string[] | undefined;
  /** Undefined: the base's (none when `entrypoint` is set). */
  cmd: string[] | undefined;
  labels: Array<[string, Value]>;
  /** Ports as `port/protocol`. */
  expose: string[];
}

/** A target (or a variable's command) with references resolved and shapes checked. */
export interface PlannedTarget {
  name: string;
  description: string | undefined;
  definedAt: SourceLocation | undefined;
  base: PlannedBase;
  platform: Platform | undefined;
  /** The platforms of a target built for several (`platform` given as a list); empty otherwise. */
  platforms: Platform[];
  /** Workdir as written; undefined: the base's. */
  workdir: string | undefined;
  env: Array<[string, Value]>;
  user: string | undefined;
  copies: PlannedCopy[];
  caches: PlannedCache[];
  secrets: PlannedSecret[];
  ssh: { id: string; path: string | undefined } | undefined;
  network: NetworkMode;
  /** Commands as argv; a shell string becomes `/bin/sh -c <string>`. */
  commands: Value[][];
  /** Artifacts written to host dirs. */
  outputs: PlannedOutput[];
  /** Images made of the result. */
  images: PlannedImageOutput[];
  /** Image archives written to host files. */
  tarballs: PlannedTarballOutput[];
  /** The target's own image config fields. */
  imageConfig: PlannedImageConfig;
  dependsOn: string[];
  /** The model value it came from (a Target, or the Variable it computes). */
  source: Target | Variable;
}

/** A variable, planned like a target whose single command's stdout is the value. */
export interface PlannedVariable {
  variable: Variable;
  /** The target that runs its command (named by the variable's export, else by the path that reached it, e.g. `app>env.VERSION`). */
  target: PlannedTarget;
}

/** A validated build plan: the requested targets and everything they need. */
export interface Plan {
  configFile: string;
  projectDir: string;
  /** Every target in the closure, by name (variables' targets included). */
  targets: ReadonlyMap<string, PlannedTarget>;
  /** Every variable that the targets or other variables refer to. */
  variables: ReadonlyMap<Variable, PlannedVariable>;
  /** The targets the user asked for (groups expanded), in order. */
  requested: string[];
  /** Targets to build, in waves: each wave only depends on earlier waves. */
  waves: string[][];
}
