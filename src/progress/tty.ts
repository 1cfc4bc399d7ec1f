import type { ProgressEvent, VertexState } from "./tracker.ts";

/** Where the live view draws and how. */
export interface TtyOptions {
  write: (text: string) => void;
  /** Terminal width in columns. */
  columns: () => number;
  /** ANSI colors (off when NO_COLOR is set). */
  color: boolean;
  now?: () => number;
}

const spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const logLinesPerStep = 3;

interface Row {
  job: string;
  vertex: VertexState;
  logs: string[];
}

/**
 * A live view for terminals: every running step with its timer and its last log
 * lines, finished ones with ✔ or CACHED, redrawn in place. `finish()` leaves the
 * final state on screen.
 */
export class TtyRenderer {
  private readonly rows = new Map<string, Row>();
  private drawnLines = 0;
  private frame = 0;
  private finished = false;
  private readonly started: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: TtyOptions) {
    this.started = this.now();
    this.timer = setInterval(() => this.draw(), 120);
    this.timer.unref();
  }

  /** Feeds one event of a job. */
  readonly onEvent = (job: string, event: ProgressEvent): void => {
    const key = `${job}\0${event.vertex.digest}`;
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = { job, vertex: event.vertex, logs: [] }));
    if (event.kind === "log") {
      row.logs.push(event.line);
      if (row.logs.length > logLinesPerStep) row.logs.shift();
    }
  };

  /** Prints `line` above the live view, which is drawn again below it. */
  printAbove(line: string): void {
    const up = this.drawnLines > 0 ? `\u001b[${this.drawnLines}F\u001b[J` : "";
    this.options.write(`${up}${line}\n`);
    this.drawnLines = 0;
    this.draw(this.finished);
  }

  /** Stops redrawing and prints the final view. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.timer);
    this.draw(true);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private paint(code: string, text: string): string {
    return this.options.color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }

  private line(row: Row, final: boolean): string[] {
    const v = row.vertex;
    const name = v.name.startsWith("[") ? v.name : `[${row.job}] ${v.name}`;
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
    if (v.error) return [`${this.paint("31", "✖")} ${name} ${this.paint("31", "ERROR")}`, ...row.logs.map((l) => `    ${this.paint("2", l)}`)];
    if (v.cached) return [`${this.paint("34", "✔")} ${name} ${this.paint("34", "CACHED")}`];
    if (v.completed !== undefined) return [`${this.paint("32", "✔")} ${name} ${this.paint("2", seconds(Math.max(0, v.completed - (v.started ?? v.completed))))}`];
    if (v.started === undefined) return final ? [] : [`  ${this.paint("2", name)}`];
    const running = `${this.paint("33", spinner[this.frame % spinner.length]!)} ${name} ${seconds(this.now() - v.started)}`;
    return [running, ...(final ? [] : row.logs.map((l) => `    ${this.paint("2", l)}`))];
  }

  private draw(final = false): void {
    this.frame++;
    const width = Math.max(20, this.options.columns());
    const rows = [...this.rows.values()];
    const done = rows.filter((r) => r.vertex.completed !== undefined).length;
    const cached = rows.filter((r) => r.vertex.cached).length;
    const header = `${final ? "Built" : "Building"} ${((this.now() - this.started) / 1000).toFixed(1)}s (${done}/${rows.length} steps, ${cached} cached)`;
    const body = rows.flatMap((r) => this.line(r, final));
    // Lines are cut to the width so each takes exactly one terminal row when redrawn.
    const lines = [header, ...body].map((l) => cut(l, width));
    const up = this.drawnLines > 0 ? `\u001b[${this.drawnLines}F` : "";
    this.options.write(`${up}${lines.map((l) => `\u001b[2K${l}`).join("\n")}\n\u001b[J`);
    this.drawnLines = lines.length;
  }
}

/** Cuts `text` to `width` visible columns, keeping ANSI codes intact. */
function cut(text: string, width: number): string {
  let visible = 0;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\u001b") {
      const end = text.indexOf("m", i);
      out += text.slice(i, end + 1);
      i = end;
      continue;
    }
    if (visible >= width - 1) break;
    out += text[i];
    visible++;
  }
  return out;
}
