import { TextDecoder } from "node:util";
import type {
  Google_Protobuf_Timestamp as Timestamp,
  Moby_Buildkit_V1_StatusResponse as StatusResponse,
} from "../proto/generated.ts";

/** The state of one build step, merged from the Status stream. */
export interface VertexState {
  digest: string;
  /** Position of first appearance, 1-based, for display. */
  number: number;
  name: string;
  inputs: string[];
  cached: boolean;
  /** Milliseconds since the epoch. */
  started?: number;
  completed?: number;
  error?: string;
  /** Last lines the step printed (stdout and stderr), bounded. */
  logTail: string[];
}

/** Something that changed, for a renderer to show. */
export type ProgressEvent =
  | { kind: "started"; vertex: VertexState }
  | { kind: "completed"; vertex: VertexState }
  | { kind: "log"; vertex: VertexState; stream: number; line: string }
  | { kind: "status"; vertex: VertexState; id: string; current: number; total: number; done: boolean };

/** Counts over a whole build. */
export interface ProgressSummary {
  total: number;
  completed: number;
  cached: number;
  errored: number;
}

const maxTailLines = 20;

/** The counts of a build's steps. */
export function summarize(vertices: readonly VertexState[]): ProgressSummary {
  return {
    total: vertices.length,
    completed: vertices.filter((v) => v.completed !== undefined && !v.error).length,
    cached: vertices.filter((v) => v.cached).length,
    errored: vertices.filter((v) => v.error).length,
  };
}

function millis(ts: Timestamp | undefined): number | undefined {
  if (!ts || (ts.seconds === undefined && ts.nanos === undefined)) return undefined;
  return (ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/**
 * Folds BuildKit's Status stream into per-step state. The daemon re-sends a vertex's
 * full state many times; only real transitions become events. Logs arrive as byte
 * chunks that may split lines, so they are buffered per vertex and stream.
 */
export class ProgressTracker {
  private readonly vertices = new Map<string, VertexState>();
  private readonly partial = new Map<string, string>();
  // One decoder per step and stream: a character cut between two chunks is decoded whole.
  private readonly decoders = new Map<string, TextDecoder>();

  /** Every step seen so far, in order of appearance. */
  get all(): VertexState[] {
    return [...this.vertices.values()];
  }

  /** Folds one Status message in; returns what changed. */
  update(message: StatusResponse): ProgressEvent[] {
    const events: ProgressEvent[] = [];
    for (const v of message.vertexes ?? []) {
      const digest = v.digest ?? "";
      let state = this.vertices.get(digest);
      if (!state) {
        state = { digest, number: this.vertices.size + 1, name: v.name ?? digest, inputs: v.inputs ?? [], cached: false, logTail: [] };
        this.vertices.set(digest, state);
      }
      const started = millis(v.started);
      const completed = millis(v.completed);
      const wasRunning = state.started !== undefined && state.completed === undefined;
      const wasDone = state.completed !== undefined;
      if (v.name) state.name = v.name;
      if (v.cached) state.cached = true;
      if (started !== undefined) state.started = started;
      if (completed !== undefined) state.completed = completed;
      if (v.error) state.error = v.error;
      if (started !== undefined && completed === undefined && !wasRunning) {
        state.completed = undefined;
        events.push({ kind: "started", vertex: state });
      } else if (completed !== undefined && !wasDone) {
        events.push({ kind: "completed", vertex: state });
      }
    }
    for (const s of message.statuses ?? []) {
      const state = this.vertices.get(s.vertex ?? "");
      if (state) events.push({ kind: "status", vertex: state, id: s.ID ?? "", current: s.current ?? 0, total: s.total ?? 0, done: s.completed !== undefined });
    }
    for (const log of message.logs ?? []) {
      const state = this.vertices.get(log.vertex ?? "");
      if (!state || !log.msg) continue;
      const stream = log.stream ?? 1;
      const key = `${state.digest}\0${stream}`;
      let decoder = this.decoders.get(key);
      if (!decoder) this.decoders.set(key, (decoder = new TextDecoder()));
      const text = (this.partial.get(key) ?? "") + decoder.decode(log.msg, { stream: true });
      const lines = text.split("\n");
      this.partial.set(key, lines.pop() ?? "");
      for (const line of lines) events.push(this.logLine(state, stream, line));
    }
    return events;
  }

  /** Emits any partial log lines left at the end of the stream. */
  flush(): ProgressEvent[] {
    const events: ProgressEvent[] = [];
    for (const [key, decoder] of this.decoders) this.partial.set(key, (this.partial.get(key) ?? "") + decoder.decode());
    this.decoders.clear();
    for (const [key, rest] of this.partial) {
      if (!rest) continue;
      const [digest, stream] = key.split("\0");
      const state = this.vertices.get(digest ?? "");
      if (state) events.push(this.logLine(state, Number(stream), rest));
    }
    this.partial.clear();
    return events;
  }

  /** Totals over every step seen. */
  summary(): ProgressSummary {
    return summarize(this.all);
  }

  /** The step that failed, if any (cancellations of other steps are not failures). */
  failed(): VertexState | undefined {
    return this.all.find((v) => v.error && !v.error.endsWith("context canceled"));
  }

  private logLine(state: VertexState, stream: number, line: string): ProgressEvent {
    state.logTail.push(line);
    if (state.logTail.length > maxTailLines) state.logTail.shift();
    return { kind: "log", vertex: state, stream, line };
  }
}
