export * from "./target.ts";
export type { SourceLocation } from "./source-location.ts";
