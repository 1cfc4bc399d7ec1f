import path from "node:path";
import type { Group, Target } from "../model/index.ts";
import { isTarget } from "../model/index.ts";
import { PlanError } from "./errors.ts";
import { resolveTarget } from "./resolve-target.ts";
import { nearestName } from "./suggest.ts";
import type { Plan, PlannedTarget } from "./types.ts";

export type * from "./types.ts";
export { PlanError } from "./errors.ts";

/** Everything planning needs, already read from disk. */
export interface PlanInput {
  configFile: string;
  projectDir: string;
  targets: ReadonlyMap<string, Target>;
  groups: ReadonlyMap<string, Group>;
  defaultName: string | undefined;
  /** Exclude patterns from the project's ignore file. */
  ignorePatterns: string[];
}

/** Names every target value: by export (named exports before `default`), else by definition site. */
function targetNamer(input: PlanInput): (t: Target) => string {
  const names = new Map<Target, string>();
  for (const [name, t] of input.targets) if (name !== "default") names.set(t, names.get(t) ?? name);
  const fallback = input.targets.get("default");
  if (fallback && !names.has(fallback)) names.set(fallback, "default");
  return (t) => {
    const known = names.get(t);
    if (known) return known;
    const at = t.definedAt ? `${path.relative(input.projectDir, t.definedAt.file) || t.definedAt.file}:${t.definedAt.line}` : `#${names.size}`;
    const name = `<target at ${at}>`;
    names.set(t, name);
    return name;
  };
}

function availableList(input: PlanInput): string {
  const all = [...input.targets.keys(), ...input.groups.keys()].filter((n) => n !== "default").sort();
  return all.length ? all.join(", ") : "(none: export targets from the config)";
}

/** Resolves the requested names (groups expanded) to target values. */
function requestedTargets(input: PlanInput, names: string[]): Target[] {
  const wanted = names.length ? names : input.defaultName ? [input.defaultName] : [];
  if (!wanted.length) {
    throw new PlanError("NO_DEFAULT_TARGET", `no target named and ${path.basename(input.configFile)} has no default export or \`all\` (available: ${availableList(input)})`, {
      hint: "name a target, e.g. `brewkit run <target>`, or export a default target/group",
    });
  }
  const result: Target[] = [];
  for (const name of wanted) {
    const group = input.groups.get(name);
    const single = input.targets.get(name);
    if (group) result.push(...group.targets);
    else if (single) result.push(single);
    else {
      const suggestion = nearestName(name, [...input.targets.keys(), ...input.groups.keys()].filter((n) => n !== "default"));
      throw new PlanError("UNKNOWN_TARGET", `unknown target "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}; available targets: ${availableList(input)}`, {
        hint: "run `brewkit targets` to list them",
      });
    }
  }
  return result;
}

/** Builds and validates the plan for `names` (or the default target). Pure: no I/O. */
export function createPlan(input: PlanInput, names: string[]): Plan {
  const nameOf = targetNamer(input);
  const ctx = { projectDir: input.projectDir, ignorePatterns: input.ignorePatterns, nameOf };
  const roots = requestedTargets(input, names);
  const planned = new Map<string, PlannedTarget>();
  const values = new Map<string, Target>();

  // Depth-first over `from` and `dependsOn`, keeping the path to report cycles.
  const visiting: string[] = [];
  const visit = (t: Target): void => {
    if (!isTarget(t)) throw new PlanError("NOT_A_TARGET", "a dependency is not a target made by target()", { hint: "pass target values to `from` and `dependsOn`" });
    const name = nameOf(t);
    const cycleStart = visiting.indexOf(name);
    if (cycleStart >= 0) {
      const cycle = [...visiting.slice(cycleStart), name].join(" → ");
      throw new PlanError("DEPENDENCY_CYCLE", `dependency cycle: ${cycle}`, { target: name, at: t.definedAt, hint: "remove one of the `from`/`dependsOn` links in the cycle" });
    }
    if (planned.has(name)) return;
    visiting.push(name);
    const resolved = resolveTarget(name, t, ctx);
    if (isTarget(t.spec.from)) visit(t.spec.from);
    for (const dep of t.spec.dependsOn ?? []) visit(dep);
    visiting.pop();
    planned.set(name, resolved);
    values.set(name, t);
  };
  for (const root of roots) visit(root);

  const requested = [...new Set(roots.map(nameOf))];
  return { configFile: input.configFile, projectDir: input.projectDir, targets: planned, requested, waves: buildWaves(planned, requested) };
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
