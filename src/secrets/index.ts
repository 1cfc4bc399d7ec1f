export type { EnvSecretSource, FileSecretSource, SecretSource } from "./source.ts";
export { describeSource } from "./source.ts";
export type { SecretFlagContext } from "./flag.ts";
export { parseSecretFlag, parseSecretFlags } from "./flag.ts";
export { loadSecretsConfig, userConfigPath } from "./config-file.ts";
export type { LoadSecretStoreOptions, MissingSecret, SecretReader, SecretRef } from "./store.ts";
export { SecretStore, loadSecretStore, maxSecretBytes } from "./store.ts";
export { Redactor, isRedactable, maxEncodedBytes, minRedactedLength, redactionMark } from "./redactor.ts";
