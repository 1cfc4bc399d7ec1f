import type { ControlClient } from "../client/control.ts";
import { compileTarget, compileVariable, imageConfigKey, phasesOf, type CompiledJob, type CompiledTarget, type CompiledLocalDir, type CompileOptions } from "../compile/index.ts";
import { formatPlatform, type Platform } from "../llb/index.ts";
import type { Variable } from "../model/index.ts";
import { everyPlannedTarget, type Plan } from "../plan/index.ts";
import type { ProgressEvent, VertexState } from "../progress/index.ts";
import type { Moby_Buildkit_V1_StatusResponse as StatusResponse } from "../proto/generated.ts";
import { readFilesWith, resolveImageConfigsWith, type ImageConfig } from "../resolve/index.ts";
import { isRedactable, minRedactedLength, type Redactor, type SecretStore } from "../secrets/index.ts";
import { registryCredentials, type CredentialSource } from "../registry/credentials.ts";
import { authService } from "../session/auth-service.ts";
import { secretsService } from "../session/secrets-service.ts";
import { sshAgentSockets, sshService } from "../session/ssh-service.ts";
import type { SessionService } from "../session/services.ts";
import { withGatewayBuild } from "../solve/gateway-build.ts";
import { LocalContentStore } from "../contentstore/local-store.ts";
import { localCacheDirs, type CacheOptions } from "../solve/cache-options.ts";
import { contentService } from "../session/content-service.ts";
import { mergeByTarget, solveWaves, type FailedCommand, type SolveResult } from "../solve/index.ts";
import { readConfigSources } from "./config-sources.ts";
import { cacheExportFailure, imageExportFailure, locatedImageFailure, missingArtifact } from "./failures.ts";
import { variableRounds } from "./variables.ts";

/** What a build needs besides the plan. */
export interface BuildOptions {
  /** The worker's platform. */
  platform: Platform;
  /** Stable key of this machine and project (uploads stay incremental). */
  sharedKey: string;
  /** Unique per run. */
  runId: string;
  /**
   * Recorded on local sources (default: `runId`). Unique per run, so no two runs send the
   * same upload op: the daemon merges identical ops of jobs in flight, and a run would
   * then build with the files another run (or a cancelled one) uploaded.
   */
  localUniqueId?: string;
  /** Every step runs anew instead of being taken from the build cache (`--no-cache`). */
  ignoreCache?: boolean;
  /** Secret values for the steps that mount secrets. */
  secrets: SecretStore;
  /** `--ssh` flags (`id=socket`), on top of SSH_AUTH_SOCK. */
  sshFlags?: string[];
  /** Build cache to import into every Solve and to export from the requested targets' builds. */
  cache?: CacheOptions;
  /** Registry logins served to the daemon (default: brewkit's user config, then Docker's). */
  credentials?: CredentialSource;
  onEvent?: (job: string, event: ProgressEvent) => void;
  /** Receives every Status message of the target builds (secret values hidden). */
  onStatus?: (job: string, message: StatusResponse) => void;
  /** Told when an export waits for another process moving files into the same project. */
  onExportWait?: (dest: string, pid: number) => void;
  /** Told, before anything is exported, every host directory the build will write (outputs and cache folders). */
  onExportDirs?: (dirs: string[]) => void;
  /** Something the user should know that does not stop the build. */
  onWarning?: (message: string) => void;
  /** Told when one of a target's commands fails, before the failure is reported (`run --interactive` opens a shell in it). */
  onFailedCommand?: (failed: FailedCommand) => Promise<void>;
  signal?: AbortSignal;
}

/** What preparing a build needs: the build's options without the secrets themselves, and the session services of its steps. */
export interface PrepareOptions extends Omit<BuildOptions, "secrets" | "sshFlags" | "onStatus" | "credentials"> {
  /** Services the variables' commands may use (secrets, ssh), as the targets' builds get them. */
  services?: SessionService[];
  /** Hides secret values in the progress of the variables' commands. */
  redactor?: Redactor;
}

/** The compiled targets of a plan, in the plan's waves. */
export interface PreparedBuild {
  waves: CompiledTarget[][];
  /** Values of the variables that were evaluated. */
  variables: ReadonlyMap<Variable, string>;
  /** What the targets were compiled with (resolved images, variable values). */
  compileOptions: CompileOptions;
}

