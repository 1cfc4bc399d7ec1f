import { copy, formatPlatform, marshal, scratch, type Definition, type MarshalOptions, type Platform, type State } from "../llb/index.ts";
import type { Variable } from "../model/index.ts";
import { checkImageName, checkOutputDir, checkTarballFile, PlanError, type Plan, type PlannedCache, type PlannedTarget } from "../plan/index.ts";
import { imageConfigOf } from "./image-config.ts";
import { seedStep, writeBackStep } from "./cache-mirror.ts";
import { TargetCompiler, type CompiledClosure } from "./target-compiler.ts";
import type { CollectedOutput, CompiledExport, CompiledImageExport, CompiledJob, CompiledLocalDir, CompiledTarget, CompileOptions, Requirements } from "./types.ts";

export type * from "./types.ts";
export { imageConfigKey } from "./target-compiler.ts";
export { imageConfigOf, platformId, type ImageConfigJson } from "./image-config.ts";
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
  if (!known) marshalOptionsByCompile.set(options, (known = { platform: options.platform, localUniqueId: options.localUniqueId, ignoreCache: options.ignoreCache }));
  return known;
}

/** Caches with a host folder used by `t` or its base chain, each with the target that declares it first from the root. */
function mirroredCaches(plan: Plan, t: PlannedTarget): Array<{ owner: PlannedTarget; cache: PlannedCache }> {
  if (!hasMirroredCache(plan, t)) return [];
  const chain: PlannedTarget[] = [];
  for (let cur: PlannedTarget | undefined = t; cur; cur = cur.base.kind === "target" ? plan.targets.get(cur.base.name) : undefined) chain.unshift(cur);
  const seen = new Set<string>();
  return chain.flatMap((owner) => owner.caches.filter((c) => c.hostDir && !seen.has(c.id) && seen.add(c.id)).map((cache) => ({ owner, cache })));
}

// Most chains mirror no cache: that is found without building lists.
function hasMirroredCache(plan: Plan, t: PlannedTarget): boolean {
  for (let cur: PlannedTarget | undefined = t; cur; cur = cur.base.kind === "target" ? plan.targets.get(cur.base.name) : undefined) {
    for (const c of cur.caches) if (c.hostDir) return true;
  }
  return false;
}

/**
 * Compiles one planned target into its Solves, in phases: caches seeded from their
 * host folders; then the build, one Solve per output (each exports the artifact onto
 * scratch so only the artifact lands on the host) or a single build-only Solve; then
 * the caches written back to their host folders. Pure: same plan and options, same bytes.
 */
export function compileTarget(plan: Plan, name: string, options: CompileOptions): CompiledTarget {
  if (plan.targets.get(name)?.platforms.length) return compileMultiPlatform(plan, name, options);
  const compiler = new TargetCompiler(plan, options, sharedClosures(plan, options));
  const state = compiler.stateOf(name);
  const target = plan.targets.get(name)!;
  const marshalOptions = marshalOptionsOf(options);
  const job = (definition: Definition, exports: CompiledExport[], output?: CollectedOutput, image?: CompiledImageExport): CompiledJob => ({
    name, definition, localDirs: compiler.localDirs, exports, requirements: compiler.requirements, ...(output ? { output } : {}), ...(image ? { image } : {}),
  });
  const site = { target: name, at: target.definedAt };
  const collected = target.outputs.map((output) => {
    const dest = checkOutputDir(site, `output[${output.index}].local`, compiler.render(output.local), output.allowOutsideProject, plan.projectDir);
    const within = output.allowOutsideProject ? undefined : plan.projectDir;
    return { index: output.index, onFailure: output.onFailure, path: compiler.resolveIn(state, output.artifact), export: { dest, incremental: false, within } };
  });
  const artifacts = collected.map((output) => {
    const step = `[${name}] collect ${output.path}`;
    const artifact = scratch().file(copy(state, output.path, "/", { copyDirContents: true, createDestPath: true }), { customName: step, locations: compiler.locations(target) });
    return job(marshal(artifact, marshalOptions), [output.export], { index: output.index, path: output.path, step });
  });
  const hasImages = target.images.length + target.tarballs.length > 0;
  // One config (and one definition) for every image of the target: the exporter sees the same layers.
  const config = hasImages ? JSON.stringify(imageConfigOf(plan, name, state, state.getPlatform() ?? options.platform, options.imageConfigs, (v) => compiler.render(v))) : "";
  const definition = hasImages ? marshal(state, marshalOptions) : undefined;
  const namesOf = (index: number, names: PlannedTarget["images"][number]["names"]) =>
    names.map((n, j) => {
      const rendered = compiler.render(n);
      checkImageName(site, `output[${index}].image${names.length > 1 ? `[${j}]` : ""}`, rendered);
      return rendered;
    });
  const images = target.images.map((output) => {
    const names = namesOf(output.index, output.names);
    const attrs: Record<string, string> = { name: names.join(","), "containerimage.config": config };
    if (output.push) attrs.push = "true";
    return job(definition!, [], undefined, { type: "image", index: output.index, names, push: output.push, attrs });
  });
  const tarballs = target.tarballs.map((output) => {
    const names = namesOf(output.index, output.names);
    const file = checkTarballFile(site, `output[${output.index}].tarball`, compiler.render(output.file), output.allowOutsideProject, plan.projectDir);
    const attrs: Record<string, string> = { "containerimage.config": config };
    if (names.length) attrs.name = names.join(",");
    return job(definition!, [], undefined, { type: output.format, index: output.index, names, push: false, attrs, file: { path: file, within: output.allowOutsideProject ? undefined : plan.projectDir } });
  });
  const outputs = [...artifacts, ...images, ...tarballs];
  const builds = outputs.length === 0 ? [job(marshal(state, marshalOptions), [])] : outputs;
  const onFailure = collected.filter((o) => o.onFailure).map(({ index, path, export: e }) => ({ index, path, export: e }));
  const gatewayBuild = { ...job(outputs.length === 0 ? builds[0]!.definition : (definition ?? marshal(state, marshalOptions)), []), failureExports: onFailure };
  const mirrored = mirroredCaches(plan, target);
  const seeds = mirrored.map(({ owner, cache }) => job(marshal(seedStep(compiler, owner, compiler.build(owner, true), cache, options.runId ?? "unset"), marshalOptions), []));
  const writeBacks = mirrored.map(({ cache }) => job(marshal(writeBackStep(target, state, cache, options.runId ?? "unset"), marshalOptions), [{ dest: cache.hostDir!, incremental: true, within: plan.projectDir }]));
  return { seed: seeds, gatewayBuild, build: builds, writeBack: writeBacks };
}

