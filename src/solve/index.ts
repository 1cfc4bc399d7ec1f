import type { ControlClient } from "../client/control.ts";
import { BuildError, BrewkitError } from "../errors.ts";
import { summarize, type ProgressTracker, type ProgressSummary, type VertexState } from "../progress/index.ts";
import type { Pb_Definition } from "../proto/generated.ts";
import type { ExportTarget, LocalDir, LocalExportTarget, TransferStats } from "../session/file-services.ts";
import { newId } from "../session/ids.ts";
import { BuildSession } from "../session/session.ts";
import { trace } from "../trace.ts";
import { formatPlatform, type Platform } from "../llb/platform.ts";
import { putIndex, type IndexDescriptor } from "../contentstore/local-store.ts";
import type { FailureExport } from "../compile/index.ts";
import { solveCacheOptions, type CacheOptions } from "./cache-options.ts";
import { withGatewayBuild } from "./gateway-build.ts";
import { exportWriteError } from "./export-failure.ts";
import { solveThroughGateway, type FailedCommand } from "./through-gateway.ts";
import { followStatus, type StatusListeners } from "./status.ts";
import { failedStep } from "./step-failure.ts";
import type { SessionService } from "../session/services.ts";

/** One Solve: a definition, the host dirs it reads and the host dirs it writes. */
export interface SolveJob {
  /** Target name, for progress and errors. */
  name: string;
  definition: Pb_Definition;
  /** Local sources by the name used in the definition. */
  localDirs: ReadonlyMap<string, LocalDir>;
  /** Host directories, one `local` export each, all of the definition's result. */
  exports: LocalExportTarget[];
  /** For a target built for several platforms: each platform's definition and image config, exported together (as one index). */
  platforms?: Array<{ platform: Platform; definition: Pb_Definition; config: string }>;
  /** Export the run's build cache (see `SolveOptions.cache`) from this Solve. */
  exportCache?: boolean;
  /** The result exported as an image: pushed (`image`) or written to a host file (`docker`, `oci`). */
  image?: ImageExport;
  /** Entitlements the build needs (e.g. `network.host`). */
  entitlements?: string[];
  /** Extra session services (secrets, ssh, ...). */
  services?: SessionService[];
  /** Says what a failed step means for this job, when the caller knows better than the step's own error. */
  explainFailure?: (failed: VertexState) => Error | undefined;
  /**
   * Set on a job that builds a target through the gateway first (exporting nothing
   * else), so that a failed command can be reached: these outputs are exported from
   * the filesystem it left, and `onFailedCommand` is told.
   */
  failureExports?: FailureExport[];
}

/** An image exporter of a Solve. */
export interface ImageExport {
  /** `image` (to a registry, or kept by the daemon), `docker` or `oci` (an archive). */
  type: "image" | "docker" | "oci";
  /** The exporter's attributes. */
  attrs: Record<string, string>;
  /** The host file an archive is written to. */
  file?: { path: string; within: string | undefined };
}

/** Settings shared by every Solve of a run; the listeners hear about every job. */
export interface SolveOptions extends StatusListeners {
  /** Stable key that lets the daemon reuse earlier uploads of the same dirs. */
  sharedKey: string;
  /** Cancels the solves in flight. */
  signal?: AbortSignal;
  /** Build cache imported by every Solve, and exported by those that say so. */
  cache?: CacheOptions;
  /** Told when an export waits for another process moving files into the same project. */
  onExportWait?: (dest: string, pid: number) => void;
  /** Told when a command of a job built through the gateway failed, before the failure is reported: e.g. to open a shell in it. */
  onFailedCommand?: (failed: FailedCommand) => Promise<void>;
}

/** What one finished Solve reports. */
export interface SolveResult {
  name: string;
  summary: ProgressSummary;
  vertices: VertexState[];
  transfer: TransferStats;
  durationMs: number;
  /** What the exporters reported (e.g. `containerimage.digest` of an image). */
  exporterResponse: Record<string, string>;
  /** The images exported, with their digests. */
  images: ExportedImage[];
  /** The target's steps were built here first: later Solves of the target find them cached and are not counted again. */
  firstBuild?: boolean;
}

/** An image a Solve exported. */
export interface ExportedImage {
  type: ImageExport["type"];
  /** The names it was given, comma-separated as the exporter takes them. */
  names: string[];
  /** Digest of its manifest (or of its index, for several platforms). */
  digest: string | undefined;
  /** Pushed to its registry. */
  pushed: boolean;
  /** The host file of an archive. */
  file?: string;
}

// After Solve returns the daemon closes the Status stream; don't wait forever if it doesn't.
const statusDrainMs = 5_000;

