import { copy, marshal, scratch, type Definition, type MarshalOptions, type State } from "../llb/index.ts";
import type { Variable } from "../model/index.ts";
import { checkOutputDir, type Plan, type PlannedCache, type PlannedTarget } from "../plan/index.ts";
import { seedStep, writeBackStep } from "./cache-mirror.ts";
import { TargetCompiler, type CompiledClosure } from "./target-compiler.ts";
import type { CollectedOutput, CompiledExport, CompiledJob, CompiledLocalDir, CompiledTarget, CompileOptions, Requirements } from "./types.ts";

export type * from "./types.ts";
export { imageConfigKey } from "./target-compiler.ts";
export { busyboxTool, compileCacheExport, compileCacheImport, type CacheTransfer, type CacheTransferOptions, type CopyTool } from "./cache-transfer.ts";

/** The final LLB state of a target and the host dirs it reads, e.g. as the tool of a cache transfer. */
export function targetState(plan: Plan, name: string, options: CompileOptions): { state: State; localDirs: Map<string, CompiledLocalDir> } {
  const compiler = new TargetCompiler(plan, options);
  return { state: compiler.stateOf(name), localDirs: compiler.localDirs };
}

// Plans are immutable and compiling is pure, so the targets of one plan compiled with one
// options object (variables all evaluated by then) are compiled once and shared: a base
// used by a thousand targets is lowered, and its ops encoded, once.
const closuresByPlan = new WeakMap<Plan, WeakMap<CompileOptions, Map<string, CompiledClosure>>>();

function sharedClosures(plan: Plan, options: CompileOptions): Map<string, CompiledClosure> {
  let byOptions = closuresByPlan.get(plan);
  if (!byOptions) closuresByPlan.set(plan, (byOptions = new WeakMap()));
  let closures = byOptions.get(options);
  if (!closures) byOptions.set(options, (closures = new Map()));
  return closures;
}

// One marshal options object per compile options: the marshaller keys its cache by it.
const marshalOptionsByCompile = new WeakMap<CompileOptions, MarshalOptions>();

function marshalOptionsOf(options: CompileOptions): MarshalOptions {
  let known = marshalOptionsByCompile.get(options);
  if (!known) marshalOptionsByCompile.set(options, (known = { platform: options.platform, localUniqueId: options.localUniqueId }));
  return known;
}

/** Caches with a host folder used by `t` or its base chain, each with the target that declares it first from the root. */
function mirroredCaches(plan: Plan, t: PlannedTarget): Array<{ owner: PlannedTarget; cache: PlannedCache }> {
  const chain: PlannedTarget[] = [];
  for (let cur: PlannedTarget | undefined = t; cur; cur = cur.base.kind === "target" ? plan.targets.get(cur.base.name) : undefined) chain.unshift(cur);
  const seen = new Set<string>();
  return chain.flatMap((owner) => owner.caches.filter((c) => c.hostDir && !seen.has(c.id) && seen.add(c.id)).map((cache) => ({ owner, cache })));
}

/**
 * Compiles one planned target into its Solves, in phases: caches seeded from their
 * host folders; then the build, one Solve per output (each exports the artifact onto
 * scratch so only the artifact lands on the host) or a single build-only Solve; then
 * the caches written back to their host folders. Pure: same plan and options, same bytes.
 */
