import type { Definition, Platform } from "../llb/index.ts";
import type { Variable } from "../model/index.ts";

/** A host directory a compiled target reads, served to the daemon under its local name. */
export interface CompiledLocalDir {
  root: string;
  includePatterns: string[];
  excludePatterns: string[];
}

/** What a build needs from the client besides files: checked before the solve starts. */
export interface Requirements {
  /** Secret ids mounted by some step. */
  secrets: Array<{ id: string; optional: boolean; target: string }>;
  /** SSH agent ids forwarded into some step. */
  ssh: Array<{ id: string; target: string }>;
  /** Daemon entitlements (e.g. `network.host`). */
  entitlements: string[];
}

/** A host directory receiving a Solve's whole result. */
export interface CompiledExport {
  /** Absolute host directory. */
  dest: string;
  /** Link files the directory already holds unchanged instead of transferring them. */
  incremental: boolean;
  /** The directory `dest` must stay in, symlinks resolved (the project); undefined: allowed anywhere. */
  within: string | undefined;
}

/** An image a Solve exports: to a registry (`image`) or as an archive on the host (`docker`, `oci`). */
export interface CompiledImageExport {
  /** The exporter: `image` (pushed when `push`), or an archive format. */
  type: "image" | "docker" | "oci";
  /** Index in the target's `output` list. */
  index: number;
  /** The image's names, rendered. */
  names: string[];
  push: boolean;
  /** The exporter's attributes (`name`, `push`, `containerimage.config`, ...). */
  attrs: Record<string, string>;
  /** For an archive: the absolute host file, and the directory it must stay in (the project; undefined: anywhere). */
  file?: { path: string; within: string | undefined };
}

/** The output a build job exports: which of the target's outputs, and the step that picks its artifact out of the result. */
export interface CollectedOutput {
  /** Index in the target's `output` list. */
  index: number;
  /** The artifact's absolute path in the target's result. */
  path: string;
  /** Name of the step that copies the artifact out of the result. */
  step: string;
}

/** One Solve of a target: a definition and where its result goes on the host. */
export interface CompiledJob {
  /** The target's name. */
  name: string;
  definition: Definition;
  /** Host dirs by local name. */
  localDirs: Map<string, CompiledLocalDir>;
  /** Host dirs receiving the whole result (empty: build only). */
  exports: CompiledExport[];
  requirements: Requirements;
  /** The output this job exports, for a build job of a target with outputs. */
  output?: CollectedOutput;
  /** The image this job exports, for a build job of a target with image or archive outputs. */
  image?: CompiledImageExport;
  /** For a target built for several platforms: its build for each (`definition` is the first's). */
  platforms?: CompiledPlatformBuild[];
  /**
   * Set on the job that builds a target with `onFailure` outputs first: solved through the
   * gateway, so that when one of the target's own commands fails these outputs are
   * exported from the filesystem it left. It exports nothing when the build succeeds.
   */
  failureExports?: FailureExport[];
}

/** A target's build for one of its platforms, with the config of the image made of it. */
export interface CompiledPlatformBuild {
  platform: Platform;
  definition: Definition;
  /** The image config JSON for this platform. */
  config: string;
}

/** An output exported from a failed command's filesystem. */
export interface FailureExport {
  /** Index in the target's `output` list. */
  index: number;
  /** The artifact's absolute path in the target's filesystem. */
  path: string;
  /** Where it goes on the host. */
  export: CompiledExport;
}

/** The Solves of one target. */
export interface CompiledTarget {
  /** Fill mirrored caches from their host folders (before the build). */
  seed: CompiledJob[];
  /**
   * The target's build through the gateway (its `failureExports` set, maybe empty): run
   * before the build's Solves when a failed command must be reached (see `phasesOf`).
   */
  gatewayBuild: CompiledJob;
  /** The build: one Solve per output, or one build-only Solve. */
  build: CompiledJob[];
  /** Copy mirrored caches back to their host folders (after the build). */
  writeBack: CompiledJob[];
}

/** The parts of a base image's config that a target inherits. */
export interface BaseImageConfig {
  env: Array<[string, string]>;
  workdir?: string;
  user?: string;
  /** The whole config JSON, the start of the config of images made of the target (history included). */
  raw?: { [key: string]: unknown };
}

/** Inputs of compiling that come from the daemon, the registry and earlier evaluation. */
export interface CompileOptions {
  /** The worker's platform, for ops that set none. */
  platform: Platform;
  /** Id recorded on local sources, as BuildKit's Go client does: unique per run in builds, so runs never share an upload. */
  localUniqueId?: string;
  /** Resolved configs of the image bases, by ref as written. */
  imageConfigs?: ReadonlyMap<string, BaseImageConfig>;
  /** For targets built for several platforms: the configs of the image bases for each platform (by platform id, e.g. `linux/386`). */
  imageConfigsByPlatform?: ReadonlyMap<string, ReadonlyMap<string, BaseImageConfig>>;
  /** Values of the variables the targets use. */
  variables?: ReadonlyMap<Variable, string>;
  /** Unique per run: steps that must run on every build (cache seed and write-back) carry it. */
  runId?: string;
  /**
   * The text of the files targets are defined in, by absolute path: each op then carries
   * the lines of its target's `target()` call (`Definition.Source`), so the daemon's
   * errors point at them.
   */
  configSources?: ReadonlyMap<string, ConfigSource>;
  /** Every op runs anew instead of being taken from the build cache (`--no-cache`); what it makes still goes into the cache. */
  ignoreCache?: boolean;
}

/** A file of the config, as errors name it. */
export interface ConfigSource {
  /** The name errors show: the path relative to the project, e.g. `brewkit.config.ts`. */
  name: string;
  text: string;
}