/** Runs one job on the daemon and waits for its exports to land on the host. */
export async function solveJob(control: ControlClient, job: SolveJob, options: SolveOptions): Promise<SolveResult> {
  if (job.platforms?.length) return solvePlatforms(control, job, job.platforms, options);
  if (job.failureExports) return solveThroughGateway(control, { ...job, failureExports: job.failureExports }, options);
  const started = Date.now();
  const exports = new Map<number, ExportTarget>(job.exports.map((target, index) => [index, target]));
  const exporters = job.exports.map(() => ({ Type: "local", Attrs: {} as Record<string, string> }));
  if (job.image) {
    if (job.image.file) exports.set(exporters.length, { kind: "file", dest: job.image.file.path, within: job.image.file.within });
    exporters.push({ Type: job.image.type, Attrs: job.image.attrs });
  }
  const session = new BuildSession({ localDirs: job.localDirs, exports, sharedKey: options.sharedKey, services: job.services, onExportWait: options.onExportWait });
  const ref = newId();
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  session.open(control);
  const { tracker, done: statusDone } = followStatus(control, ref, job.name, abort.signal, options);
  let exporterResponse: Record<string, string> = {};
  try {
    trace("solve-sent", { job: job.name });
    const response = await control.solve(
      {
        Ref: ref,
        Session: session.id,
        Definition: job.definition,
        Exporters: exporters,
        ...(options.cache ? { Cache: solveCacheOptions(options.cache, job.exportCache === true) } : {}),
        Entitlements: job.entitlements ?? [],
      },
      abort.signal,
    );
    exporterResponse = response.ExporterResponse ?? {};
    trace("solve-returned", { job: job.name });
    if (job.exportCache) await recordLocalCaches(options.cache, exporterResponse);
    await session.settleExports();
    await Promise.race([statusDone, new Promise((r) => setTimeout(r, statusDrainMs).unref())]);
    trace("solve-done", { job: job.name });
  } catch (err) {
    abort.abort();
    await Promise.race([statusDone, new Promise((r) => setTimeout(r, 1_000).unref())]);
    // A failure to write an export here is this machine's, whatever the daemon made of it.
    const exportFailure = session.exportFailures[0];
    const cancelled = options.signal?.aborted === true;
    // Closing stops the transfers in flight; each removes its staging dir before it ends.
    session.close();
    await session.exportsEnded();
    throw exportFailure && !cancelled ? exportWriteError(job.name, exportFailure) : buildFailure(job, err, tracker, cancelled);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    abort.abort();
    session.close();
  }
  return { name: job.name, summary: tracker.summary(), vertices: tracker.all, transfer: session.stats, durationMs: Date.now() - started, exporterResponse, images: exportedImages(job, exporterResponse) };
}

/** Records the exported cache in each `type=local` cache directory's index.json, as BuildKit's client does. */
async function recordLocalCaches(cache: CacheOptions | undefined, exporterResponse: Record<string, string>): Promise<void> {
  const manifest = exporterResponse["cache.manifest"];
  const locals = cache?.exports.filter((e) => e.type === "local") ?? [];
  if (!manifest || locals.length === 0) return;
  const desc = JSON.parse(manifest) as IndexDescriptor;
  for (const e of locals) await putIndex(e.attrs.dest!, desc, e.attrs.tag ?? "latest");
}

function exportedImages(job: SolveJob, exporterResponse: Record<string, string>): ExportedImage[] {
  return job.image
    ? [{
        type: job.image.type,
        names: job.image.attrs.name ? job.image.attrs.name.split(",") : [],
        digest: exporterResponse["containerimage.digest"],
        pushed: job.image.attrs.push === "true",
        ...(job.image.file ? { file: job.image.file.path } : {}),
      }]
    : [];
}

/**
 * The Solve of a target built for several platforms: a gateway build that solves each
 * platform's definition and returns them together, keyed by platform, with each
 * platform's image config, so the exporter makes one index with a manifest per platform.
 */
async function solvePlatforms(control: ControlClient, job: SolveJob, platforms: NonNullable<SolveJob["platforms"]>, options: SolveOptions): Promise<SolveResult> {
  const started = Date.now();
  const exports = new Map<number, ExportTarget>();
  const exporters: Array<{ Type: string; Attrs: Record<string, string> }> = [];
  if (job.image) {
    if (job.image.file) exports.set(0, { kind: "file", dest: job.image.file.path, within: job.image.file.within });
    exporters.push({ Type: job.image.type, Attrs: job.image.attrs });
  }
  let exporterResponse: Record<string, string> = {};
  let tracker: ProgressTracker | undefined;
  const ids = platforms.map((p) => formatPlatform(p.platform));
  const platformsKey = { Platforms: platforms.map((p, i) => ({ ID: ids[i], Platform: { architecture: p.platform.Architecture, os: p.platform.OS, ...(p.platform.Variant ? { variant: p.platform.Variant } : {}) } })) };
  try {
    await withGatewayBuild(
      control,
      {
        name: job.name, sharedKey: options.sharedKey, localDirs: job.localDirs, services: job.services, entitlements: job.entitlements, signal: options.signal,
        exporters, exports, ...(options.cache ? { cache: solveCacheOptions(options.cache, job.exportCache === true) } : {}),
        onEvent: options.onEvent, onStatus: options.onStatus, onWarning: options.onWarning, redactor: options.redactor,
        onTracker: (t) => (tracker = t),
        onExported: (response) => (exporterResponse = response),
      },
      (bridge) => Promise.all(platforms.map((p) => bridge.solve(p.definition))),
      (refs) => ({
        refs: { refs: Object.fromEntries(platforms.map((p, i) => [ids[i]!, { id: refs[i]!, def: p.definition }])) },
        metadata: {
          "refs.platforms": Buffer.from(JSON.stringify(platformsKey)),
          ...Object.fromEntries(platforms.map((p, i) => [`containerimage.config/${ids[i]}`, Buffer.from(p.config)])),
        },
      }),
    );
    if (job.exportCache) await recordLocalCaches(options.cache, exporterResponse);
  } catch (err) {
    if (!tracker || err instanceof BrewkitError && err.code === "CANCELLED") throw err;
    throw buildFailure(job, err, tracker, options.signal?.aborted === true);
  }
  const summary = tracker ? tracker.summary() : { total: 0, completed: 0, cached: 0, errored: 0 };
  return { name: job.name, summary, vertices: tracker?.all ?? [], transfer: { sentFiles: new Map(), bytesSent: 0, filesReceived: 0, filesReused: 0, bytesReceived: 0 }, durationMs: Date.now() - started, exporterResponse, images: exportedImages(job, exporterResponse) };
}

