import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateContext } from "../fixtures.ts";
import { summarize } from "../stats.ts";
import type { Measured } from "../tools.ts";
import { alternate, brewkit, buildctl, definitionFor, hangNote, mib, ms, notes, project, prune, startNote, type BenchSettings, type Row } from "./common.ts";

/** One size of the transfer scenarios, with the ratio each row must meet (brewkit / buildctl). */
interface TransferSize {
  files: number;
  bytes: number;
  goals: { cold: number; warm: number; changed: number; exported: number };
}

// What a developer moves on every save and run: the goals for the small end.
const small: TransferSize = { files: 2_000, bytes: 20 * 2 ** 20, goals: { cold: 1.0, warm: 1.3, changed: 1.2, exported: 1.2 } };

/**
 * Scenarios 1, 5 and 6: context upload (cold, warm, one file changed), memory, artifact
 * export, at 2,000 files / 20 MiB and, when the run's size is larger (the full bench), at
 * that size too, each with its goals.
 */
export async function uploadAndExport(s: BenchSettings): Promise<Row[]> {
  const sizes = [small];
  if (s.files !== small.files || s.bytes !== small.bytes) sizes.push({ files: s.files, bytes: s.bytes, goals: { cold: 1.0, warm: 1.0, changed: 1.0, exported: 1.0 } });
  const rows: Row[] = [];
  for (const size of sizes) rows.push(...(await transfersAt(s, size)));
  return rows;
}

/**
 * A note giving how long brewkit spent between two of its trace events in each run
 * (median): e.g. from the daemon's request for the context to the last file it asked for.
 */
function spanNote(traceFile: string, from: string, to: string, label: string): string | undefined {
  const starts = new Map<number, number>();
  const spans: number[] = [];
  for (const line of readFileSync(traceFile, "utf8").split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as { event: string; sinceStart: number; pid: number };
    if (e.event === from && !starts.has(e.pid)) starts.set(e.pid, e.sinceStart);
    if (e.event === to && starts.has(e.pid)) spans.push(e.sinceStart - starts.get(e.pid)!);
  }
  return spans.length > 0 ? `${label} ${Math.round(summarize(spans).median)} ms` : undefined;
}

async function transfersAt(s: BenchSettings, at: TransferSize): Promise<Row[]> {
  const dir = path.join(s.work, `upload-${at.files}`);
  const fixture = generateContext(path.join(dir, "ctx"), at.files, at.bytes);
  project(dir, `import { target, scratch } from "brewkit";
export const up = target({ from: scratch, copy: "ctx" });
export const ex = target({ from: scratch, copy: "ctx", output: { artifact: "/ctx", local: "exported" } });
`);
  const size = `${at.files.toLocaleString("en")} files / ${Math.round(fixture.bytes / 2 ** 20)} MiB`;
  const up = await definitionFor(s, dir, "up");
  const trace = (name: string) => {
    const file = path.join(dir, `${name}.trace.jsonl`);
    writeFileSync(file, "");
    return file;
  };
  const traces = { cold: trace("cold"), warm: trace("warm"), changed: trace("changed"), exported: trace("exported") };
  let phase: keyof typeof traces = "cold";
  const upload = {
    brewkit: () => brewkit(s, dir, ["run", "up"], { BREWKIT_TRACE: traces[phase] }),
    buildctl: () => buildctl(s, dir, ["build", ...up.locals], up.file),
  };
  const cold = await alternate(s, { ...upload, before: () => prune(s, dir) });
  phase = "warm";
  const warm = await alternate(s, upload);
  phase = "changed";
  let edit = 0;
  const changed = await alternate(s, { ...upload, before: async () => writeFileSync(fixture.sample, `edit ${edit++}\n`) });

  const ex = await definitionFor(s, dir, "ex");
  await brewkit(s, dir, ["run", "ex"]);
  const exported = await alternate(s, {
    brewkit: () => brewkit(s, dir, ["run", "ex"], { BREWKIT_TRACE: traces.exported }),
    buildctl: () => buildctl(s, dir, ["build", ...ex.locals, "--output", `type=local,dest=${path.join(dir, "exported-buildctl")}`], ex.file),
    before: async () => {
      rmSync(path.join(dir, "exported"), { recursive: true, force: true });
      rmSync(path.join(dir, "exported-buildctl"), { recursive: true, force: true });
    },
  });
  const ratioGoal = (b: Measured[], c: Measured[], goal: number) => ms(b).median / ms(c).median <= goal;
  const g = at.goals;
  return [
    { scenario: `1. upload, cold (${size})`, brewkit: ms(cold.brewkit), buildctl: ms(cold.buildctl), unit: "ms", goal: `ratio ≤ ${g.cold.toFixed(1)}`, met: ratioGoal(cold.brewkit, cold.buildctl, g.cold), note: notes(startNote(traces.cold), hangNote(cold)) },
    { scenario: `1. upload, warm (nothing changed, ${size})`, brewkit: ms(warm.brewkit), buildctl: ms(warm.buildctl), unit: "ms", goal: `ratio ≤ ${g.warm.toFixed(1)}`, met: ratioGoal(warm.brewkit, warm.buildctl, g.warm), note: notes(startNote(traces.warm), spanNote(traces.warm, "upload-start", "upload-done", "upload"), hangNote(warm)) },
    { scenario: `1. upload, one file changed (${size})`, brewkit: ms(changed.brewkit), buildctl: ms(changed.buildctl), unit: "ms", goal: `ratio ≤ ${g.changed.toFixed(1)}`, met: ratioGoal(changed.brewkit, changed.buildctl, g.changed), note: notes(startNote(traces.changed), spanNote(traces.changed, "upload-start", "upload-done", "upload"), hangNote(changed)) },
    { scenario: `5. peak RSS, cold upload (${size})`, brewkit: mib(cold.brewkit), buildctl: mib(cold.buildctl), unit: "MiB", goal: "brewkit < 150 MiB", met: mib(cold.brewkit).max < 150 },
    { scenario: `5. peak RSS, export (${size})`, brewkit: mib(exported.brewkit), buildctl: mib(exported.buildctl), unit: "MiB", goal: "brewkit < 150 MiB", met: mib(exported.brewkit).max < 150 },
    { scenario: `6. artifact export (${size})`, brewkit: ms(exported.brewkit), buildctl: ms(exported.buildctl), unit: "ms", goal: `ratio ≤ ${g.exported.toFixed(1)}`, met: ratioGoal(exported.brewkit, exported.buildctl, g.exported), note: notes(startNote(traces.exported), spanNote(traces.exported, "export-start", "export-done", "export"), hangNote(exported)) },
  ];
}
