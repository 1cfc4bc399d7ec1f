import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildPlan } from "../build/index.ts";
import type { ControlClient } from "../client/control.ts";
import type { Platform } from "../llb/index.ts";
import type { Plan } from "../plan/index.ts";
import { registryCredentials } from "../registry/credentials.ts";
import { loadSecretStore, type SecretStore } from "../secrets/index.ts";
import { newId } from "../session/ids.ts";
import type { ProgressEvent } from "../progress/index.ts";
import type { CacheOptions } from "../solve/cache-options.ts";
import type { ExportedImage, FailedCommand, SolveResult } from "../solve/index.ts";
import { configBuildCache, prepareLocalCaches, runCacheOptions, type CacheFlags } from "./cache-flags.ts";
import { connectIfUp, connectStartingLocalDaemon, tlsFromFlags, type ConnectFlags } from "./connect.ts";
import { progressOutput, type ProgressOutput } from "./progress-mode.ts";
import { processTerminal, requireTerminal, shellArgv } from "./terminal.ts";
import { cancelOnSignals } from "./signals.ts";
import { outputRedactor } from "./redacted-output.ts";
import { trace } from "../trace.ts";
import { loadProject, planProject } from "./project.ts";
import { projectSharedKey } from "./shared-key.ts";

/** Options of `brewkit run`. */
export interface RunOptions extends ConnectFlags, CacheFlags {
  config?: string;
  progress?: string;
  metadataFile?: string;
  /** `--secret` values (one or several). */
  secret?: string | string[];
  /** `--ssh` values (one or several). */
  ssh?: string | string[];
  /** Keep watching the inputs and rebuild on changes. */
  watch?: boolean;
  /** Open a shell in the container of a command that fails (needs a terminal). */
  interactive?: boolean;
  /** The shell `--interactive` opens (default `/bin/sh`). */
  shell?: string;
  /** `--no-cache`: every step runs anew instead of being taken from the build cache. */
  ignoreCache?: boolean;
}

/** A repeatable flag's values as a list. */
export function flagList(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
}

/** `brewkit run [targets...]`: plan, check, prepare, compile, solve, export. */
export async function runCommand(names: string[], options: RunOptions): Promise<number> {
  if (options.interactive) requireTerminal("--interactive");
  // Watching (and its file watcher) is loaded only when asked for.
  if (options.watch) return (await import("./watch-command.ts")).watchCommand(names, options);
  // Connecting to a daemon that is up takes a round trip: it goes on while the config is
  // evaluated and planned. Nothing is built before the plan is valid, a config error is
  // reported before any connection error, and brewkit's own daemon is started (if it
  // must be) only for a valid plan.
  const connectOptions = { addr: options.addr, tls: tlsFromFlags(options), log: err };
  const early = new AbortController();
  const connecting = connectIfUp(connectOptions, early.signal);
  connecting.catch(() => undefined);
  let plan: Plan;
  let secrets: SecretStore;
  let cache: CacheOptions | undefined;
  try {
    const project = await loadProject(options);
    plan = planProject(project, names);
    cache = await prepareLocalCaches(runCacheOptions(options, configBuildCache(project.config)), (message) => err(`warning: ${message}`));
    secrets = await loadSecretStore({ flags: flagList(options.secret), redactor: outputRedactor });
  } catch (error) {
    early.abort();
    throw error;
  }
  // undefined only for brewkit's own daemon when it did not answer: asking again would wait again.
  const { control, platform } = (await connecting) ?? (await connectStartingLocalDaemon(connectOptions));
  const abort = new AbortController();
  const stopHandlingSignals = cancelOnSignals(abort);
  try {
    const results = await buildOnce(control, platform, plan, secrets, { ...options, cache }, abort.signal);
    trace("build-done");
    for (const line of results.summary) err(line);
    // The references of the images made, digest pinned, for scripts: `brewkit run app | xargs ...`.
    for (const r of results.results) for (const image of r.images) if (image.type === "image" && image.digest) for (const name of image.names) process.stdout.write(`${name}@${image.digest}\n`);
    return 0;
  } finally {
    stopHandlingSignals();
    control.close();
  }
}

const err = (line: string) => process.stderr.write(`${line}\n`);

/**
 * What `--interactive` does when a command fails: the progress display ends, the
 * failure is shown, and `shell` runs in the failed command's container on this
 * terminal until it exits; then the run goes on to report the failure. Shells of
 * several failures open one after the other.
 */