/**
 * Image bases of the plan, as `[ref, platform]` with the key compile looks them up by. A
 * base that sets no platform is resolved for the daemon's, and for every platform a
 * target built for several names (`variant` says which).
 */
function imageBases(plan: Plan, platform: Platform): Array<{ key: string; ref: string; platform: Platform; variant?: string }> {
  const all = everyPlannedTarget(plan);
  const multi = new Map(all.flatMap((t) => t.platforms).map((p) => [formatPlatform(p), p]));
  const bases = new Map<string, { key: string; ref: string; platform: Platform; variant?: string }>();
  for (const t of all) {
    if (t.base.kind !== "image") continue;
    const key = imageConfigKey(t.base.ref, t.platform);
    bases.set(key, { key, ref: t.base.ref, platform: t.platform ?? platform });
    if (t.platform) continue;
    for (const [id, p] of multi) bases.set(`${key}\0${id}`, { key, ref: t.base.ref, platform: p, variant: id });
  }
  return [...bases.values()];
}

/**
 * Resolves the base images and evaluates the variables the plan needs (in one
 * gateway build, only if there is anything to look up), then compiles every target.
 */
export async function prepareBuild(control: ControlClient, plan: Plan, options: PrepareOptions): Promise<PreparedBuild> {
  const imageConfigs = new Map<string, ImageConfig>();
  const imageConfigsByPlatform = new Map<string, Map<string, ImageConfig>>();
  const variables = new Map<Variable, string>();
  const bases = imageBases(plan, options.platform);
  const configSources = readConfigSources(plan);
  const compileOptions: CompileOptions = { platform: options.platform, localUniqueId: options.localUniqueId ?? options.runId, runId: options.runId, imageConfigs, imageConfigsByPlatform, variables, configSources, ignoreCache: options.ignoreCache };
  if (bases.length > 0 || plan.variables.size > 0) {
    // Dirs are added as variables are compiled; the session looks names up when asked.
    const localDirs = new Map<string, CompiledLocalDir>();
    const listeners = { onEvent: options.onEvent, onWarning: options.onWarning, redactor: options.redactor };
    await withGatewayBuild(control, { name: "prepare", sharedKey: options.sharedKey, localDirs, services: options.services, ...listeners, signal: options.signal }, async (bridge) => {
      const byPlatform = new Map<string, typeof bases>();
      for (const base of bases) byPlatform.set(formatPlatform(base.platform), [...(byPlatform.get(formatPlatform(base.platform)) ?? []), base]);
      await Promise.all(
        [...byPlatform.values()].map(async (group) => {
          const configs = await resolveImageConfigsWith(bridge, group.map((b) => b.ref), group[0]!.platform).catch((err: unknown) => {
            throw locatedImageFailure(plan, configSources, err);
          });
          for (const b of group) {
            if (b.variant === undefined) imageConfigs.set(b.key, configs.get(b.ref)!);
            else {
              let forPlatform = imageConfigsByPlatform.get(b.variant);
              if (!forPlatform) imageConfigsByPlatform.set(b.variant, (forPlatform = new Map()));
              forPlatform.set(b.key, configs.get(b.ref)!);
            }
          }
        }),
      );
      for (const round of variableRounds(plan)) {
        const compiled = round.map((v) => compileVariable(plan, v, compileOptions));
        for (const c of compiled) for (const [name, dir] of c.localDirs) localDirs.set(name, dir);
        const values = await readFilesWith(bridge, compiled.map((c, i) => ({ definition: c.definition, path: c.valuePath, label: `variable ${plan.variables.get(round[i]!)!.target.name}`, maxBytes: 1 << 20 })));
        // The value is the command's output without its trailing newline.
        round.forEach((v, i) => variables.set(v, values[i]!.toString("utf8").replace(/\r?\n$/, "")));
      }
    });
  }
  // A platform's own lookups, over the daemon platform's for the bases that name their platform.
  for (const [id, forPlatform] of imageConfigsByPlatform) imageConfigsByPlatform.set(id, new Map([...imageConfigs, ...forPlatform]));
  const waves = plan.waves.map((wave) => wave.map((name) => compileTarget(plan, name, compileOptions)));
  return { waves, variables, compileOptions };
}

/**
 * Checks what the build needs from this machine (secret values, ssh agents) and returns
 * the session services serving it. Only the secrets that the targets (variables' targets
 * included) name are read and served. Their values are read now, before any step runs,
 * so that output is redacted even when a step prints a value it did not mount (one kept
 * in a cached layer, say).
 */
