import { hasBrand, interpolationBrand, variableBrand } from "./brands.ts";
import { callerLocation, type SourceLocation } from "./source-location.ts";
import type { Base, CopyEntry } from "./target.ts";

/** How a variable computes its value: a command whose standard output (trimmed) is the value. */
export interface VariableSpec {
  /** One line shown by `brewkit targets`. */
  description?: string;
  /** The base filesystem the command runs on. */
  from: Base;
  /** Working directory of the command. */
  workdir?: string;
  /** Environment of the command. */
  env?: Record<string, Value>;
  /** Host files copied in first (e.g. `.git` or `VERSION`). */
  copy?: CopyEntry | CopyEntry[];
  /** The command; its standard output, without the trailing newline, is the value. */
  command: string | string[];
}

/** A value computed at build time by running a command in a container, e.g. the git commit. */
export interface Variable {
  readonly [variableBrand]: true;
  readonly spec: Readonly<VariableSpec>;
  /** Where `variable()` was called. */
  readonly definedAt: SourceLocation | undefined;
}

/** A string with variables in it, made by the `fmt` template tag. */
export interface Interpolation {
  readonly [interpolationBrand]: true;
  /** Literal parts and variables, in order. */
  readonly parts: ReadonlyArray<string | Variable>;
}

/** A string, or a value computed at build time. Usable in env values, commands, copy destinations and output dirs. */
export type Value = string | Variable | Interpolation;

/** Declares a value computed at build time, evaluated only when a target being built needs it. */
export function variable(spec: VariableSpec): Variable {
  const site = callerLocation(variable);
  return Object.freeze({ [variableBrand]: true as const, spec: Object.freeze({ ...spec }), get definedAt() { return site(); } });
}

/** Builds a string from literals and variables: fmt`app-${version}.tar.gz`. */
export function fmt(strings: TemplateStringsArray, ...values: Array<string | Variable>): Interpolation {
  const parts: Array<string | Variable> = [];
  strings.forEach((literal, i) => {
    if (literal) parts.push(literal);
    if (i < values.length) parts.push(values[i]!);
  });
  return Object.freeze({ [interpolationBrand]: true as const, parts: Object.freeze(parts) });
}

/** True for values made by `variable()`. */
export function isVariable(value: unknown): value is Variable {
  return hasBrand(value, variableBrand);
}

/** True for values made by `fmt`. */
export function isInterpolation(value: unknown): value is Interpolation {
  return hasBrand(value, interpolationBrand);
}

/** The variables a value refers to. */
export function variablesIn(value: Value): Variable[] {
  if (isVariable(value)) return [value];
  if (isInterpolation(value)) return value.parts.filter(isVariable);
  return [];
}

/** The string of a value, with each variable replaced by `lookup(variable)`. */
export function renderValue(value: Value, lookup: (v: Variable) => string): string {
  if (typeof value === "string") return value;
  if (isVariable(value)) return lookup(value);
  return value.parts.map((p) => (typeof p === "string" ? p : lookup(p))).join("");
}
