import type { ProgressEvent } from "./tracker.ts";

/**
 * Writes one line per event, like a CI log. Steps are numbered across the whole run
 * (several Solves may interleave); steps not named after a target get the job's name.
 */
export function plainRenderer(write: (line: string) => void): (job: string, event: ProgressEvent) => void {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const numbers = new Map<string, number>();
  const numberOf = (job: string, digest: string, name: string): string => {
    const key = `${job}\0${digest}`;
    let n = numbers.get(key);
    if (n === undefined) {
      n = numbers.size + 1;
      numbers.set(key, n);
      // Cached steps arrive already completed: name every step when first seen.
      write(`#${n} ${name.startsWith("[") ? name : `[${job}] ${name}`}`);
    }
    return `#${n}`;
  };
  return (job, event) => {
    const v = event.vertex;
    const id = numberOf(job, v.digest, v.name);
    switch (event.kind) {
      case "started":
        break;
      case "completed":
        if (v.error) write(`${id} ERROR: ${v.error}`);
        else if (v.cached) write(`${id} CACHED`);
        else if (v.started !== undefined && v.completed !== undefined && v.completed >= v.started) write(`${id} DONE ${seconds(v.completed - v.started)}`);
        else write(`${id} DONE`);
        break;
      case "log":
        write(`${id} ${event.line}`);
        break;
      case "status":
        if (event.done && event.id) write(`${id} ${event.id} ${event.total ? `${event.current}/${event.total}` : event.current} done`);
        break;
    }
  };
}
