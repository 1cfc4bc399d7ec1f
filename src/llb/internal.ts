// The parts of a State that builder modules read but users never see. Kept under a
// symbol of this module, so State's public surface stays small and this module imports
// nothing at run time (State, exec and file ops depend on each other only through types).
// A property rather than a WeakMap: a build makes a State per step of every target, and
// a large WeakMap makes every garbage collection walk its entries.
import type { StateMeta } from "./meta.ts";
import type { State } from "./state.ts";
import type { Output } from "./vertex.ts";

interface StateData {
  readonly output: Output | undefined;
  readonly meta: StateMeta;
}

const stateData = Symbol("brewkit.llb.state");

type WithData = { [stateData]?: StateData };

/** Records what `state` is made of; called once by State's constructor. */
export function registerState(state: State, output: Output | undefined, meta: StateMeta): void {
  Object.defineProperty(state, stateData, { value: { output, meta } });
}

function get(state: State): StateData {
  const d = (state as unknown as WithData)[stateData];
  if (!d) throw new TypeError("not a State created by brewkit's llb builder");
  return d;
}

/** The output a State stands for; undefined for scratch. */
export function outputOf(state: State): Output | undefined {
  return get(state).output;
}

/** The dir/env/user/platform/... a State carries. */
export function metaOf(state: State): StateMeta {
  return get(state).meta;
}
