import { promises as fsp, statSync } from "node:fs";
import { UserInputError } from "../errors.ts";
import { loadSecretsConfig, userConfigPath } from "./config-file.ts";
import type { SecretFlagContext } from "./flag.ts";
import { parseSecretFlags } from "./flag.ts";
import { Redactor } from "./redactor.ts";
import type { SecretSource } from "./source.ts";
import { describeSource } from "./source.ts";

/** Largest secret value served, in bytes: BuildKit's own client refuses more (500 KiB). */
export const maxSecretBytes = 500 * 1024;

/** A secret a build uses, as the plan lists it. */
export interface SecretRef {
  id: string;
  /** The build runs without it when it has no value. */
  optional: boolean;
}

/** A required secret that has no value, with why. */
export interface MissingSecret {
  id: string;
  /** E.g. `not provided`, `environment variable NPM_TOKEN is not set (from --secret ...)`. */
  problem: string;
}

/** Anything that can answer the daemon's secret requests. */
export interface SecretReader {
  /** The value of `id`, or undefined when there is none; throws a BrewkitError when it cannot be served. */
  read(id: string): Promise<Buffer | undefined>;
}

/**
 * The secrets of one brewkit invocation: sources from the user config file,
 * overridden per id by `--secret` flags. Values are read when a build names them, so a
 * token rotated between builds of a watch session is picked up; every value read is
 * taught to `redactor`, which hides it from what brewkit prints and writes.
 */
export class SecretStore implements SecretReader {
  private readonly sources = new Map<string, SecretSource>();
  // Pipes (`src=<(pass show npm)`) can be read once only; their value is kept for later requests.
  private readonly onceOnly = new Map<string, Buffer>();

  /** Later sources override earlier ones with the same id; `configFile` is named in hints; `redactor` learns every value read. */
  constructor(
    sources: Iterable<SecretSource>,
    private readonly env: NodeJS.ProcessEnv = process.env,
    readonly configFile: string | undefined = undefined,
    readonly redactor: Redactor = new Redactor(),
  ) {
    for (const source of sources) this.sources.set(source.id, source);
  }

  /** Ids that have a source (their values may still be missing). */
  ids(): string[] {
    return [...this.sources.keys()];
  }

  /** Where `id`'s value comes from, if anywhere. */
  source(id: string): SecretSource | undefined {
    return this.sources.get(id);
  }

  /** Reads `id` now (and teaches its value to the redactor). Undefined: no source, unset variable, or missing file. */
  async read(id: string): Promise<Buffer | undefined> {
    const value = await this.readSource(id);
    if (value !== undefined) this.redactor.add(value);
    return value;
  }

  private async readSource(id: string): Promise<Buffer | undefined> {
    const source = this.sources.get(id);
    if (source === undefined) return undefined;
    if (source.kind === "env") {
      const value = this.env[source.env];
      if (value === undefined) return undefined;
      const data = Buffer.from(value, "utf8");
      checkSize(source, data.length);
      return data;
    }
    const kept = this.onceOnly.get(id);
    if (kept !== undefined) return kept;
    const result = await readLimited(source);
    if (result === undefined) return undefined;
    if (!result.regular) this.onceOnly.set(id, result.data);
    return result.data;
  }

  /** The required secrets among `refs` that have no value now, each once, in order. */
  missing(refs: Iterable<SecretRef>): MissingSecret[] {
    const missing: MissingSecret[] = [];
    const seen = new Set<string>();
    for (const { id, optional } of refs) {
      if (optional || seen.has(id)) continue;
      seen.add(id);
      const problem = this.problem(id);
      if (problem !== undefined) missing.push({ id, problem });
    }
    return missing;
  }

