import path from "node:path";
import { copy, formatPlatform, image, local, mkdir, scratch, type ExecState, type Mount, type OpLocation, type Platform, type SourceMap, type State } from "../llb/index.ts";
import { renderValue, type Value, type Variable } from "../model/index.ts";
import type { Plan, PlannedTarget } from "../plan/index.ts";
import { callLines } from "./call-range.ts";
import { localNameOf } from "./local-name.ts";
import type { CompiledLocalDir, CompileOptions, Requirements } from "./types.ts";

const posix = path.posix;

function commandName(argv: string[]): string {
  return argv.length === 3 && argv[0] === "/bin/sh" && argv[1] === "-c" ? argv[2]! : argv.join(" ");
}

/** How resolved image configs are keyed: the ref, and the platform when a target sets one. */
export function imageConfigKey(ref: string, platform: Platform | undefined): string {
  return platform ? `${ref}@${formatPlatform(platform)}` : ref;
}

const copyOptions = { copyDirContents: true, createDestPath: true, followSymlinks: true, allowWildcard: true, allowEmptyWildcard: true } as const;

/** A target compiled once: its final state and what its whole chain needs. */
export interface CompiledClosure {
  readonly state: State;
  readonly localDirs: ReadonlyMap<string, CompiledLocalDir>;
  readonly requirements: Requirements;
}

// One SourceMap per config file and compile options: ops of every target share it, and
// the marshaller lists each file once.
const sourceMapsByOptions = new WeakMap<CompileOptions, Map<string, SourceMap>>();

function sourceMapOf(options: CompileOptions, file: string): SourceMap | undefined {
  const source = options.configSources?.get(file);
  if (!source) return undefined;
  let maps = sourceMapsByOptions.get(options);
  if (!maps) sourceMapsByOptions.set(options, (maps = new Map()));
  let map = maps.get(file);
  if (!map) maps.set(file, (map = { filename: source.name, data: Buffer.from(source.text), language: /\.[cm]?tsx?$/.test(file) ? "TypeScript" : "JavaScript" }));
  return map;
}

/** Where the ops of `t` were written: the lines of its `target()` call, when the config's text is known. */
export function locationsOf(t: PlannedTarget, options: CompileOptions): OpLocation[] | undefined {
  const at = t.definedAt;
  const source = at && sourceMapOf(options, at.file);
  if (!at || !source) return undefined;
  const lines = callLines(options.configSources!.get(at.file)!.text, at.line, at.column);
  return [{ source, ranges: [{ start: { line: lines.start, character: 0 }, end: { line: lines.end, character: 0 } }] }];
}

// A target's locations per compile options (null: none), shared by every compiler: each
// op of the target carries the same value, and the marshaller keys its work by it.
const locationsByOptions = new WeakMap<CompileOptions, WeakMap<PlannedTarget, OpLocation[] | null>>();

/** Lowers planned targets to LLB states, sharing the state of a target used by several others. */
export class TargetCompiler {
  private readonly states = new Map<string, State>();
  readonly localDirs = new Map<string, CompiledLocalDir>();
  readonly requirements: Requirements = { secrets: [], ssh: [], entitlements: [] };

  /**
   * `closures`, when given, holds targets already compiled with the same plan and options
   * (by other compilers): they are reused, not rebuilt, so the states, and the ops the
   * marshaller has encoded for them, are shared.
   */
  constructor(
    private readonly plan: Plan,
    private readonly options: CompileOptions,
    private readonly closures?: Map<string, CompiledClosure>,
  ) {}

  /** The string of a value, with the evaluated variables substituted. */
  render(value: Value): string {
    return renderValue(value, (v: Variable) => {
      const known = this.options.variables?.get(v);
      if (known === undefined) throw new Error("internal: a variable was used before it was evaluated");
      return known;
    });
  }

  /** An absolute path: `p` resolved against the working dir of `state`. */
  resolveIn(state: State, p: string): string {
    return posix.resolve(state.getDir(), p);
  }

  /** The final state of a target (after its commands). */
  stateOf(name: string): State {
    const known = this.states.get(name);
    if (known) return known;
    const t = this.plan.targets.get(name);
    if (!t) throw new Error(`internal: target "${name}" is not in the plan`);
    if (!this.closures) {
      const state = this.build(t);
      this.states.set(name, state);
      return state;
    }
    let closure = this.closures.get(name);
    if (!closure && this.isEmpty()) {
      // Nothing built here yet: what this builds is exactly what the chain needs.
      const state = this.build(t);
      const { secrets, ssh, entitlements } = this.requirements;
      this.closures.set(name, { state, localDirs: new Map(this.localDirs), requirements: { secrets: [...secrets], ssh: [...ssh], entitlements: [...entitlements] } });
      this.states.set(name, state);
      return state;
    }
    if (!closure) {
      // Built on a compiler of its own, so the closure holds exactly what this chain needs.
      const own = new TargetCompiler(this.plan, this.options, this.closures);
      closure = { state: own.build(t), localDirs: own.localDirs, requirements: own.requirements };
      this.closures.set(name, closure);
    }
    this.absorb(closure);
    this.states.set(name, closure.state);
    return closure.state;
  }

  private isEmpty(): boolean {
    const { secrets, ssh, entitlements } = this.requirements;
    return this.states.size === 0 && this.localDirs.size === 0 && secrets.length + ssh.length + entitlements.length === 0;
  }

  // Takes over what a reused target needs, as if it had been built here.
  private absorb(closure: CompiledClosure): void {
    for (const [name, dir] of closure.localDirs) this.localDirs.set(name, dir);
    for (const s of closure.requirements.secrets) this.requireSecret(s);
    for (const s of closure.requirements.ssh) this.requireSsh(s);
    for (const e of closure.requirements.entitlements) this.requireEntitlement(e);
  }

