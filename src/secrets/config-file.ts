import { promises as fsp } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { brewkitHome } from "../daemon/paths.ts";
import { UserInputError } from "../errors.ts";
import type { SecretSource } from "./source.ts";

/** The user config file: `$BREWKIT_CONFIG`, else `config.json` in brewkit's home (`$BREWKIT_HOME` or `~/.brewkit`). */
export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.BREWKIT_CONFIG ? path.resolve(env.BREWKIT_CONFIG) : path.join(brewkitHome(env), "config.json");
}

/**
 * Reads the secret definitions of the user config file. The file is JSON:
 *
 * ```json
 * {
 *   "secrets": {
 *     "npm":   { "env": "NPM_TOKEN" },
 *     "netrc": { "file": "~/.netrc" }
 *   }
 * }
 * ```
 *
 * Each id maps to exactly one of `env` (an environment variable of the brewkit
 * process) or `file` (absolute, `~/`-relative, or relative to the config file's
 * directory). Values are read only when a build asks for them. A missing file means
 * no secrets; other top-level keys are left to other features.
 */
export async function loadSecretsConfig(file: string): Promise<SecretSource[]> {
  const json = await readUserConfigJson(file, example);
  return json === undefined ? [] : secretsFromJson(json, file);
}

/**
 * The parsed user config file, or undefined when it does not exist. Each feature reads
 * its own top-level key; `example` is shown when the file is not valid JSON.
 */
export async function readUserConfigJson(file: string, example: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UserInputError("USER_CONFIG_UNREADABLE", `cannot read ${file}: ${(err as Error).message}`, {
      hint: "fix the file's permissions, or point BREWKIT_CONFIG at another file",
      context: { file },
    });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const line = jsonErrorLine(text, (err as Error).message);
    throw new UserInputError("USER_CONFIG_INVALID", `${file}${line === undefined ? "" : `:${line}`} is not valid JSON: ${(err as Error).message}`, {
      hint: `expected e.g. ${example}`,
      context: line === undefined ? { file } : { file, line },
    });
  }
}

const example = `{ "secrets": { "npm": { "env": "NPM_TOKEN" }, "netrc": { "file": "~/.netrc" } } }`;

function secretsFromJson(json: unknown, file: string): SecretSource[] {
  const wrong = (field: string, message: string) =>
    new UserInputError("USER_CONFIG_INVALID", `${file}: ${field} ${message}`, { hint: `expected e.g. ${example}`, context: { file, field } });

  if (!isPlainObject(json)) throw wrong("the top level", "must be a JSON object");
  const secrets = json.secrets;
  if (secrets === undefined) return [];
  if (!isPlainObject(secrets)) throw wrong(`"secrets"`, "must be an object mapping secret ids to { \"env\": ... } or { \"file\": ... }");

  const sources: SecretSource[] = [];
  for (const [id, entry] of Object.entries(secrets)) {
    const field = `secrets.${id}`;
    if (id === "") throw wrong(`"secrets"`, "has an empty secret id");
    if (!isPlainObject(entry)) throw wrong(field, `must be { "env": "VARIABLE" } or { "file": "PATH" }`);
    const keys = Object.keys(entry);
    const unknown = keys.find((key) => key !== "env" && key !== "file");
    if (unknown !== undefined) throw wrong(`${field}.${unknown}`, `is not a known key (use "env" or "file")`);
    if (keys.length !== 1) throw wrong(field, `must have exactly one of "env" or "file"`);
    const key = keys[0] as "env" | "file";
    const value = entry[key];
    if (typeof value !== "string" || value === "") throw wrong(`${field}.${key}`, "must be a non-empty string");
    sources.push(
      key === "env"
        ? { kind: "env", id, env: value, origin: file }
        : { kind: "file", id, path: resolveConfigPath(value, file), origin: file },
    );
  }
  return sources;
}

/** A path of the user config file: `~/`-relative, absolute, or relative to the file's directory (JSON has no shell expansion). */
export function resolveConfigPath(value: string, file: string): string {
  if (value === "~" || value.startsWith("~/")) return path.join(homedir(), value.slice(1));
  return path.resolve(path.dirname(file), value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// V8 reports "... at position N"; a line number is what a user can jump to.
function jsonErrorLine(text: string, message: string): number | undefined {
  const match = /position (\d+)/.exec(message);
  if (match === null) return text.trim() === "" ? 1 : undefined;
  const position = Number(match[1]);
  return text.slice(0, position).split("\n").length;
}