  /** Throws one UserInputError listing every required secret of `refs` without a value, and how to provide each. */
  assertAvailable(refs: Iterable<SecretRef>): void {
    const missing = this.missing(refs);
    if (missing.length === 0) return;
    const ids = missing.map((m) => `"${m.id}"`).join(", ");
    const lines = missing.map((m) => `  ${m.id}: ${m.problem}`).join("\n");
    const optional = "a secret the build can do without is marked secret(id, target, { optional: true })";
    const fixes = missing.map((m) => this.fix(m.id));
    throw new UserInputError("SECRETS_MISSING", `the build needs secret${missing.length > 1 ? "s" : ""} ${ids} but no value is available:\n${lines}`, {
      hint: missing.length === 1 ? `provide it: ${fixes[0]}; ${optional}` : `provide each one:\n${missing.map((m, i) => `  ${m.id}: ${fixes[i]}`).join("\n")}\n${optional}`,
    });
  }

  // How to give `id` a value, from where it is expected now.
  private fix(id: string): string {
    const source = this.sources.get(id);
    if (source?.kind === "env") return `set ${source.env}, or give --secret id=${id},src=FILE`;
    if (source?.kind === "file") return `put the value in the file ${source.path}, or give --secret id=${id},env=VARIABLE`;
    const config = this.configFile ?? "the brewkit config file";
    return `--secret id=${id},env=VARIABLE or --secret id=${id},src=FILE, or add "${id}": { "env": "VARIABLE" } to "secrets" in ${config}`;
  }

  private problem(id: string): string | undefined {
    const source = this.sources.get(id);
    if (source === undefined) return "not provided";
    if (source.kind === "env") {
      return this.env[source.env] === undefined ? `${describeSource(source)} is not set` : undefined;
    }
    if (this.onceOnly.has(id)) return undefined;
    try {
      const stat = statSync(source.path);
      return stat.isDirectory() ? `${describeSource(source)} is a directory` : undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === "ENOENT" ? `${describeSource(source)} does not exist` : `${describeSource(source)} cannot be read (${code ?? (err as Error).message})`;
    }
  }
}

/** Options of `loadSecretStore`. */
export interface LoadSecretStoreOptions extends SecretFlagContext {
  /** `--secret` values, in the order given. */
  flags?: readonly string[];
  /** The user config file; default `userConfigPath(env)`. */
  configFile?: string;
  /** Learns every value read; default a new one (see `SecretStore.redactor`). */
  redactor?: Redactor;
}

/** The store of one invocation: the user config file's secrets, overridden by `--secret` flags. */
export async function loadSecretStore(options: LoadSecretStoreOptions = {}): Promise<SecretStore> {
  const env = options.env ?? process.env;
  const configFile = options.configFile ?? userConfigPath(env);
  // Flags first: a bad flag is reported even when the config file is broken too.
  const fromFlags = parseSecretFlags(options.flags ?? [], options);
  const fromConfig = await loadSecretsConfig(configFile);
  return new SecretStore([...fromConfig, ...fromFlags], env, configFile, options.redactor);
}

function checkSize(source: SecretSource, bytes: number): void {
  if (bytes <= maxSecretBytes) return;
  throw new UserInputError("SECRET_TOO_LARGE", `secret "${source.id}" from ${describeSource(source)} is larger than ${maxSecretBytes / 1024} KiB`, {
    hint: "secrets are for tokens, keys and small credential files; copy larger files into the build instead",
  });
}

// Reads at most maxSecretBytes + 1 bytes, so pointing a secret at a huge file (or a
// device) fails fast instead of loading it.
async function readLimited(source: SecretSource & { kind: "file" }): Promise<{ data: Buffer; regular: boolean } | undefined> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(source.path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw unreadable(source, err);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw unreadable(source, new Error("it is a directory"));
    const buffer = Buffer.alloc(maxSecretBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    checkSize(source, length);
    return { data: Buffer.from(buffer.subarray(0, length)), regular: stat.isFile() };
  } catch (err) {
    if (err instanceof UserInputError) throw err;
    throw unreadable(source, err);
  } finally {
    await handle.close();
  }
}

function unreadable(source: SecretSource, err: unknown): UserInputError {
  return new UserInputError("SECRET_UNREADABLE", `secret "${source.id}": cannot read ${describeSource(source)}: ${(err as Error).message}`, {
    hint: "check the path and its permissions",
  });
}