function shellInFailedCommand(shell: string[], progress: ProgressOutput, setOpen: (open: boolean) => void): (failed: FailedCommand) => Promise<void> {
  let queue = Promise.resolve();
  return (failed) => {
    const turn = queue.then(async () => {
      setOpen(true);
      progress.finish();
      try {
        err(`error: ${failed.error.message}`);
        err(`… starting ${shell.join(" ")} in the failed step's container of target "${failed.target}"; exit the shell to end the run`);
        const exit = await failed.runShell(shell, processTerminal());
        if (exit.error && !/^exit code: \d+$/.test(exit.error)) err(`the shell ended: ${exit.error}`);
      } finally {
        setOpen(false);
      }
    });
    queue = turn.catch(() => undefined);
    return turn;
  };
}

/** One build of a plan with the run options: progress, then per-target summary lines. */
export async function buildOnce(
  control: ControlClient,
  platform: Platform,
  plan: Plan,
  secrets: SecretStore,
  options: RunOptions & { cache?: CacheOptions },
  signal: AbortSignal,
  onExportDirs?: (dirs: string[]) => void,
): Promise<{ results: SolveResult[]; summary: string[] }> {
  // A mirrored cache's host folder is uploaded to seed the cache, so it must exist.
  for (const t of plan.targets.values()) for (const c of t.caches) if (c.hostDir) mkdirSync(c.hostDir, { recursive: true });
  const progress = progressOutput(options.progress);
  // While a shell runs on the terminal, progress of other targets is not shown.
  let shellOpen = false;
  const onEvent = progress.onEvent && ((job: string, event: ProgressEvent) => shellOpen || progress.onEvent!(job, event));
  const { results, prepared } = await buildPlan(control, plan, {
    platform,
    sharedKey: projectSharedKey(plan.projectDir),
    runId: newId(),
    ignoreCache: options.ignoreCache,
    secrets,
    sshFlags: flagList(options.ssh),
    cache: options.cache,
    credentials: registryCredentials({ onSecret: (secret) => outputRedactor.add(secret) }),
    signal,
    onEvent,
    onStatus: progress.onStatus,
    onExportDirs,
    ...(options.interactive ? { onFailedCommand: shellInFailedCommand(shellArgv(options.shell), progress, (open) => (shellOpen = open)) } : {}),
    onExportWait: (dest, pid) => err(`… waiting for another brewkit run (pid ${pid}) to finish writing into ${path.relative(plan.projectDir, dest) || dest}`),
    onWarning: progress.onWarning,
  })
    .catch((error: unknown) => {
      progress.onError?.(error);
      throw error;
    })
    .finally(() => progress.finish());
  for (const r of results) for (const image of r.images) progress.onImage?.(r.name, image);
  // Cache write-backs are incremental exports; the summary names the outputs.
  const outputsOf = (name: string) => prepared.waves.flat().flatMap((t) => t.build).filter((j) => j.name === name).flatMap((j) => j.exports.map((e) => e.dest));
  if (options.metadataFile) writeFileSync(path.resolve(options.metadataFile), `${secrets.redactor.redact(JSON.stringify(runMetadata(results), null, 2))}\n`);
  return { results, summary: results.map((r) => summaryLine(r, outputsOf(r.name), plan.projectDir)) };
}

function summaryLine(result: SolveResult, dests: string[], projectDir: string): string {
  const { total, cached } = result.summary;
  const images = result.images.map((image) => describeImage(image, projectDir));
  const places = [...dests.map((d) => path.relative(projectDir, d) || "."), ...images];
  const where = places.length ? ` → ${places.join(", ")}` : "";
  return `✔ ${result.name}: ${total} steps, ${cached} cached, ${(result.durationMs / 1000).toFixed(1)}s${where}`;
}

/** How the summary names an exported image: pushed names, or an archive, with the digest. */
function describeImage(image: ExportedImage, projectDir: string): string {
  const digest = image.digest ? ` (${image.digest})` : "";
  if (image.file) return `${path.relative(projectDir, image.file) || image.file} [${image.type} archive]${digest}`;
  return `${image.pushed ? "pushed" : "image"} ${image.names.join(", ")}${digest}`;
}

/** The machine-readable record of a run, written by --metadata-file. */
function runMetadata(results: SolveResult[]) {
  return {
    targets: results.map((r) => ({
      name: r.name,
      durationMs: r.durationMs,
      summary: r.summary,
      images: r.images,
      steps: r.vertices.map((v) => ({ name: v.name, digest: v.digest, cached: v.cached, error: v.error ?? null })),
      transfer: {
        sentFiles: Object.fromEntries(r.transfer.sentFiles),
        bytesSent: r.transfer.bytesSent,
        filesReceived: r.transfer.filesReceived,
        filesReused: r.transfer.filesReused,
        bytesReceived: r.transfer.bytesReceived,
      },
    })),
  };
}
