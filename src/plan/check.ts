import type { ErrorCode } from "../errors.ts";
import type { SourceLocation } from "../model/index.ts";
import { isInterpolation, isVariable, type Value } from "../model/index.ts";
import { PlanError } from "./errors.ts";

/** Where a field is, for shape errors. */
export interface FieldSite {
  target: string;
  at: SourceLocation | undefined;
}

/** Throws a PlanError for `field` of the target at `site`. */
export function fieldError(site: FieldSite, field: string, code: ErrorCode, message: string, hint: string): never {
  throw new PlanError(code, message, { target: site.target, field, at: site.at, hint });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

/** `value` as an optional string, or a shape error. */
export function optionalString(site: FieldSite, field: string, value: unknown, example: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") fieldError(site, field, "FIELD_TYPE", `must be a string, got ${describe(value)}`, `e.g. ${field}: ${example}`);
  return value;
}

/** `value` as an optional list, or a shape error (a single item is a list of one). */
export function optionalList<T>(site: FieldSite, field: string, value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** `value` as a list of strings, or a shape error. */
export function stringList(site: FieldSite, field: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    fieldError(site, field, "FIELD_TYPE", `must be a list of strings, got ${describe(value)}`, `e.g. ${field}: ["*.md"]`);
  }
  return value;
}

/** True for a string, a variable or an fmt`...` interpolation. */
export function isValue(value: unknown): value is Value {
  return typeof value === "string" || isVariable(value) || isInterpolation(value);
}

/** `value` as a Value, or a shape error. */
export function valueOf(site: FieldSite, field: string, value: unknown, example: string): Value {
  if (!isValue(value)) {
    fieldError(site, field, "FIELD_TYPE", `must be a string, a variable or fmt\`...\`, got ${describe(value)}`, `e.g. ${field}: ${example}`);
  }
  return value;
}

/** True for a value that is known to render as nothing but white space (a variable's value is not known yet). */
export function isBlank(value: Value): boolean {
  if (typeof value === "string") return value.trim() === "";
  if (isInterpolation(value)) return value.parts.every((p) => typeof p === "string" && p.trim() === "");
  return false;
}

/** `name` as an environment variable name, or a field error: empty, or holding "=" (which ends a name). */
export function checkEnvName(site: FieldSite, name: string): string {
  if (name === "") fieldError(site, "env", "ENV_NAME", "has a variable with an empty name", 'name every variable, e.g. env: { MODE: "release" }');
  if (name.includes("=")) {
    fieldError(site, `env.${name}`, "ENV_NAME", `the variable name ${JSON.stringify(name)} contains "=", which would end the name there`, `write the name without "=" and put the rest in the value, e.g. env: { ${name.slice(0, name.indexOf("=")) || "NAME"}: "value" }`);
  }
  return name;
}

/** Refuses a host path starting with `~`: a shell expands it to the home directory, brewkit would create a folder named `~`. */
export function checkNoTilde(site: FieldSite, field: string, hostPath: string, example: string, absoluteNeeds = ""): void {
  if (hostPath !== "~" && !hostPath.startsWith("~/")) return;
  fieldError(
    site,
    field,
    "PATH_TILDE",
    `${hostPath} starts with "~", which brewkit does not expand to your home directory (only a shell does): it would create a folder named "~" in the project`,
    `use a path relative to the project, e.g. ${example}, or an absolute one${absoluteNeeds} (os.homedir() gives your home directory in the config)`,
  );
}
