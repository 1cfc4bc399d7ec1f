import { appendFileSync } from "node:fs";

const traceFile = process.env.BREWKIT_TRACE;
// The global `performance`, not node:perf_hooks: Node loads it (and its ten modules) on first use, so only when tracing.

/**
 * Appends `{event, at, sinceStart, cpuMs}` to the file named by BREWKIT_TRACE (a no-op
 * without it): wall-clock `at` (ms, with fractions) lines up events across processes,
 * `sinceStart` is ms since this process started, `cpuMs` the CPU time (user and system,
 * every thread) the process has used so far, which a loaded machine does not inflate
 * as it does wall-clock times. The benchmark harness reads these.
 */
export function trace(event: string, detail: Record<string, unknown> = {}): void {
  if (!traceFile) return;
  const now = performance.now();
  const cpu = process.cpuUsage();
  const record = { event, at: performance.timeOrigin + now, sinceStart: now, cpuMs: (cpu.user + cpu.system) / 1000, pid: process.pid, ...detail };
  appendFileSync(traceFile, `${JSON.stringify(record)}\n`);
}
