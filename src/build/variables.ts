import type { Variable } from "../model/index.ts";
import { variablesIn } from "../model/index.ts";
import { valuesOf, type Plan, type PlannedTarget } from "../plan/index.ts";

/** Every variable a planned target needs to be compiled: its own values and those of the targets it builds on or copies from. */
export function variablesNeededBy(plan: Plan, t: PlannedTarget, seen = new Set<PlannedTarget>()): Set<Variable> {
  const out = new Set<Variable>();
  if (seen.has(t)) return out;
  seen.add(t);
  for (const value of valuesOf(t)) for (const v of variablesIn(value)) out.add(v);
  const related = [t.base.kind === "target" ? t.base.name : undefined, ...t.copies.map((c) => (c.kind === "target" ? c.from : undefined))];
  for (const name of related) {
    const other = name === undefined ? undefined : plan.targets.get(name);
    if (other) for (const v of variablesNeededBy(plan, other, seen)) out.add(v);
  }
  return out;
}

/** The plan's variables in evaluation rounds: each round needs only values of earlier rounds. */
export function variableRounds(plan: Plan): Variable[][] {
  const needs = new Map<Variable, Set<Variable>>();
  for (const [v, planned] of plan.variables) needs.set(v, variablesNeededBy(plan, planned.target));
  const rounds: Variable[][] = [];
  const done = new Set<Variable>();
  while (done.size < needs.size) {
    const round = [...needs].filter(([v, deps]) => !done.has(v) && [...deps].every((d) => done.has(d))).map(([v]) => v);
    // Planning rejects cycles between variables, so every round makes progress.
    if (round.length === 0) throw new Error("internal: variables depend on each other in a cycle");
    round.forEach((v) => done.add(v));
    rounds.push(round);
  }
  return rounds;
}
