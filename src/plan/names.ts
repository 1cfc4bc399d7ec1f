import type { Target, Variable } from "../model/index.ts";

/** A value the plan names: a target, or a variable (planned as the target running its command). */
export type NamedValue = Target | Variable;

/**
 * One name per target and variable value of a plan, and one value per name. A value is
 * known by its identity, never by its name: an exported value is named by its export
 * (named exports before `default`), any other by the path through which the plan first
 * reached it, e.g. `beta>from` or `default[2]`. Two values made at one source line (a
 * factory called twice, a loop, a library) therefore never share a name.
 */
export class PlanNames {
  private readonly byValue = new Map<NamedValue, string>();
  private readonly byName = new Map<string, NamedValue>();

  /** `exported` lists the config's exports in order; `default` only names a value nothing else names. */
  constructor(exported: Iterable<readonly [string, NamedValue]>) {
    const all = [...exported];
    for (const [name, value] of all) if (name !== "default" && !this.byValue.has(value)) this.assign(value, name);
    for (const [name, value] of all) if (name === "default" && !this.byValue.has(value)) this.assign(value, name);
  }

  /** The name of `value`: its export name, else `path` (the way it was reached), made unique. */
  nameOf(value: NamedValue, path: string): string {
    const known = this.byValue.get(value);
    if (known !== undefined) return known;
    let name = path;
    for (let n = 2; this.byName.has(name); n++) name = `${path}#${n}`;
    this.assign(value, name);
    return name;
  }

  /** The value a name stands for in this plan. */
  valueOf(name: string): NamedValue | undefined {
    return this.byName.get(name);
  }

  private assign(value: NamedValue, name: string): void {
    // The invariant every later stage relies on: a name never stands for two values.
    const holder = this.byName.get(name);
    if (holder !== undefined && holder !== value) throw new Error(`internal: the plan name "${name}" would stand for two different values`);
    this.byValue.set(value, name);
    this.byName.set(name, value);
  }
}