// One options object per platform of the compile options, so compiled closures are shared per platform.
const optionsByPlatform = new WeakMap<CompileOptions, Map<string, CompileOptions>>();

/** The compile options of a build for `platform`: that default platform, and the image bases resolved for it. */
export function platformOptions(options: CompileOptions, platform: Platform): CompileOptions {
  const id = formatPlatform(platform);
  let known = optionsByPlatform.get(options);
  if (!known) optionsByPlatform.set(options, (known = new Map()));
  let variant = known.get(id);
  if (!variant) known.set(id, (variant = { ...options, platform, imageConfigs: options.imageConfigsByPlatform?.get(id) ?? options.imageConfigs }));
  return variant;
}

/**
 * A target built for several platforms: the target and the targets under it that set no
 * platform are compiled once per platform. Its images (and OCI archives) are one Solve
 * each, holding every platform's build; without images, a build-only Solve per platform.
 */
function compileMultiPlatform(plan: Plan, name: string, options: CompileOptions): CompiledTarget {
  const target = plan.targets.get(name)!;
  const site = { target: name, at: target.definedAt };
  const mirrored = mirroredCaches(plan, target)[0];
  if (mirrored) {
    // One host folder cannot be seeded into, and written back from, a build per platform.
    throw new PlanError("PLATFORMS_CACHE_HOSTDIR", `cache "${mirrored.cache.id}" of target "${mirrored.owner.name}" has a hostDir, which a target built for several platforms cannot mirror`, {
      target: name, field: "platform", at: target.definedAt, hint: "drop hostDir from the cache, or build the target for one platform",
    });
  }
  const localDirs = new Map<string, CompiledLocalDir>();
  const requirements: Requirements = { secrets: [], ssh: [], entitlements: [] };
  const builds = target.platforms.map((platform) => {
    const opts = platformOptions(options, platform);
    const compiler = new TargetCompiler(plan, opts, sharedClosures(plan, opts));
    const state = compiler.stateOf(name);
    for (const [dir, spec] of compiler.localDirs) localDirs.set(dir, spec);
    for (const e of compiler.requirements.entitlements) if (!requirements.entitlements.includes(e)) requirements.entitlements.push(e);
    requirements.secrets.push(...compiler.requirements.secrets);
    requirements.ssh.push(...compiler.requirements.ssh);
    const config = JSON.stringify(imageConfigOf(plan, name, state, state.getPlatform() ?? platform, opts.imageConfigs, (v) => compiler.render(v)));
    return { platform, definition: marshal(state, marshalOptionsOf(opts)), config, compiler };
  });
  const render = builds[0]!.compiler;
  const platforms = builds.map(({ platform, definition, config }) => ({ platform, definition, config }));
  const job = (definition: Definition, image?: CompiledImageExport, multi?: CompiledJob["platforms"]): CompiledJob => ({
    name, definition, localDirs, exports: [], requirements, ...(image ? { image } : {}), ...(multi ? { platforms: multi } : {}),
  });
  const namesOf = (index: number, names: PlannedTarget["images"][number]["names"]) =>
    names.map((n, j) => {
      const rendered = render.render(n);
      checkImageName(site, `output[${index}].image${names.length > 1 ? `[${j}]` : ""}`, rendered);
      return rendered;
    });
  const images = target.images.map((output) => {
    const names = namesOf(output.index, output.names);
    const attrs: Record<string, string> = { name: names.join(",") };
    if (output.push) attrs.push = "true";
    return job(platforms[0]!.definition, { type: "image", index: output.index, names, push: output.push, attrs }, platforms);
  });
  const tarballs = target.tarballs.map((output) => {
    const names = namesOf(output.index, output.names);
    const file = checkTarballFile(site, `output[${output.index}].tarball`, render.render(output.file), output.allowOutsideProject, plan.projectDir);
    const attrs: Record<string, string> = names.length ? { name: names.join(",") } : {};
    return job(platforms[0]!.definition, { type: output.format, index: output.index, names, push: false, attrs, file: { path: file, within: output.allowOutsideProject ? undefined : plan.projectDir } }, platforms);
  });
  const outputs = [...images, ...tarballs];
  // A shell in a failed command (interactive runs) opens in the first platform's build.
  const gatewayBuild = { ...job(platforms[0]!.definition), failureExports: [] };
  return { seed: [], gatewayBuild, build: outputs.length ? outputs : platforms.map((p) => job(p.definition)), writeBack: [] };
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
