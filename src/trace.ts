import { appendFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const traceFile = process.env.BREWKIT_TRACE;

/**
 * Appends `{event, at, sinceStart}` to the file named by BREWKIT_TRACE (a no-op without
 * it): wall-clock `at` lines up events across processes, `sinceStart` is ms since this
 * process started. The benchmark harness reads these.
 */
export function trace(event: string, detail: Record<string, unknown> = {}): void {
  if (!traceFile) return;
  appendFileSync(traceFile, `${JSON.stringify({ event, at: Date.now(), sinceStart: performance.now(), pid: process.pid, ...detail })}\n`);
}
