import path from "node:path";
import type { Group, Target, Value, Variable } from "../model/index.ts";
import { isTarget, isVariable, variablesIn } from "../model/index.ts";
import { PlanError } from "./errors.ts";
import { resolveTarget, type ResolveContext } from "./resolve-target.ts";
import { PlanNames } from "./names.ts";
import { nearestName } from "./suggest.ts";
import type { Plan, PlannedTarget, PlannedVariable } from "./types.ts";

export type * from "./types.ts";
export { PlanError } from "./errors.ts";
export { checkImageName, checkOutputDir, checkTarballFile, isInside } from "./resolve-target.ts";
export { resolveHostPaths, type HostFs } from "./host-check.ts";
export { everyPlannedTarget } from "./every-target.ts";

/** Everything planning needs, already read from disk. */
export interface PlanInput {
  configFile: string;
  projectDir: string;
  targets: ReadonlyMap<string, Target>;
  groups: ReadonlyMap<string, Group>;
  defaultName: string | undefined;
  /** Exclude patterns from the project's ignore file. */
  ignorePatterns: string[];
  /** Exported variables by export name (they name the variables' planned targets). */
  variables?: ReadonlyMap<string, Variable>;
}

function availableList(input: PlanInput): string {
  const all = [...input.targets.keys(), ...input.groups.keys()].filter((n) => n !== "default").sort();
  return all.length ? all.join(", ") : "(none: export targets from the config)";
}

/** Resolves the requested names (groups expanded) to target values, each with the path that names it when it is not exported. */
function requestedTargets(input: PlanInput, names: string[]): Array<{ target: Target; path: string }> {
  const wanted = names.length ? names : input.defaultName ? [input.defaultName] : [];
  if (!wanted.length) {
    throw new PlanError("NO_DEFAULT_TARGET", `no target named and ${path.basename(input.configFile)} has no default export or \`all\` (available: ${availableList(input)})`, {
      hint: "name a target, e.g. `brewkit run <target>`, or export a default target/group",
    });
  }
  const result: Array<{ target: Target; path: string }> = [];
  for (const name of wanted) {
    const group = input.groups.get(name);
    const single = input.targets.get(name);
    if (group) {
      group.targets.forEach((member, i) => {
        if (!isTarget(member)) {
          throw new PlanError("GROUP_MEMBER", "must be a target", { target: name, field: `targets[${i}]`, at: group.definedAt, hint: "list target values, e.g. group(build, test)" });
        }
      });
      group.targets.forEach((member, i) => result.push({ target: member, path: `${name}[${i}]` }));
    }
    else if (single) result.push({ target: single, path: name });
    else {
      const suggestion = nearestName(name, [...input.targets.keys(), ...input.groups.keys()].filter((n) => n !== "default"));
      throw new PlanError("UNKNOWN_TARGET", `unknown target "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}; available targets: ${availableList(input)}`, {
        hint: "run `brewkit targets` to list them",
      });
    }
  }
  return result;
}

/** Every Value a planned target holds, with the field holding it, to find the variables it needs. */
export function fieldValuesOf(t: PlannedTarget): Array<[field: string, value: Value]> {
  return collectFieldValues(t, () => true);
}

/**
 * The values of a planned target that `wanted` accepts, each with the field holding it, in
 * one order; a field's name is only made for a value taken (planning asks for the values
 * that are not plain strings, which nearly every value is).
 */
function collectFieldValues(t: PlannedTarget, wanted: (value: Value) => boolean): Array<[field: string, value: Value]> {
  const out: Array<[string, Value]> = [];
  for (const [k, v] of t.env) if (wanted(v)) out.push([`env.${k}`, v]);
  for (let i = 0; i < t.commands.length; i++) {
    for (const v of t.commands[i]!) if (wanted(v)) out.push([t.commands.length === 1 ? "command" : `commands[${i}]`, v]);
  }
  for (let i = 0; i < t.copies.length; i++) {
    const dest = t.copies[i]!.dest;
    if (dest !== undefined && wanted(dest)) out.push([`copy[${i}].dest`, dest]);
  }
  for (const o of t.outputs) if (wanted(o.local)) out.push([`output[${o.index}].local`, o.local]);
  for (const o of t.images) {
    for (let j = 0; j < o.names.length; j++) if (wanted(o.names[j]!)) out.push([`output[${o.index}].image${o.names.length > 1 ? `[${j}]` : ""}`, o.names[j]!]);
  }
  for (const o of t.tarballs) {
    if (wanted(o.file)) out.push([`output[${o.index}].tarball`, o.file]);
    for (const n of o.names) if (wanted(n)) out.push([`output[${o.index}].image`, n]);
  }
  for (const [k, v] of t.imageConfig.labels) if (wanted(v)) out.push([`labels.${k}`, v]);
  return out;
}

const notPlainString = (value: Value): boolean => typeof value !== "string";

/** Every Value a planned target holds, to find the variables it needs. */
export function valuesOf(t: PlannedTarget): Value[] {
  return fieldValuesOf(t).map(([, value]) => value);
}