  private requireSecret(secret: Requirements["secrets"][number]): void {
    if (!this.requirements.secrets.some((r) => r.id === secret.id && r.target === secret.target)) this.requirements.secrets.push(secret);
  }

  private requireSsh(ssh: Requirements["ssh"][number]): void {
    if (!this.requirements.ssh.some((r) => r.id === ssh.id && r.target === ssh.target)) this.requirements.ssh.push(ssh);
  }

  private requireEntitlement(entitlement: string): void {
    if (!this.requirements.entitlements.includes(entitlement)) this.requirements.entitlements.push(entitlement);
  }

  /** The state of a target right before its commands, and the argv of each command; for variables. */
  build(t: PlannedTarget, stopBeforeCommands = false): State {
    let state = this.baseOf(t);
    if (t.workdir !== undefined) state = state.dir(t.workdir);
    for (const [key, value] of t.env) state = state.env(key, this.render(value));
    if (t.user !== undefined) state = state.user(t.user);
    if (t.network !== "default") state = state.network(t.network);
    if (t.network === "host") this.requireEntitlement("network.host");
    for (const c of t.copies) state = this.applyCopy(t, state, c);
    if (t.copies.length === 0 && t.commands.length === 0 && t.workdir !== undefined && state.getDir() !== "/") {
      state = state.file(mkdir(state.getDir(), 0o755, { parents: true }), { customName: `[${t.name}] workdir ${state.getDir()}`, locations: this.locations(t) });
    }
    if (stopBeforeCommands) return state;
    for (const argv of t.commands) state = this.run(t, state, argv.map((a) => this.render(a)));
    return state;
  }

  /** Runs one command of `t` on `state` with the target's mounts. */
  run(t: PlannedTarget, state: State, argv: string[], extraMounts: Mount[] = []): ExecState {
    return state.run({
      args: argv,
      mounts: [...this.mountsOf(t, state), ...extraMounts],
      secretEnv: t.secrets.filter((s) => s.env).map((s) => ({ name: s.env!, id: s.id, optional: s.optional })),
      customName: `[${t.name}] ${commandName(argv)}`,
      locations: this.locations(t),
    });
  }

  /** Where the ops of `t` were written (one value for all of them). */
  locations(t: PlannedTarget): OpLocation[] | undefined {
    let byTarget = locationsByOptions.get(this.options);
    if (!byTarget) locationsByOptions.set(this.options, (byTarget = new WeakMap()));
    let known = byTarget.get(t);
    if (known === undefined) byTarget.set(t, (known = locationsOf(t, this.options) ?? null));
    return known ?? undefined;
  }

  private baseOf(t: PlannedTarget): State {
    if (t.base.kind === "target") {
      const base = this.stateOf(t.base.name);
      return t.platform ? base.platform(t.platform) : base;
    }
    if (t.base.kind === "scratch") return t.platform ? scratch().platform(t.platform) : scratch();
    let state = image(t.base.ref, t.platform ? { platform: t.platform, locations: this.locations(t) } : { locations: this.locations(t) });
    const config = this.options.imageConfigs?.get(imageConfigKey(t.base.ref, t.platform));
    if (config) {
      for (const [key, value] of config.env) state = state.env(key, value);
      state = state.dir(config.workdir || "/");
      if (config.user) state = state.user(config.user);
    }
    return state;
  }

  private applyCopy(t: PlannedTarget, state: State, c: PlannedTarget["copies"][number]): State {
    const dir = state.getDir();
    if (c.kind === "target") {
      const from = this.stateOf(c.from);
      const src = posix.resolve(from.getDir(), c.src);
      const dest = posix.resolve(dir, c.dest === undefined ? posix.basename(src) : this.render(c.dest));
      return state.file(copy(from, src, dest, { ...copyOptions, include: c.include.length ? c.include : undefined, exclude: c.exclude.length ? c.exclude : undefined }), {
        customName: `[${t.name}] copy ${c.from}:${src} → ${dest}`,
        locations: this.locations(t),
      });
    }
    const name = localNameOf(c);
    this.localDirs.set(name, { root: c.hostRoot, includePatterns: c.include, excludePatterns: c.exclude });
    const label = c.srcPath === "." ? "project" : c.srcPath;
    const source = local(name, { includePatterns: c.include, excludePatterns: c.exclude, sharedKeyHint: c.hostRoot, customName: `[${t.name}] upload ${label}`, locations: this.locations(t) });
    const dest = posix.resolve(dir, c.dest === undefined ? c.srcPath : this.render(c.dest));
    const src = c.srcPath === "." ? "/" : `/${c.srcPath}`;
    return state.file(copy(source, src, dest, copyOptions), { customName: `[${t.name}] copy ${label} → ${dest}`, locations: this.locations(t) });
  }

  private mountsOf(t: PlannedTarget, state: State): Mount[] {
    const dir = state.getDir();
    const mounts: Mount[] = t.caches.map((c) => ({ type: "cache", dest: posix.resolve(dir, c.path), id: c.id, sharing: c.sharing }));
    for (const s of t.secrets) {
      this.requireSecret({ id: s.id, optional: s.optional, target: t.name });
      if (s.path) mounts.push({ type: "secret", dest: posix.resolve(dir, s.path), id: s.id, optional: s.optional, mode: s.mode, uid: s.uid, gid: s.gid });
    }
    if (t.ssh) {
      this.requireSsh({ id: t.ssh.id, target: t.name });
      mounts.push({ type: "ssh", id: t.ssh.id === "default" ? undefined : t.ssh.id, dest: t.ssh.path });
    }
    return mounts;
  }
}
