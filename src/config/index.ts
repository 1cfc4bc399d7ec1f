export { findConfigFile, configFileName } from "./find.ts";
export { loadConfig, defaultExportName, type LoadedConfig } from "./load.ts";
