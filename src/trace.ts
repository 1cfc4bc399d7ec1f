import { appendFileSync } from "node:fs";

const traceFile = process.env.BREWKIT_TRACE;

/**
 * Appends `{event, at, sinceStart, cpuMs}` to the file named by BREWKIT_TRACE (a no-op
 * without it): wall-clock `at` (ms) lines up events across processes,
 * `sinceStart` is ms since this process started, `cpuMs` the CPU time (user and system,
 * every thread) the process has used so far, which a loaded machine does not inflate
 * as it does wall-clock times. The benchmark harness reads these.
 */
export function trace(event: string, detail: Record<string, unknown> = {}): void {
  if (!traceFile) return;
  // Not `performance`: loading it (ten modules) would be part of the start it measures.
  const sinceStart = process.uptime() * 1000;
  const cpu = process.cpuUsage();
  const record = { event, at: Date.now(), sinceStart, cpuMs: (cpu.user + cpu.system) / 1000, pid: process.pid, ...detail };
  appendFileSync(traceFile, `${JSON.stringify(record)}\n`);
}
