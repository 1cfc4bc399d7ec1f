import type { ProgressEvent } from "./tracker.ts";

/** Writes one line per event, like a CI log. `label` tags the lines of one build. */
export function plainRenderer(write: (line: string) => void, label: string): (event: ProgressEvent) => void {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  // Cached steps arrive already completed; name them before their result.
  const announced = new Set<number>();
  const announce = (number: number, name: string) => {
    if (announced.has(number)) return;
    announced.add(number);
    write(`#${number} [${label}] ${name}`);
  };
  return (event) => {
    const v = event.vertex;
    const id = `#${v.number}`;
    switch (event.kind) {
      case "started":
        announce(v.number, v.name);
        break;
      case "completed":
        announce(v.number, v.name);
        if (v.error) write(`${id} ERROR: ${v.error}`);
        else if (v.cached) write(`${id} CACHED`);
        else write(`${id} DONE ${seconds((v.completed ?? 0) - (v.started ?? v.completed ?? 0))}`);
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
