import type { ProcessExit } from "../client/container-process.ts";
import type { ControlClient } from "../client/control.ts";
import type { GatewayClient } from "../client/gateway.ts";
import { errorDetailsOf, type FailedSolve } from "../client/error-details.ts";
import type { FailureExport } from "../compile/index.ts";
import { exportResultPath, type ResultReader } from "../filesync/result-export.ts";
import type { Stat } from "../filesync/index.ts";
import type { Fsutil_Types_Stat as WireStat } from "../proto/generated.ts";
import { emptyTransferStats } from "../session/file-services.ts";
import { newId } from "../session/ids.ts";
import { runShell, type ShellTerminal } from "./debug-shell.ts";
import { withGatewayBuild } from "./gateway-build.ts";
import { failedStep } from "./step-failure.ts";
import type { SolveJob, SolveOptions, SolveResult } from "./index.ts";

/** A command that failed, with its container at hand: for a shell in it (`run --interactive`). */
export interface FailedCommand {
  /** The target being built. */
  target: string;
  /** The failure, as the run reports it. */
  error: Error;
  /** Runs `shell` in a container with the failed command's filesystems and mounts as it left them, and its env, workdir and user. */
  runShell(shell: readonly string[], terminal: ShellTerminal): Promise<ProcessExit>;
}

/**
 * Builds a target through the gateway first, so that a failed command's filesystem
 * can be reached (the daemon names its mounts' results in its error details): outputs
 * marked onFailure are exported from the root filesystem the failed command left, if
 * the command is one of the target's own, and `onFailedCommand` may open a shell in its
 * container; then the failure is reported as usual. A build that succeeds exports
 * nothing here; the target's normal Solves follow (and find every step cached).
 */
export async function solveThroughGateway(control: ControlClient, job: SolveJob & { failureExports: FailureExport[] }, options: SolveOptions): Promise<SolveResult> {
  const started = Date.now();
  const { onEvent, onStatus, onWarning, redactor, sharedKey, signal } = options;
  const subject = `target "${job.name}"`;
  const gatewayOptions = { name: job.name, sharedKey, localDirs: job.localDirs, services: job.services, entitlements: job.entitlements, signal, onEvent, onStatus, onWarning, redactor, subject };
  return withGatewayBuild(control, gatewayOptions, async (bridge, progress) => {
    try {
      await bridge.solve(job.definition, { evaluate: true });
    } catch (err) {
      const failed = errorDetailsOf(err)?.solve;
      if (failed?.op.exec) {
        await exportFailedOutputs(bridge, job, failed, options);
        if (options.onFailedCommand) {
          const error = failedStep({ target: job.name, subject, error: err, tracker: progress }) ?? (err as Error);
          const container = { exec: failed.op.exec, resultIds: failed.mountIds };
          await options.onFailedCommand({ target: job.name, error, runShell: (shell, terminal) => runShell(bridge, container, shell, terminal) });
        }
      }
      throw err;
    }
    return { name: job.name, summary: progress.summary(), vertices: progress.all, transfer: emptyTransferStats(), durationMs: Date.now() - started, exporterResponse: {}, images: [], firstBuild: true };
  });
}

async function exportFailedOutputs(bridge: GatewayClient, job: SolveJob & { failureExports: FailureExport[] }, failed: FailedSolve, options: SolveOptions): Promise<void> {
  // Only a failure of the target's own commands: a base target that failed left no such filesystem.
  if (job.failureExports.length === 0 || !failed.description["llb.customname"]?.startsWith(`[${job.name}] `)) return;
  const root = failed.op.exec?.mounts?.findIndex((m) => m.dest === "/") ?? -1;
  const ref = root >= 0 ? failed.mountIds[root] : undefined;
  if (!ref) return;
  // The failed filesystem is reachable through a container made of it (no process runs in it).
  const container = newId();
  await bridge.newContainer({ ContainerID: container, Mounts: [{ dest: "/", resultID: ref, readonly: true, mountType: 0 }] });
  try {
    await exportEach(containerReader(bridge, container), job, options);
  } finally {
    await bridge.releaseContainer(container).catch(() => undefined);
  }
}

async function exportEach(reader: ResultReader, job: SolveJob & { failureExports: FailureExport[] }, options: SolveOptions): Promise<void> {
  for (const output of job.failureExports) {
    const what = `output[${output.index}] of target "${job.name}" (onFailure)`;
    try {
      await exportResultPath(reader, output.path, output.export.dest, {
        within: output.export.within,
        signal: options.signal,
        onWait: options.onExportWait && ((pid) => options.onExportWait!(output.export.dest, pid)),
      });
    } catch (exportError) {
      // The command's failure is what the run reports; a missing artifact is common (the command failed before writing it).
      const reason = /no such file|not found/i.test(String((exportError as Error).message)) ? `${output.path} is not in the failed command's filesystem` : (exportError as Error).message;
      options.onWarning?.(`${what} was not written: ${reason}`);
    }
  }
}

function containerReader(bridge: GatewayClient, container: string): ResultReader {
  return {
    stat: async (path) => fromWire(await bridge.statFileContainer(container, path)),
    list: async (dir) => (await bridge.readDirContainer(container, dir)).map(fromWire),
    read: (path) => bridge.readFileContainer(container, path),
  };
}

function fromWire(stat: WireStat): Stat {
  const out: Stat = {
    path: stat.path ?? "",
    mode: stat.mode ?? 0,
    uid: stat.uid ?? 0,
    gid: stat.gid ?? 0,
    size: BigInt(stat.size ?? 0),
    modTime: stat.modTime ?? 0n,
    linkname: stat.linkname ?? "",
    devmajor: stat.devmajor ?? 0,
    devminor: stat.devminor ?? 0,
  };
  if (stat.xattrs && Object.keys(stat.xattrs).length > 0) out.xattrs = new Map(Object.entries(stat.xattrs));
  return out;
}
