import { describe, expect, it } from "vitest";
import { ProgressTracker, plainRenderer } from "../../src/progress/index.ts";

const ts = (seconds: number) => ({ seconds, nanos: 0 });

describe("ProgressTracker", () => {
  it("emits one event per transition although the daemon repeats vertices", () => {
    const tracker = new ProgressTracker();
    const v = { digest: "sha256:a", name: "step" };
    expect(tracker.update({ vertexes: [v] })).toEqual([]);
    expect(tracker.update({ vertexes: [{ ...v, started: ts(1) }] }).map((e) => e.kind)).toEqual(["started"]);
    expect(tracker.update({ vertexes: [{ ...v, started: ts(1) }] })).toEqual([]);
    expect(tracker.update({ vertexes: [{ ...v, started: ts(1), completed: ts(2) }] }).map((e) => e.kind)).toEqual(["completed"]);
    expect(tracker.summary()).toEqual({ total: 1, completed: 1, cached: 0, errored: 0 });
  });

  it("joins log chunks that split lines and flushes the rest", () => {
    const tracker = new ProgressTracker();
    tracker.update({ vertexes: [{ digest: "d", name: "n", started: ts(1) }] });
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(tracker.update({ logs: [{ vertex: "d", stream: 1, msg: enc("hel") }] })).toEqual([]);
    const lines = tracker.update({ logs: [{ vertex: "d", stream: 1, msg: enc("lo\nwor") }] });
    expect(lines.map((e) => (e.kind === "log" ? e.line : ""))).toEqual(["hello"]);
    expect(tracker.flush().map((e) => (e.kind === "log" ? e.line : ""))).toEqual(["wor"]);
    expect(tracker.all[0]!.logTail).toEqual(["hello", "wor"]);
  });

  it("decodes a character whose bytes the daemon cut between two chunks", () => {
    const tracker = new ProgressTracker();
    tracker.update({ vertexes: [{ digest: "d", name: "n", started: ts(1) }] });
    const bytes = new TextEncoder().encode("café ✓\n");
    tracker.update({ logs: [{ vertex: "d", stream: 1, msg: bytes.subarray(0, 4) }] });
    tracker.update({ logs: [{ vertex: "d", stream: 2, msg: new TextEncoder().encode("other stream\n") }] });
    const lines = tracker.update({ logs: [{ vertex: "d", stream: 1, msg: bytes.subarray(4) }] });
    expect(lines.map((e) => (e.kind === "log" ? e.line : ""))).toEqual(["café ✓"]);
  });

  it("reports the failed step, not the ones cancelled because of it", () => {
    const tracker = new ProgressTracker();
    tracker.update({
      vertexes: [
        { digest: "a", name: "other", started: ts(1), completed: ts(2), error: "context canceled" },
        { digest: "b", name: "broken", started: ts(1), completed: ts(2), error: "exit code: 1" },
      ],
    });
    expect(tracker.failed()?.name).toBe("broken");
  });

  it("renders cached steps with their name", () => {
    const tracker = new ProgressTracker();
    const lines: string[] = [];
    const render = plainRenderer((l) => lines.push(l));
    tracker.update({ vertexes: [{ digest: "c", name: "copy", cached: true, started: ts(1), completed: ts(1) }] }).forEach((e) => render("app", e));
    expect(lines).toEqual(["#1 [app] copy", "#1 CACHED"]);
  });

  it("numbers steps across jobs, so two Solves never share a number", () => {
    const lines: string[] = [];
    const render = plainRenderer((l) => lines.push(l));
    for (const job of ["a", "b"]) {
      new ProgressTracker().update({ vertexes: [{ digest: "same", name: "[x] step", started: ts(1) }] }).forEach((e) => render(job, e));
    }
    expect(lines).toEqual(["#1 [x] step", "#2 [x] step"]);
  });
});
