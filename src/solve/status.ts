import { setTimeout as sleep } from "node:timers/promises";
import type { ControlClient } from "../client/control.ts";
import { ProtocolError } from "../errors.ts";
import { ProgressTracker, StatusRedactor, type ProgressEvent, type VertexState } from "../progress/index.ts";
import type { Google_Protobuf_Timestamp as Timestamp, Moby_Buildkit_V1_StatusResponse as StatusResponse } from "../proto/generated.ts";
import type { Redactor } from "../secrets/index.ts";

/** Who hears about a build's progress, and what they must not see. */
export interface StatusListeners {
  /** Progress events, tagged with the job's name. */
  onEvent?: (job: string, event: ProgressEvent) => void;
  /** Every Status message (secret values hidden when there is a redactor), tagged with the job's name. */
  onStatus?: (job: string, message: StatusResponse) => void;
  /** Something the user should know that does not stop the build (the message names the job). */
  onWarning?: (message: string) => void;
  /** Hides secret values in everything the stream carries, before the tracker and the listeners see it. */
  redactor?: Redactor;
}

// Times the Status stream of one build is opened again after it broke, and how long to
// wait before each (the daemon may be restarting its listener).
const maxReconnects = 3;
const reconnectDelayMs = 250;

/**
 * Follows the Status stream of build `ref` (it may be opened before the Solve) into a
 * tracker and the listeners. When the stream breaks while the build goes on, a warning
 * names the job and the stream is opened again: the daemon sends the steps' states
 * anew (the whole record once the build ended), so the final state is not lost; log
 * chunks already shown are left out. A message that cannot be read stops the progress
 * at once, with a warning that says why (it would come again). `done` settles when the stream ends, is
 * cancelled, or cannot be opened again: the build's own outcome is reported by its Solve.
 */
export function followStatus(control: ControlClient, ref: string, job: string, signal: AbortSignal, listeners: StatusListeners): { tracker: ProgressTracker; done: Promise<void> } {
  const tracker = new ProgressTracker();
  const redaction = listeners.redactor ? new StatusRedactor(listeners.redactor) : undefined;
  const shown = new ShownLogs();
  const deliver = (message: StatusResponse) => {
    listeners.onStatus?.(job, message);
    for (const event of tracker.update(message)) listeners.onEvent?.(job, event);
  };
  const done = (async () => {
    for (let reconnects = 0; ; reconnects++) {
      try {
        for await (const message of control.status(ref, signal)) {
          const fresh = shown.filter(message, reconnects > 0);
          deliver(redaction ? redaction.redact(fresh) : fresh);
        }
        break;
      } catch (err) {
        if (signal.aborted) break;
        const reason = err instanceof Error ? err.message : String(err);
        // A message brewkit cannot read comes again on a reopened stream: say so once.
        if (err instanceof ProtocolError) {
          listeners.onWarning?.(`progress of ${job} stopped: ${reason}; the build goes on, and its outcome is reported when it ends`);
          break;
        }
        if (reconnects >= maxReconnects) {
          listeners.onWarning?.(`progress of ${job} stopped: ${reason}; the build goes on, and its outcome is reported when it ends`);
          break;
        }
        listeners.onWarning?.(`progress of ${job} was interrupted (${reason}); reconnecting`);
        const waited = await sleep(reconnectDelayMs * (reconnects + 1), true, { signal, ref: false }).catch(() => false);
        if (!waited) break;
      }
    }
    const rest = redaction?.flush();
    if (rest) deliver(rest);
    for (const event of tracker.flush()) listeners.onEvent?.(job, event);
  })();
  return { tracker, done };
}

/**
 * The newest log chunk seen per step and stream. A reopened Status stream sends output
 * again (all of it once the build ended); chunks not newer than what was seen are dropped.
 */
class ShownLogs {
  private readonly newest = new Map<string, Timestamp>();

  /** `message`, without the log chunks seen before when `reopened`; records the newest of the rest. */
  filter(message: StatusResponse, reopened: boolean): StatusResponse {
    const logs = message.logs?.filter((log) => {
      const key = `${log.vertex ?? ""}\0${log.stream ?? 1}`;
      const seen = this.newest.get(key);
      const at = log.timestamp ?? {};
      if (reopened && seen !== undefined && !isLater(at, seen)) return false;
      if (seen === undefined || isLater(at, seen)) this.newest.set(key, at);
      return true;
    });
    return logs === undefined || logs.length === message.logs?.length ? message : { ...message, logs };
  }
}

function isLater(a: Timestamp, b: Timestamp): boolean {
  const [as, bs] = [a.seconds ?? 0, b.seconds ?? 0];
  return as !== bs ? as > bs : (a.nanos ?? 0) > (b.nanos ?? 0);
}
