import { promises as fsp } from "node:fs";
import { UserInputError } from "../errors.ts";
import { readUserConfigJson, resolveConfigPath } from "../secrets/config-file.ts";
import { isDockerHub } from "./hosts.ts";
import type { RegistryLogin } from "./docker-config.ts";

/** Where a registry password comes from: an environment variable of brewkit, or a file. */
export type PasswordSource = { env: string } | { file: string };

/** One entry of `registries` in brewkit's user config file. */
export interface RegistrySettings {
  /** The registry as image references spell it: `host[:port]` (`docker.io` for Docker Hub). */
  host: string;
  /** User name of the login, with `password`. */
  username?: string;
  /** Password (or token) of the login. */
  password?: PasswordSource;
  /** PEM files of CAs that brewkit's own daemon trusts for this registry (absolute paths). */
  ca?: string[];
  /** brewkit's own daemon talks plain HTTP to this registry. */
  http?: boolean;
  /** brewkit's own daemon skips the verification of this registry's TLS certificate. */
  insecure?: boolean;
}

const example = `{ "registries": { "registry.example.com": { "username": "ci", "password": { "env": "REGISTRY_PASSWORD" }, "ca": "~/certs/registry-ca.pem" } } }`;

/**
 * Reads the `registries` of brewkit's user config file (none when the file or the key is
 * missing). Each key is a registry host; each entry may hold a login (`username` and
 * `password` from `{ "env" }` or `{ "file" }`, read only when the daemon asks) and settings
 * for brewkit's own daemon: `ca` (a PEM file or a list), `http`, `insecure`.
 */
export async function loadRegistrySettings(file: string): Promise<RegistrySettings[]> {
  const json = await readUserConfigJson(file, example);
  return json === undefined ? [] : registriesFromJson(json, file);
}

/** The `registries` entries of a parsed user config file; errors name the file and the field. */
export function registriesFromJson(json: unknown, file: string): RegistrySettings[] {
  const wrong = (field: string, message: string) => new UserInputError("USER_CONFIG_INVALID", `${file}: ${field} ${message}`, { hint: `expected e.g. ${example}`, context: { file, field } });
  if (!isPlainObject(json)) throw wrong("the top level", "must be a JSON object");
  const registries = json.registries;
  if (registries === undefined) return [];
  if (!isPlainObject(registries)) throw wrong(`"registries"`, "must be an object mapping registry hosts to their settings");
  return Object.entries(registries).map(([host, entry]) => {
    const field = `registries.${host}`;
    if (host === "" || /[/\s]/.test(host) || /^https?:/.test(host)) throw wrong(field, "must be named by its host, e.g. \"registry.example.com\" or \"127.0.0.1:5000\" (no scheme, no path)");
    if (!isPlainObject(entry)) throw wrong(field, "must be an object");
    const known = new Set(["username", "password", "ca", "http", "insecure"]);
    const unknown = Object.keys(entry).find((key) => !known.has(key));
    if (unknown !== undefined) throw wrong(`${field}.${unknown}`, `is not a known key (use ${[...known].map((k) => `"${k}"`).join(", ")})`);
    const settings: RegistrySettings = { host };
    if (entry.username !== undefined) {
      if (typeof entry.username !== "string" || entry.username === "") throw wrong(`${field}.username`, "must be a non-empty string");
      settings.username = entry.username;
    }
    if (entry.password !== undefined) settings.password = passwordSource(entry.password, `${field}.password`, file, wrong);
    if ((settings.username === undefined) !== (settings.password === undefined)) throw wrong(field, `needs both "username" and "password" for a login`);
    if (entry.ca !== undefined) {
      const list = Array.isArray(entry.ca) ? entry.ca : [entry.ca];
      if (list.length === 0 || !list.every((p): p is string => typeof p === "string" && p !== "")) throw wrong(`${field}.ca`, "must be a path to a PEM file, or a list of them");
      settings.ca = list.map((p) => resolveConfigPath(p, file));
    }
    for (const flag of ["http", "insecure"] as const) {
      if (entry[flag] === undefined) continue;
      if (typeof entry[flag] !== "boolean") throw wrong(`${field}.${flag}`, "must be true or false");
      settings[flag] = entry[flag];
    }
    return settings;
  });
}

function passwordSource(value: unknown, field: string, file: string, wrong: (field: string, message: string) => Error): PasswordSource {
  if (!isPlainObject(value)) throw wrong(field, `must be { "env": "VARIABLE" } or { "file": "PATH" } (no password in the file itself)`);
  const keys = Object.keys(value);
  if (keys.length !== 1 || (keys[0] !== "env" && keys[0] !== "file")) throw wrong(field, `must have exactly one of "env" or "file"`);
  const source = value[keys[0]];
  if (typeof source !== "string" || source === "") throw wrong(`${field}.${keys[0]}`, "must be a non-empty string");
  return keys[0] === "env" ? { env: source } : { file: resolveConfigPath(source, file) };
}

/** The settings of `host` (as the daemon names it; Docker Hub under any of its names). */
export function settingsFor(all: readonly RegistrySettings[], host: string): RegistrySettings | undefined {
  return all.find((s) => s.host === host) ?? (isDockerHub(host) ? all.find((s) => isDockerHub(s.host)) : undefined);
}

/** The login of a registry's settings, its password read now; undefined when it has none. */
export async function settingsLogin(settings: RegistrySettings, file: string, env: NodeJS.ProcessEnv = process.env): Promise<RegistryLogin | undefined> {
  if (settings.username === undefined || settings.password === undefined) return undefined;
  const source = settings.password;
  const field = `registries.${settings.host}.password`;
  let secret: string;
  if ("env" in source) {
    const value = env[source.env];
    if (value === undefined || value === "") {
      throw new UserInputError("REGISTRY_PASSWORD_MISSING", `the password of ${settings.host} comes from $${source.env}, which is not set (${file}: ${field})`, {
        hint: `set ${source.env}, or change ${field} in ${file}`,
        context: { file, field },
      });
    }
    secret = value;
  } else {
    try {
      secret = (await fsp.readFile(source.file, "utf8")).replace(/\r?\n$/, "");
    } catch (err) {
      throw new UserInputError("REGISTRY_PASSWORD_MISSING", `cannot read the password of ${settings.host} from ${source.file}: ${(err as Error).message} (${file}: ${field})`, {
        hint: `create the file, or change ${field} in ${file}`,
        context: { file, field },
      });
    }
  }
  return { username: settings.username, secret, origin: file };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
