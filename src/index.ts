// The API a brewkit.config.ts imports.
export { target, image, scratch, cache, group } from "./model/index.ts";
export type { Target, TargetSpec, Group, ImageRef, Scratch, CacheMount, CacheSharing, CopySpec, OutputSpec, Base } from "./model/index.ts";