export function compileTarget(plan: Plan, name: string, options: CompileOptions): CompiledTarget {
  const compiler = new TargetCompiler(plan, options, sharedClosures(plan, options));
  const state = compiler.stateOf(name);
  const target = plan.targets.get(name)!;
  const marshalOptions = marshalOptionsOf(options);
  const job = (definition: Definition, exports: CompiledExport[], output?: CollectedOutput): CompiledJob => ({ name, definition, localDirs: compiler.localDirs, exports, requirements: compiler.requirements, ...(output ? { output } : {}) });
  const outputs = target.outputs.map((output, i) => {
    const site = { target: name, at: target.definedAt };
    const dest = checkOutputDir(site, `output[${i}].local`, compiler.render(output.local), output.allowOutsideProject, plan.projectDir);
    const within = output.allowOutsideProject ? undefined : plan.projectDir;
    return { index: i, onFailure: output.onFailure, path: compiler.resolveIn(state, output.artifact), export: { dest, incremental: false, within } };
  });
  const builds = outputs.length === 0
    ? [job(marshal(state, marshalOptions), [])]
    : outputs.map((output) => {
        const step = `[${name}] collect ${output.path}`;
        const artifact = scratch().file(copy(state, output.path, "/", { copyDirContents: true, createDestPath: true }), { customName: step, locations: compiler.locations(target) });
        return job(marshal(artifact, marshalOptions), [output.export], { index: output.index, path: output.path, step });
      });
  const onFailure = outputs.filter((o) => o.onFailure).map(({ index, path, export: e }) => ({ index, path, export: e }));
  const gatewayBuild = { ...job(outputs.length === 0 ? builds[0]!.definition : marshal(state, marshalOptions), []), failureExports: onFailure };
  const mirrored = mirroredCaches(plan, target);
  const seeds = mirrored.map(({ owner, cache }) => job(marshal(seedStep(compiler, owner, compiler.build(owner, true), cache, options.runId ?? "unset"), marshalOptions), []));
  const writeBacks = mirrored.map(({ cache }) => job(marshal(writeBackStep(target, state, cache, options.runId ?? "unset"), marshalOptions), [{ dest: cache.hostDir!, incremental: true, within: plan.projectDir }]));
  return { seed: seeds, gatewayBuild, build: builds, writeBack: writeBacks };
}

/**
 * The Solves of a compiled target in the order they must run; jobs within a phase run
 * together. The target is built through the gateway first when it has outputs to
 * export on failure, or when `interactive` (a shell opens in a command that fails).
 */
export function phasesOf(compiled: CompiledTarget, options: { interactive?: boolean } = {}): CompiledJob[][] {
  const gateway = options.interactive || compiled.gatewayBuild.failureExports!.length > 0 ? [compiled.gatewayBuild] : [];
  return [compiled.seed, gateway, compiled.build, compiled.writeBack].filter((phase) => phase.length > 0);
}

/** A variable's command, compiled so that its standard output ends up in a file of the result. */
export interface CompiledVariable {
  definition: Definition;
  localDirs: Map<string, CompiledLocalDir>;
  /** The file in the result holding the command's standard output. */
  valuePath: string;
  requirements: Requirements;
}

// The command's output is written into a scratch mount so the image needs nothing but a shell.
const valueMount = "/.brewkit-variable";

/** Compiles the command of a planned variable (needs `/bin/sh` in its base). */
export function compileVariable(plan: Plan, variable: Variable, options: CompileOptions): CompiledVariable {
  const planned = plan.variables.get(variable);
  if (!planned) throw new Error("internal: variable is not in the plan");
  const compiler = new TargetCompiler(plan, options);
  const t = planned.target;
  const before = compiler.build(t, true);
  const argv = t.commands[0]!.map((a) => compiler.render(a));
  const exec = compiler.run(t, before, ["/bin/sh", "-c", `exec "$@" > ${valueMount}/value`, "brewkit-variable", ...argv], [
    { type: "bind", dest: valueMount, source: scratch() },
  ]);
  return {
    definition: marshal(exec.mount(valueMount), { platform: options.platform, localUniqueId: options.localUniqueId }),
    localDirs: compiler.localDirs,
    valuePath: "/value",
    requirements: compiler.requirements,
  };
}

/** A target's result, and a command set up as one of its steps would run (env, workdir, user, mounts, secrets). */
export interface CompiledShell {
  /** The target's result. */
  result: Definition;
  /** The command as a step on the result; it is not solved, its exec op describes the shell's container. */
  step: Definition;
  localDirs: Map<string, CompiledLocalDir>;
  requirements: Requirements;
}

/** Compiles what `brewkit shell` needs: the target's result and `argv` as a step of the target on it. */
export function compileShell(plan: Plan, name: string, options: CompileOptions, argv: string[]): CompiledShell {
  const compiler = new TargetCompiler(plan, options);
  const state = compiler.stateOf(name);
  const step = compiler.run(plan.targets.get(name)!, state, argv);
  const marshalOptions = marshalOptionsOf(options);
  return { result: marshal(state, marshalOptions), step: marshal(step.root(), marshalOptions), localDirs: compiler.localDirs, requirements: compiler.requirements };
}
