export * from "./target.ts";
export * from "./mounts.ts";
export * from "./values.ts";
export * from "./build-cache.ts";
export type { SourceLocation } from "./source-location.ts";
