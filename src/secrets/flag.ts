import path from "node:path";
import { UserInputError } from "../errors.ts";
import type { SecretSource } from "./source.ts";

const usage = "use --secret id=NAME,env=VARIABLE or --secret id=NAME,src=FILE";

/** Where relative paths and id-named variables of `--secret` values are looked up. */
export interface SecretFlagContext {
  /** Directory relative `src=` paths are resolved against; default `process.cwd()`. */
  cwd?: string;
  /** Environment consulted for `--secret id=NAME` without env/src; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Parses one `--secret` value the way buildx and buildctl do: comma-separated
 * (CSV-quoted) `key=value` fields among `id`, `env`, `src`/`source` and `type=env|file`.
 * `type=env,src=VAR` names a variable; with neither `env` nor `src`, Docker's rule
 * applies: the variable named like the id if it is set, else the file named like the id.
 */
export function parseSecretFlag(value: string, context: SecretFlagContext = {}): SecretSource {
  const invalid = (why: string, hint = usage) =>
    new UserInputError("SECRET_FLAG_INVALID", `invalid --secret "${value}": ${why}`, { hint });

  if (value.trim() === "") throw invalid("the value is empty");
  let fields: string[];
  try {
    fields = splitCsv(value);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  let id: string | undefined;
  let env: string | undefined;
  let src: string | undefined;
  let type: "env" | "file" | undefined;
  for (const field of fields) {
    const eq = field.indexOf("=");
    if (eq < 0) throw invalid(`field "${field}" is not a key=value pair`);
    const key = field.slice(0, eq).trim().toLowerCase();
    const fieldValue = field.slice(eq + 1);
    if (fieldValue === "") throw invalid(`"${key}" has an empty value`);
    switch (key) {
      case "id":
        id = fieldValue;
        break;
      case "env":
        env = fieldValue;
        break;
      case "src":
      case "source":
        src = fieldValue;
        break;
      case "type":
        if (fieldValue !== "env" && fieldValue !== "file") throw invalid(`unsupported type "${fieldValue}"`, "type is env or file");
        type = fieldValue;
        break;
      default:
        throw invalid(`unknown key "${key}"`, `known keys are id, env, src (or source) and type; ${usage}`);
    }
  }

  if (id === undefined) {
    const example = env !== undefined ? `id=NAME,env=${env}` : src !== undefined ? `id=NAME,src=${src}` : "id=NAME,env=VARIABLE";
    throw invalid("no id given", `name the secret as the build refers to it: --secret ${example}`);
  }
  // buildx lets env= win silently; naming both is almost certainly a mistake, so say so.
  if (env !== undefined && src !== undefined && type !== "env") {
    throw invalid("both env and src given", `give one of them: --secret id=${id},env=${env} or --secret id=${id},src=${src}`);
  }
  if (type === "file" && env !== undefined) {
    throw invalid("type=file takes a file, not env", `use --secret id=${id},src=FILE`);
  }

  const cwd = context.cwd ?? process.cwd();
  const environment = context.env ?? process.env;
  if (type === "env") {
    if (env !== undefined && src !== undefined) throw invalid("type=env takes env or src, not both");
    return { kind: "env", id, env: env ?? src ?? id, origin: `--secret ${value}` };
  }
  if (env !== undefined) return { kind: "env", id, env, origin: `--secret ${value}` };
  if (src !== undefined || type === "file") return { kind: "file", id, path: path.resolve(cwd, src ?? id), origin: `--secret ${value}` };
  if (environment[id] !== undefined) return { kind: "env", id, env: id, origin: `--secret ${value}` };
  return { kind: "file", id, path: path.resolve(cwd, id), origin: `--secret ${value}` };
}

/** Parses every `--secret` value; an id given twice is an error rather than a silent override. */
export function parseSecretFlags(values: readonly string[], context: SecretFlagContext = {}): SecretSource[] {
  const byId = new Map<string, SecretSource>();
  for (const value of values) {
    const source = parseSecretFlag(value, context);
    const earlier = byId.get(source.id);
    if (earlier !== undefined) {
      throw new UserInputError("SECRET_FLAG_DUPLICATE", `secret "${source.id}" is given twice: ${earlier.origin} and --secret ${value}`, {
        hint: "keep one --secret per id",
      });
    }
    byId.set(source.id, source);
  }
  return [...byId.values()];
}

/**
 * Splits one CSV record like Go's encoding/csv: fields are comma separated; a field
 * starting with `"` runs to the closing quote, with `""` standing for one quote.
 */
function splitCsv(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error("unterminated quoted field");
        const ch = line[i]!;
        if (ch === '"') {
          if (line[i + 1] !== '"') break;
          i++;
        }
        field += ch;
        i++;
      }
      i++; // closing quote
      if (i < line.length && line[i] !== ",") throw new Error("unexpected text after a closing quote");
    } else {
      const comma = line.indexOf(",", i);
      const end = comma < 0 ? line.length : comma;
      field = line.slice(i, end);
      i = end;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}
