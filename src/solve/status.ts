import type { ControlClient } from "../client/control.ts";
import { BuildError, type ErrorContext } from "../errors.ts";
import { ProgressTracker, type ProgressEvent, type VertexState } from "../progress/index.ts";
import type { Moby_Buildkit_V1_StatusResponse as StatusResponse } from "../proto/generated.ts";

/** Who hears about a build's progress. */
export interface StatusListeners {
  /** Progress events, tagged with the job's name. */
  onEvent?: (job: string, event: ProgressEvent) => void;
  /** Every raw Status message, tagged with the job's name. */
  onStatus?: (job: string, message: StatusResponse) => void;
}

/**
 * Follows the Status stream of build `ref` (it may be opened before the Solve) into a
 * tracker and the listeners. `done` settles when the stream ends or is cancelled: the
 * build's own outcome is reported by its Solve.
 */
export function followStatus(control: ControlClient, ref: string, job: string, signal: AbortSignal, listeners: StatusListeners): { tracker: ProgressTracker; done: Promise<void> } {
  const tracker = new ProgressTracker();
  const emit = (events: ProgressEvent[]) => events.forEach((e) => listeners.onEvent?.(job, e));
  const done = (async () => {
    try {
      for await (const message of control.status(ref, signal)) {
        listeners.onStatus?.(job, message);
        emit(tracker.update(message));
      }
    } catch {
      // Cancelled with the build.
    }
    emit(tracker.flush());
  })();
  return { tracker, done };
}

/** The error of a failed step: which step of `subject`, its error, and the last lines it printed. */
export function stepFailedError(subject: string, failed: VertexState, cause: unknown, context: ErrorContext = {}): BuildError {
  const logs = failed.logTail.length ? `\n--- last output of the step ---\n${failed.logTail.join("\n")}` : "";
  return new BuildError("STEP_FAILED", `${subject}: step "${failed.name}" failed: ${failed.error}${logs}`, {
    context,
    hint: "fix the command or its inputs and run again",
    cause,
  });
}
