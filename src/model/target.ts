import { groupBrand, hasBrand, imageBrand, scratchBrand, targetBrand } from "./brands.ts";
import type { CacheMount, SecretMount, SshSpec } from "./mounts.ts";
import { callerLocation, type SourceLocation } from "./source-location.ts";
import type { Value } from "./values.ts";

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

/** Files copied into a target: from the host, or from another target's result. */
export interface CopySpec {
  /**
   * Without `from`: a host path, relative to the project (the config's directory) or absolute.
   * With `from`: a path in that target's filesystem (relative paths join its workdir).
   */
  src: string;
  /** Copy out of this target's result instead of the host: how artifacts flow between targets. */
  from?: Target;
  /** Destination inside the container; relative paths join `workdir`. Default: `src` under `workdir`. */
  dest?: Value;
  /** Only copy paths matching these patterns (relative to `src`). */
  include?: string[];
  /** Never copy paths matching these patterns (relative to `src`), on top of the project's ignore file. */
  exclude?: string[];
}

/** A copy: a host path string (copied to the same place under `workdir`) or a full spec. */
export type CopyEntry = string | CopySpec;

/** An artifact of a target written back to the host. */
export interface OutputSpec {
  /** Path in the target's result (absolute, or relative to `workdir`); a directory exports its contents. */
  artifact: string;
  /** Host directory that receives it, relative to the project. */
  local: Value;
  /** Allow `local` to point outside the project directory. */
  allowOutsideProject?: boolean;
  /**
   * Also export the artifact when one of the target's commands fails, from the filesystem
   * that command left (e.g. test reports); brewkit then reports the failure and exits
   * non-zero. The artifact must be on the target's root filesystem, not in a cache mount.
   */
  onFailure?: boolean;
}

/** The target's result as an image, pushed to a registry (or only built), e.g. `{ image: "registry.example.com/app:1.2", push: true }`. */
export interface ImageOutputSpec {
  /** The image's name, or several (each a tag of the same image), e.g. `["reg.example.com/app:1.2", "reg.example.com/app:latest"]`. */
  image: Value | Value[];
  /** Push the image to its registry (default: false: the image is built, and its digest reported, but stored nowhere). */
  push?: boolean;
}

/** The format of an image archive: `docker` (for `docker load`) or `oci` (an OCI image layout). */
export type TarballFormat = "docker" | "oci";

/** The target's result as an image archive written to the host, e.g. `{ tarball: "dist/app.tar", format: "docker", image: "app:1.2" }`. */
export interface TarballOutputSpec {
  /** Host file that receives the archive, relative to the project. */
  tarball: Value;
  /** `docker` (loads with `docker load`) or `oci` (an OCI image layout in a tar). */
  format: TarballFormat;
  /** Name(s) the image carries in the archive, the tags `docker load` creates. */
  image?: Value | Value[];
  /** Allow `tarball` to point outside the project directory. */
  allowOutsideProject?: boolean;
}

/** Something a target writes out: an artifact to a host directory, an image, or an image archive. */
export type TargetOutput = OutputSpec | ImageOutputSpec | TarballOutputSpec;

/** A port an image exposes: `8080` (TCP), `"8080/tcp"` or `"53/udp"`. */
export type ExposedPort = number | string;

/** Network of a target's steps: the worker's `default`, `none` at all, or the `host`'s (needs the daemon's `network.host` entitlement). */
export type NetworkMode = "default" | "none" | "host";

/** What a base can be: an image ref string, an `image()`, another target, or `scratch`. */
export type Base = string | ImageRef | Target | Scratch;

/** A command: a shell string (run with `/bin/sh -c`) or an argv array; both may contain variables. */
export type Command = Value | Value[];

/** The description of a target, as written in `brewkit.config.ts`. */
export interface TargetSpec {
  /** One line shown by `brewkit targets`. */
  description?: string;
  /** The base filesystem: an image ref like `"debian:bookworm"`, `image(...)`, another target, or `scratch`. */
  from: Base;
  /**
   * Platform to build for, e.g. `"linux/arm64"` (default: the daemon's). A list builds the
   * target (and the targets it is built on that set no platform) once per platform, and
   * its image outputs become one index with a manifest per platform.
   */
  platform?: string | string[];
  /** Working directory of steps and base of relative paths (default: the base image's, else `/`). */
  workdir?: string;
  /** Environment variables of every step, added to the base image's. */
  env?: Record<string, Value>;
  /** User steps run as, e.g. `"1000:1000"` or `"nobody"` (default: the base image's). */
  user?: string;
  /** Files copied in before the commands run. A string copies that host path to the same place under `workdir`. */
  copy?: CopyEntry | CopyEntry[];
  /** Cache mounts present during every command. */
  cache?: CacheMount[];
  /** Secrets present during every command. */
  secrets?: SecretMount[];
  /** Forward the host's SSH agent (SSH_AUTH_SOCK) into every command. */
  ssh?: boolean | SshSpec;
  /** Network of the commands. */
  network?: NetworkMode;
  /** The command to run. */
  command?: Command;
  /** Several commands run in order (instead of `command`). */
  commands?: Command[];
  /** What the build writes out: artifacts to host dirs (`{ artifact, local }`, with `onFailure: true` also after a failed command), images (`{ image, push }`) or image archives (`{ tarball, format }`). */
  output?: TargetOutput | TargetOutput[];
  /** The image's entrypoint: an argv, or a shell string (run with `/bin/sh -c`). Default: the base's; setting it clears the base's `cmd`. */
  entrypoint?: string | string[];
  /** The image's default command (arguments of the entrypoint): an argv, or a shell string. Default: the base's, unless `entrypoint` is set. */
  cmd?: string | string[];
  /** Labels of the image, added to the base's. */
  labels?: Record<string, Value>;
  /** Ports the image exposes, added to the base's, e.g. `[8080, "53/udp"]`. */
  expose?: ExposedPort[];
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
  const site = callerLocation(target);
  return Object.freeze({ [targetBrand]: true as const, spec: Object.freeze({ ...spec }), get definedAt() { return site(); } });
}

/** A registry image to build on, e.g. `image("debian:bookworm")`. */
export function image(ref: string): ImageRef {
  return Object.freeze({ [imageBrand]: true as const, ref });
}

/** The empty filesystem, for targets that start from nothing. */
export const scratch: Scratch = Object.freeze({ [scratchBrand]: true as const });

/** Several targets built together: `group(a, b)` or `group({ description, targets: [a, b] })`. */
export function group(...members: Target[] | [{ description?: string; targets: Target[] }]): Group {
  const first = members[0];
  const described = members.length === 1 && first !== undefined && !isTarget(first) ? (first as { description?: string; targets: Target[] }) : undefined;
  const targets = described ? described.targets : (members as Target[]);
  const site = callerLocation(group);
  return Object.freeze({ [groupBrand]: true as const, targets: Object.freeze([...targets]), description: described?.description, get definedAt() { return site(); } });
}

/** True for values made by `target()`. */
export function isTarget(value: unknown): value is Target {
  return hasBrand(value, targetBrand);
}

/** True for values made by `image()`. */
export function isImageRef(value: unknown): value is ImageRef {
  return hasBrand(value, imageBrand);
}

/** True for `scratch`. */
export function isScratch(value: unknown): value is Scratch {
  return hasBrand(value, scratchBrand);
}

/** True for values made by `group()`. */
export function isGroup(value: unknown): value is Group {
  return hasBrand(value, groupBrand);
}
