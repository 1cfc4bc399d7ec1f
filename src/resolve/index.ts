// Build-time lookups through BuildKit's gateway: base-image configs and files
// read out of solved definitions.

export { resolveImageConfigs, resolveImageConfigsWith, resolveImageConfig, parseImageConfig } from "./image-config.ts";
export type { ImageConfig, OciImageConfig, ResolveImageConfigOptions, ResolveImageConfigsOptions } from "./image-config.ts";
export { classifyRegistryFailure, describeRegistryFailure, ImageLookupError, isTlsFailure } from "./registry-errors.ts";
export type { RegistryFailure } from "./registry-errors.ts";
export { readFilesFromDefinitions, readFileFromDefinition, readFilesWith } from "./read-file.ts";
export type { FileRead, ReadFilesOptions } from "./read-file.ts";