/** Builds and validates the plan for `names` (or the default target). Pure: no I/O. */
export function createPlan(input: PlanInput, names: string[]): Plan {
  const planNames = new PlanNames([...input.targets, ...(input.variables ?? [])]);
  const ctx: ResolveContext = { projectDir: input.projectDir, ignorePatterns: input.ignorePatterns, nameOf: (t, via) => planNames.nameOf(t, via) };
  const roots = requestedTargets(input, names).map(({ target, path: via }) => {
    if (!isTarget(target)) throw new PlanError("NOT_A_TARGET", "a requested value is not a target made by target()", { hint: "export targets made by target() or groups made by group()" });
    return { target, name: planNames.nameOf(target, via) };
  });
  const targets = new Map<string, PlannedTarget>();
  const variables = new Map<Variable, PlannedVariable>();
  const variableNames = new Set<string>();

  // Depth-first over every edge (base, dependsOn, copy sources, variables), keeping the path to report cycles.
  const visiting: string[] = [];
  const enter = (name: string, source: Target | Variable): boolean => {
    const cycleStart = visiting.indexOf(name);
    if (cycleStart >= 0) {
      const cycle = [...visiting.slice(cycleStart), name].join(" → ");
      throw new PlanError("DEPENDENCY_CYCLE", `dependency cycle: ${cycle}`, { target: name, at: source.definedAt, hint: "remove one of the links (from, dependsOn, copy.from or a variable) in the cycle" });
    }
    if (targets.has(name) || variableNames.has(name)) return false;
    visiting.push(name);
    return true;
  };
  const follow = (planned: PlannedTarget): void => {
    const source = planned.source;
    const spec = isVariable(source) ? source.spec : source.spec;
    const reached = (t: Target, field: string) => visitTarget(t, `${planned.name}>${field}`);
    if (isTarget(spec.from)) reached(spec.from, "from");
    // A single dependency may be written without a list.
    if (!isVariable(source) && source.spec.dependsOn !== undefined) [source.spec.dependsOn].flat().forEach((dep, i) => reached(dep, `dependsOn[${i}]`));
    if (spec.copy !== undefined) {
      const copies = Array.isArray(spec.copy) ? spec.copy : [spec.copy];
      copies.forEach((c, i) => {
        if (typeof c === "object" && c !== null && isTarget(c.from)) reached(c.from, `copy[${i}].from`);
      });
    }
    // Only values that are not plain strings can hold variables.
    for (const [field, value] of collectFieldValues(planned, notPlainString)) {
      for (const v of variablesIn(value)) visitVariable(v, `${planned.name}>${field}`);
    }
  };
  const visitTarget = (t: Target, via: string): void => {
    if (!isTarget(t)) throw new PlanError("NOT_A_TARGET", "a dependency is not a target made by target()", { hint: "pass target values to `from`, `dependsOn` and `copy.from`" });
    const name = planNames.nameOf(t, via);
    if (!enter(name, t)) return;
    const planned = resolveTarget(name, t.spec, t, ctx);
    follow(planned);
    visiting.pop();
    targets.set(name, planned);
  };
  const visitVariable = (v: Variable, via: string): void => {
    const name = planNames.nameOf(v, via);
    if (variables.has(v)) return;
    if (!enter(name, v)) return;
    const spec = v.spec;
    if (spec.command === undefined) {
      throw new PlanError("VARIABLE_COMMAND", "a variable needs a `command` whose output is its value", { target: name, field: "command", at: v.definedAt, hint: 'e.g. variable({ from: base, command: "cat VERSION" })' });
    }
    const planned = resolveTarget(name, { from: spec.from, workdir: spec.workdir, env: spec.env, copy: spec.copy, command: spec.command, description: spec.description }, v, ctx);
    follow(planned);
    visiting.pop();
    variableNames.add(name);
    variables.set(v, { variable: v, target: planned });
  };
  for (const root of roots) visitTarget(root.target, root.name);

  checkCacheIds([...targets.values(), ...[...variables.values()].map((v) => v.target)]);
  const requested = [...new Set(roots.map((r) => r.name))];
  return { configFile: input.configFile, projectDir: input.projectDir, targets, variables, requested, waves: buildWaves(targets, requested) };
}

/** One cache id must mean one mount path everywhere, or steps would see each other's files in the wrong place. */
function checkCacheIds(all: PlannedTarget[]): void {
  const seen = new Map<string, { path: string; target: PlannedTarget }>();
  for (const t of all) {
    for (const [i, c] of t.caches.entries()) {
      const mountPath = path.posix.resolve(t.workdir ?? "/", c.path);
      const earlier = seen.get(c.id);
      if (earlier && earlier.path !== mountPath) {
        throw new PlanError("CACHE_ID_PATHS", `cache "${c.id}" is mounted at ${mountPath} here but at ${earlier.path} in target "${earlier.target.name}"`, {
          target: t.name, field: `cache[${i}]`, at: t.definedAt, hint: "use one path per cache id, or give the caches different ids",
        });
      }
      if (!earlier) seen.set(c.id, { path: mountPath, target: t });
    }
  }
}

/** Orders the targets that need their own build: the requested ones and everything they depend on. */
function buildWaves(planned: ReadonlyMap<string, PlannedTarget>, requested: string[]): string[][] {
  // A target's prerequisites: its dependsOn, and those of every target in its base chain.
  const prerequisites = (name: string): string[] => {
    const out: string[] = [];
    for (let t = planned.get(name); t; t = t.base.kind === "target" ? planned.get(t.base.name) : undefined) out.push(...t.dependsOn);
    return out;
  };
  const level = new Map<string, number>();
  const levelOf = (name: string): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    const value = Math.max(-1, ...prerequisites(name).map(levelOf)) + 1;
    level.set(name, value);
    return value;
  };
  requested.forEach(levelOf);
  const waves: string[][] = [];
  for (const [name, l] of level) (waves[l] ??= []).push(name);
  return waves.filter(Boolean);
}
