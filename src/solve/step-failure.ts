import { errorDetailsOf, type DaemonErrorDetails } from "../client/error-details.ts";
import { StepFailedError, type ConfigLocation } from "../errors.ts";
import type { ProgressTracker, VertexState } from "../progress/index.ts";
import type { Pb_Definition, Pb_Op } from "../proto/generated.ts";
import { codecFor } from "../proto/registry.ts";

/** What a step failure is made from: the daemon's error, the build's progress and its definition. */
export interface FailedStepSources {
  /** The target (or build) name. */
  target: string;
  /** How the message names what failed; `target "<name>"` when unset. */
  subject?: string;
  /** The daemon's error (a failed Solve or gateway call). */
  error: unknown;
  /** The build's progress: the failed step's name and last output lines. */
  tracker: ProgressTracker;
  /** The definition that was solved, to find the failed op's command by digest. */
  definition?: Pb_Definition & { digests?: string[] };
  /** The failed step when the daemon's details name none (a daemon that sends no details). */
  fallback?: VertexState;
}

/**
 * The structured error of a failed step, from the daemon's typed error details: the
 * failed op (vertex digest), where the config wrote it (`Definition.Source`), the exit
 * code; the step's name and last lines from the progress it streamed. Undefined when
 * no step failed (the daemon reported no vertex and progress showed no failed step).
 */
export function failedStep(sources: FailedStepSources): StepFailedError | undefined {
  const details = errorDetailsOf(sources.error);
  const named = details?.vertex ? sources.tracker.all.find((v) => v.digest === details.vertex) : undefined;
  const vertex = named ?? sources.fallback;
  if (!vertex && !details?.vertex) return undefined;
  const op = details?.solve?.op ?? opOf(sources.definition, details?.vertex ?? vertex?.digest);
  const args = op?.exec?.meta?.args;
  const location = locationOf(details);
  const reason = vertex?.error ?? details?.message ?? (sources.error instanceof Error ? sources.error.message : String(sources.error));
  return new StepFailedError(
    {
      target: sources.target,
      step: vertex?.name ?? details?.solve?.description["llb.customname"] ?? details?.vertex ?? "?",
      ...(args && args.length > 0 ? { command: args } : {}),
      ...(details?.exitCode !== undefined ? { exitCode: details.exitCode } : {}),
      reason,
      lastLines: vertex?.logTail ?? [],
      ...(location ? { location } : {}),
    },
    { subject: sources.subject, cause: sources.error },
  );
}

function locationOf(details: DaemonErrorDetails | undefined): ConfigLocation | undefined {
  const source = details?.sources[0];
  return source ? { file: source.filename, line: source.line, endLine: source.endLine } : undefined;
}

function opOf(definition: FailedStepSources["definition"], digest: string | undefined): Pb_Op | undefined {
  const index = digest && definition?.digests ? definition.digests.indexOf(digest) : -1;
  const bytes = index >= 0 ? definition?.def?.[index] : undefined;
  return bytes ? codecFor<Pb_Op>("pb.Op").decode(bytes) : undefined;
}