/** The Solves of one target in phases: jobs of a phase run together, phases in order. */
export type TargetPhases = SolveJob[][];

export type { FailedCommand } from "./through-gateway.ts";
export type { ShellTerminal } from "./debug-shell.ts";

/** Runs waves of targets: targets of one wave in parallel, each through its phases; waves in order. */
export async function solveWaves(control: ControlClient, waves: TargetPhases[][], options: SolveOptions): Promise<SolveResult[]> {
  const results: SolveResult[] = [];
  const runTarget = async (phases: TargetPhases) => {
    for (const phase of phases) results.push(...(await Promise.all(phase.map((job) => solveJob(control, job, options)))));
  };
  for (const wave of waves) await Promise.all(wave.map(runTarget));
  return results;
}

function buildFailure(job: SolveJob, err: unknown, tracker: ProgressTracker, cancelled: boolean): Error {
  const target = job.name;
  if (cancelled) return new BuildError("CANCELLED", `build of target "${target}" was cancelled`, { context: { target }, cause: err });
  const failed = tracker.failed();
  const explained = failed && job.explainFailure?.(failed);
  if (explained) return explained;
  const step = failedStep({ target, error: err, tracker, definition: job.definition, fallback: failed });
  if (step) return step;
  const message = err instanceof Error ? err.message : String(err);
  const entitlement = /(network\.host|security\.insecure)[^\n]* is not allowed|is not allowed[^\n]*(network\.host|security\.insecure)/.exec(message);
  if (entitlement) {
    const name = entitlement[1] ?? entitlement[2];
    return new BuildError("ENTITLEMENT_DENIED", `target "${target}" needs the daemon's ${name} entitlement, which it does not allow`, {
      context: { target },
      hint: `start buildkitd with --allow-insecure-entitlement ${name} (brewkit's own daemon allows network.host), or remove network: "host" from the target`,
      cause: err,
    });
  }
  if (err instanceof BrewkitError && err.code !== "DAEMON_ERROR") return err;
  return new BuildError("BUILD_FAILED", `target "${target}" failed: ${(err as Error).message}`, { context: { target }, cause: err });
}

/** Folds the results of a target's several Solves (seed, outputs, write-back) into one per target, in first-seen order. */
export function mergeByTarget(results: SolveResult[]): SolveResult[] {
  const merged = new Map<string, SolveResult>();
  // Steps of a first build, by target: found cached by the target's later Solves.
  const builtFirst = new Map<string, Set<string>>();
  for (const r of results) {
    if (r.firstBuild) builtFirst.set(r.name, new Set(r.vertices.map((v) => v.digest)));
    const m = merged.get(r.name);
    if (!m) {
      merged.set(r.name, { ...r, summary: { ...r.summary }, vertices: [...r.vertices], images: [...r.images], transfer: { ...r.transfer, sentFiles: new Map(r.transfer.sentFiles) } });
      continue;
    }
    m.images.push(...r.images);
    const seen = r.firstBuild ? undefined : builtFirst.get(r.name);
    const fresh = seen ? r.vertices.filter((v) => !seen.has(v.digest)) : r.vertices;
    const summary = seen ? summarize(fresh) : r.summary;
    for (const key of ["total", "completed", "cached", "errored"] as const) m.summary[key] += summary[key];
    m.vertices.push(...fresh);
    m.durationMs += r.durationMs;
    for (const [dir, files] of r.transfer.sentFiles) m.transfer.sentFiles.set(dir, [...(m.transfer.sentFiles.get(dir) ?? []), ...files]);
    m.transfer.bytesSent += r.transfer.bytesSent;
    m.transfer.filesReceived += r.transfer.filesReceived;
    m.transfer.filesReused += r.transfer.filesReused;
    m.transfer.bytesReceived += r.transfer.bytesReceived;
  }
  return [...merged.values()];
}
