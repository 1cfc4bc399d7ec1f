import { setTimeout as sleep } from "node:timers/promises";
import type { ControlClient } from "../client/control.ts";
import { GatewayClient, isUnknownBuild, type GatewayResult } from "../client/gateway.ts";
import { BrewkitError, BuildError, DaemonError, isGatewayFailure } from "../errors.ts";
import type { ProgressTracker } from "../progress/index.ts";
import type { ExportTarget, LocalDir } from "../session/file-services.ts";
import { newId } from "../session/ids.ts";
import type { SessionService } from "../session/services.ts";
import { BuildSession } from "../session/session.ts";
import { followStatus, type StatusListeners } from "./status.ts";
import { failedStep } from "./step-failure.ts";

/** Settings of one gateway build; the listeners hear its progress, as `solveJob`'s do. */
export interface GatewayBuildOptions extends StatusListeners {
  /** Name for progress and errors, e.g. `resolve base images`. */
  name: string;
  /** Stable key that lets the daemon reuse earlier uploads of the same dirs. */
  sharedKey: string;
  /** Local sources by the name used in the definitions solved through the gateway. */
  localDirs?: ReadonlyMap<string, LocalDir>;
  /** Extra session services (secrets, ssh, ...). */
  services?: SessionService[];
  /** Entitlements the definitions need (e.g. `network.host`). */
  entitlements?: string[];
  /** Cancels the build and the calls in flight. */
  signal?: AbortSignal;
  /** Exporters of what the build returns (none: nothing is exported). */
  exporters?: Array<{ Type: string; Attrs: Record<string, string> }>;
  /** Where exporters' output lands on the host, by index in `exporters`. */
  exports?: ReadonlyMap<number, ExportTarget>;
  /** Build cache imported and exported by the build. */
  cache?: { Exports: Array<{ Type: string; Attrs: Record<string, string> }>; Imports: Array<{ Type: string; Attrs: Record<string, string> }> };
  /** Hears the build's progress tracker when the build starts (for its summary, or the step that failed). */
  onTracker?: (tracker: ProgressTracker) => void;
  /** Hears what the exporters reported once the build ended. */
  onExported?: (exporterResponse: Record<string, string>) => void;
  /** How the error of a failed step names the build, e.g. `target "app"` (default: its name). */
  subject?: string;
}

// The bridge knows a build only once the daemon registered it, shortly after the Solve
// arrived; each early call already waits 3 s in the daemon, so a few retries suffice.
const registrationTimeoutMs = 30_000;
const registrationRetryMs = 100;
// After Solve returns the daemon closes the Status stream; don't wait forever if it doesn't.
const statusDrainMs = 5_000;

/**
 * Runs `fn` inside one gateway-mode build: a Control.Solve without definition or
 * frontend that stays open while `fn` calls the LLBBridge (solve definitions, read
 * files, resolve image configs). The build always ends with `Return` — an empty result
 * when `fn` succeeds, its error otherwise — and this resolves with `fn`'s value once the
 * daemon has closed the build. Nothing is exported.
 */
export async function withGatewayBuild<T>(
  control: ControlClient,
  options: GatewayBuildOptions,
  fn: (bridge: GatewayClient, progress: ProgressTracker) => Promise<T>,
  result?: (value: T) => GatewayResult,
): Promise<T> {
  if (options.signal?.aborted) throw new BuildError("CANCELLED", `${options.name} was cancelled`);
  const session = new BuildSession({ localDirs: options.localDirs, exports: options.exports, sharedKey: options.sharedKey, services: options.services });
  const ref = newId();
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const bridge = new GatewayClient(control, ref, abort.signal);
  session.open(control);
  const { tracker, done: statusDone } = followStatus(control, ref, options.name, abort.signal, options);
  options.onTracker?.(tracker);
  // Settles when the daemon ends the build, i.e. after Return (or on failure).
  const request = { Ref: ref, Session: session.id, Entitlements: options.entitlements ?? [], ...(options.exporters ? { Exporters: options.exporters } : {}), ...(options.cache ? { Cache: options.cache } : {}) };
  const solved = control.solve(request, abort.signal).then(
    (response) => {
      options.onExported?.(response.ExporterResponse ?? {});
      return { ok: true as const };
    },
    (error: unknown) => ({ ok: false as const, error }),
  );
  try {
    await waitForRegistration(bridge, solved, abort.signal);
    let value: T;
    try {
      value = await fn(bridge, tracker);
    } catch (err) {
      const failure = err instanceof Error ? err : new Error(String(err));
      // Recording the failure is best effort: the error to report is fn's.
      await bridge.return({ error: failure }).catch(() => abort.abort());
      await solved;
      // The failed step's output arrives on the Status stream, which ends with the build.
      await Promise.race([statusDone, sleep(statusDrainMs, undefined, { ref: false })]);
      throw withStepOutput(failure, tracker, options.name, options.subject ?? options.name);
    }
    await bridge.return(result ? { result: result(value) } : {});
    const outcome = await solved;
    if (!outcome.ok) throw outcome.error;
    // The daemon may consider an export done before brewkit has written it.
    await session.settleExports();
    await Promise.race([statusDone, sleep(statusDrainMs, undefined, { ref: false })]);
    return value;
  } catch (err) {
    if (options.signal?.aborted) throw new BuildError("CANCELLED", `${options.name} was cancelled`, { cause: err });
    throw err;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    abort.abort();
    session.close();
  }
}

/** Pings until the daemon has registered the build, or the build failed before it did. */
async function waitForRegistration(bridge: GatewayClient, solved: Promise<{ ok: boolean; error?: unknown }>, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + registrationTimeoutMs;
  let ended: { ok: boolean; error?: unknown } | undefined;
  void solved.then((outcome) => (ended = outcome));
  for (;;) {
    try {
      await bridge.ping();
      return;
    } catch (err) {
      if (ended) throw ended.error ?? err;
      if (!isUnknownBuild(err) || signal.aborted) throw err;
      if (Date.now() > deadline) {
        throw new DaemonError("GATEWAY_NOT_REGISTERED", `the BuildKit daemon did not register gateway build ${bridge.buildId} in time`, { cause: err });
      }
      await sleep(registrationRetryMs);
    }
  }
}

/** Adds the failed step's output to a gateway call's failure, when the daemon reported it. */
function withStepOutput(err: Error, tracker: ProgressTracker, name: string, subject: string): Error {
  if (!(err instanceof BrewkitError) || !isGatewayFailure(err.code)) return err;
  // Without details naming the step, the call's message contains the vertex's error; an
  // unrelated earlier failure must not match.
  const fallback = tracker.all.find((v) => v.error && !v.error.endsWith("context canceled") && err.message.includes(v.error));
  return failedStep({ target: name, subject, error: err, tracker, fallback }) ?? err;
}
