/** Where the value of one secret id comes from on the host. */
export type SecretSource = EnvSecretSource | FileSecretSource;

/** A secret read from an environment variable. */
export interface EnvSecretSource {
  kind: "env";
  /** Secret id, as named by the build (`secret("npm", ...)`). */
  id: string;
  /** Environment variable holding the value. */
  env: string;
  /** Who defined it, for messages: the flag as given, or the config file path. */
  origin: string;
}

/** A secret read from a host file. */
export interface FileSecretSource {
  kind: "file";
  /** Secret id, as named by the build (`secret("npm", ...)`). */
  id: string;
  /** Absolute host path of the file holding the value. */
  path: string;
  /** Who defined it, for messages: the flag as given, or the config file path. */
  origin: string;
}

/** A one-line description of where a secret's value comes from (never the value itself). */
export function describeSource(source: SecretSource): string {
  const from = source.kind === "env" ? `environment variable ${source.env}` : `file ${source.path}`;
  return `${from} (from ${source.origin})`;
}
