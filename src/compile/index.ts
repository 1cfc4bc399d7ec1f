import { copy, marshal, scratch, type Definition } from "../llb/index.ts";
import type { Variable } from "../model/index.ts";
import { checkOutputDir, type Plan } from "../plan/index.ts";
import { TargetCompiler } from "./target-compiler.ts";
import type { CompiledJob, CompiledLocalDir, CompileOptions, Requirements } from "./types.ts";

export type * from "./types.ts";

/**
 * Compiles one planned target into its Solves: one per output (each exports the
 * artifact onto scratch so only the artifact lands on the host), or a single
 * build-only Solve. Pure: same plan and options, same bytes.
 */
export function compileTarget(plan: Plan, name: string, options: CompileOptions): CompiledJob[] {
  const compiler = new TargetCompiler(plan, options);
  const state = compiler.stateOf(name);
  const target = plan.targets.get(name)!;
  const marshalOptions = { platform: options.platform, localUniqueId: options.localUniqueId };
  const job = (definition: Definition, exports: string[]): CompiledJob => ({ name, definition, localDirs: compiler.localDirs, exports, requirements: compiler.requirements });
  if (target.outputs.length === 0) return [job(marshal(state, marshalOptions), [])];
  return target.outputs.map((output, i) => {
    const site = { target: name, at: target.definedAt };
    const dest = checkOutputDir(site, `output[${i}].local`, compiler.render(output.local), output.allowOutsideProject, plan.projectDir);
    const artifactPath = compiler.resolveIn(state, output.artifact);
    const artifact = scratch().file(copy(state, artifactPath, "/", { copyDirContents: true, createDestPath: true }), { customName: `[${name}] collect ${artifactPath}` });
    return job(marshal(artifact, marshalOptions), [dest]);
  });
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
