import { copy, image, local, marshal, mkdir, scratch, type Definition, type Platform, type State } from "../llb/index.ts";
import type { Plan, PlannedTarget } from "../plan/index.ts";
import { localNameOf } from "./local-name.ts";

/** A host directory a compiled target reads, served to the daemon under its local name. */
export interface CompiledLocalDir {
  root: string;
  includePatterns: string[];
  excludePatterns: string[];
}

/** One Solve of a target: a definition and where its result goes on the host. */
export interface CompiledJob {
  /** The target's name. */
  name: string;
  definition: Definition;
  /** Host dirs by local name. */
  localDirs: Map<string, CompiledLocalDir>;
  /** Host dirs receiving the whole result (empty: build only). */
  exports: string[];
}

/** Inputs of compiling that come from the daemon and the machine. */
export interface CompileOptions {
  /** The worker's platform, for ops that set none. */
  platform: Platform;
  /** Stable id of this machine and project, recorded on local sources like BuildKit's Go client does. */
  localUniqueId?: string;
}

function commandName(argv: string[]): string {
  return argv.length === 3 && argv[0] === "/bin/sh" && argv[1] === "-c" ? argv[2]! : argv.join(" ");
}

/** Lowers targets to LLB states, sharing the state of a target used by several others. */
class TargetCompiler {
  private readonly states = new Map<string, State>();
  readonly localDirs = new Map<string, CompiledLocalDir>();

  constructor(private readonly plan: Plan) {}

  stateOf(name: string): State {
    const known = this.states.get(name);
    if (known) return known;
    const t = this.plan.targets.get(name);
    if (!t) throw new Error(`internal: target "${name}" is not in the plan`);
    const state = this.build(t);
    this.states.set(name, state);
    return state;
  }

  private build(t: PlannedTarget): State {
    const base = t.base.kind === "scratch" ? scratch() : t.base.kind === "image" ? image(t.base.ref) : this.stateOf(t.base.name);
    let state = base.dir(t.workdir);
    for (const [key, value] of t.env) state = state.env(key, value);
    for (const c of t.copies) {
      const name = localNameOf(c);
      this.localDirs.set(name, { root: c.hostRoot, includePatterns: c.include, excludePatterns: c.exclude });
      const source = local(name, { includePatterns: c.include, excludePatterns: c.exclude, sharedKeyHint: c.hostRoot, customName: `[${t.name}] upload ${c.srcPath === "." ? "project" : c.srcPath}` });
      const src = c.srcPath === "." ? "/" : `/${c.srcPath}`;
      state = state.file(copy(source, src, c.dest, { copyDirContents: true, createDestPath: true, followSymlinks: true, allowWildcard: true, allowEmptyWildcard: true }), {
        customName: `[${t.name}] copy ${c.srcPath} → ${c.dest}`,
      });
    }
    if (t.copies.length === 0 && t.commands.length === 0 && t.workdir !== "/") {
      state = state.file(mkdir(t.workdir, 0o755, { parents: true }), { customName: `[${t.name}] workdir ${t.workdir}` });
    }
    for (const argv of t.commands) {
      state = state.run({
        args: argv,
        mounts: t.caches.map((c) => ({ type: "cache" as const, dest: c.path, id: c.id, sharing: c.sharing })),
        customName: `[${t.name}] ${commandName(argv)}`,
      });
    }
    return state;
  }
}

/**
 * Compiles one planned target into its Solves: one per output (each exports the
 * artifact onto scratch so only the artifact lands on the host), or a single
 * build-only Solve. Pure: same plan and options, same bytes.
 */
export function compileTarget(plan: Plan, name: string, options: CompileOptions): CompiledJob[] {
  const compiler = new TargetCompiler(plan);
  const state = compiler.stateOf(name);
  const target = plan.targets.get(name)!;
  const marshalOptions = { platform: options.platform, localUniqueId: options.localUniqueId };
  if (target.outputs.length === 0) {
    return [{ name, definition: marshal(state, marshalOptions), localDirs: compiler.localDirs, exports: [] }];
  }
  return target.outputs.map((output) => {
    const artifact = scratch().file(copy(state, output.artifact, "/", { copyDirContents: true, createDestPath: true }), {
      customName: `[${name}] collect ${output.artifact}`,
    });
    return { name, definition: marshal(artifact, marshalOptions), localDirs: compiler.localDirs, exports: [output.dest] };
  });
}
