import type { Plan, PlannedTarget } from "./types.ts";

/** Every planned target, those that run variables' commands included. */
export function everyPlannedTarget(plan: Plan): PlannedTarget[] {
  return [...plan.targets.values(), ...[...plan.variables.values()].map((v) => v.target)];
}
