/// <reference types="node" />
// The API a brewkit.config.ts imports.
export { target, image, scratch, group, cache, secret, variable, fmt, buildCache } from "./model/index.ts";
export type {
  Target, TargetSpec, Group, ImageRef, Scratch, Base, CopySpec, CopyEntry, OutputSpec, ImageOutputSpec, TarballOutputSpec, TarballFormat, TargetOutput, ExposedPort, NetworkMode, Command,
  CacheMount, CacheOptions, CacheSharing, SecretMount, SecretOptions, SecretTarget, SshSpec,
  Variable, VariableSpec, Interpolation, Value, BuildCache, BuildCacheSpec,
} from "./model/index.ts";
