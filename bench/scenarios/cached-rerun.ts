import path from "node:path";
import { manyTargetsConfig } from "../fixtures.ts";
import { summarize } from "../stats.ts";
import { alternate, brewkit, buildctl, definitionFor, hangNote, ms, notes, project, startNote, startTimes, type BenchSettings, type Row } from "./common.ts";

/** Scenario 2: a fully cached re-run of 10 targets, and brewkit's own start-up. */
export async function cachedRerun(s: BenchSettings): Promise<Row[]> {
  const dir = path.join(s.work, "cached");
  project(dir, manyTargetsConfig(10));
  const names = Array.from({ length: 10 }, (_, i) => `t${i}`);
  await brewkit(s, dir, ["run", "all"]);
  const defs = await Promise.all(names.map((n) => definitionFor(s, dir, n)));
  const traceFile = path.join(dir, "trace.jsonl");
  const runs = await alternate(s, {
    brewkit: () => brewkit(s, dir, ["run", "all"], { BREWKIT_TRACE: traceFile }),
    // buildctl builds one definition per process: the ten run side by side, like brewkit's ten Solves.
    buildctl: async () => {
      const started = performance.now();
      const each = await Promise.all(defs.map((d) => buildctl(s, dir, ["build", ...d.locals], d.file)));
      return { ms: performance.now() - started, rssKiB: Math.max(...each.map((e) => e.rssKiB)), stdout: "", stdoutBytes: Buffer.alloc(0), stderr: "" };
    },
  });
  const start = summarize(startTimes(traceFile));
  return [
    { scenario: "2. fully cached re-run, 10 targets", brewkit: ms(runs.brewkit), buildctl: ms(runs.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ms(runs.brewkit).median / ms(runs.buildctl).median <= 1.0, note: notes(startNote(traceFile), hangNote(runs)) },
    { scenario: "2. brewkit start: process start → first Solve sent (config evaluated, planned, compiled)", brewkit: start, unit: "ms", goal: "< 250 ms", met: start.median < 250 },
  ];
}