export async function sessionServices(plan: Plan, options: Pick<BuildOptions, "secrets" | "sshFlags" | "onWarning" | "credentials">, cacheStores: readonly LocalContentStore[] = []): Promise<SessionService[]> {
  const targets = everyPlannedTarget(plan);
  const secrets = targets.flatMap((t) => t.secrets.map((s) => ({ id: s.id, optional: s.optional })));
  const sshIds = [...new Set(targets.flatMap((t) => (t.ssh ? [t.ssh.id] : [])))];
  // Pulls of private bases, pushes and registry caches all ask the session for logins.
  const services: SessionService[] = [authService(options.credentials ?? registryCredentials())];
  if (secrets.length > 0) {
    options.secrets.assertAvailable(secrets);
    const named = new Set(secrets.map((s) => s.id));
    for (const id of named) {
      const value = await options.secrets.read(id);
      if (value !== undefined && value.length > 0 && !isRedactable(value)) {
        options.onWarning?.(`secret "${id}" is shorter than ${minRedactedLength} characters, so it is not hidden from the output`);
      }
    }
    services.push(secretsService(options.secrets, named));
  }
  if (sshIds.length > 0) services.push(sshService(sshAgentSockets(sshIds, options.sshFlags ?? [])));
  // A local build cache is a directory of this machine, which the daemon reads and writes through the session.
  if (cacheStores.length > 0) services.push(contentService(new Map(cacheStores.map((store) => [`local:${store.root}`, store]))));
  return services;
}

/** Runs a plan on the daemon: checks, preparation, then every target's Solves; results per target. */
export async function buildPlan(control: ControlClient, plan: Plan, options: BuildOptions): Promise<{ results: SolveResult[]; prepared: PreparedBuild }> {
  const cacheStores = localCacheDirs(options.cache).map((dir) => new LocalContentStore(dir));
  try {
    return await runPlan(control, plan, options, cacheStores);
  } finally {
    // Writes the daemon left unfinished (a failed or cancelled export) leave nothing behind.
    await Promise.all(cacheStores.map((store) => store.close()));
  }
}

async function runPlan(control: ControlClient, plan: Plan, options: BuildOptions, cacheStores: LocalContentStore[]): Promise<{ results: SolveResult[]; prepared: PreparedBuild }> {
  // Secrets and agents are checked before anything reaches the daemon.
  const services = await sessionServices(plan, options, cacheStores);
  const redactor = options.secrets.redactor;
  const prepared = await prepareBuild(control, plan, { ...options, services, redactor });
  const interactive = options.onFailedCommand !== undefined;
  options.onExportDirs?.([...new Set(prepared.waves.flat().flatMap((c) => phasesOf(c)).flat().flatMap((job) => [...job.exports.map((e) => e.dest), ...(job.image?.file ? [job.image.file.path] : [])]))]);
  // The requested targets' builds hold everything the run built on the way (their bases are in their graphs).
  const exportsCache = new Set(prepared.waves.flat().filter((t) => plan.requested.includes(t.build[0]?.name ?? "")).flatMap((t) => t.build));
  const cacheRefs = (options.cache?.exports ?? []).filter((e) => e.type === "registry").map((e) => e.attrs.ref!);
  const solveJob = (job: CompiledJob) => {
    const explainers = [job.output && missingArtifact(plan, job.name, job.output), job.image && imageExportFailure(job.name, job.image), exportsCache.has(job) ? cacheExportFailure(job.name, cacheRefs) : undefined].filter((e) => e !== undefined);
    const explainFailure = (failed: VertexState) => explainers.map((explain) => explain(failed)).find((e) => e !== undefined);
    return { ...job, services, exportCache: exportsCache.has(job), entitlements: job.requirements.entitlements, explainFailure };
  };
  const jobs = prepared.waves.map((wave) => wave.map((compiled) => phasesOf(compiled, { interactive }).map((phase) => phase.map(solveJob))));
  const listeners = { onEvent: options.onEvent, onStatus: options.onStatus, onWarning: options.onWarning, onExportWait: options.onExportWait, onFailedCommand: options.onFailedCommand, redactor };
  const results = await solveWaves(control, jobs, { sharedKey: options.sharedKey, ...listeners, signal: options.signal, cache: options.cache });
  return { results: mergeByTarget(results), prepared };
}
