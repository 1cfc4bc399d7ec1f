export * from "./target.ts";
export * from "./mounts.ts";
export * from "./values.ts";
export type { SourceLocation } from "./source-location.ts";
