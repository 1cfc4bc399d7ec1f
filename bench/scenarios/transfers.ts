import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateContext } from "../fixtures.ts";
import type { Measured } from "../tools.ts";
import { alternate, brewkit, buildctl, definitionFor, hangNote, mib, ms, notes, project, prune, startNote, type BenchSettings, type Row } from "./common.ts";

/** Scenarios 1, 5 and 6: context upload (cold, warm, one file changed), memory, artifact export. */
export async function uploadAndExport(s: BenchSettings): Promise<Row[]> {
  const dir = path.join(s.work, "upload");
  const fixture = generateContext(path.join(dir, "ctx"), s.files, s.bytes);
  project(dir, `import { target, scratch } from "brewkit";
export const up = target({ from: scratch, copy: "ctx" });
export const ex = target({ from: scratch, copy: "ctx", output: { artifact: "/ctx", local: "exported" } });
`);
  const size = `${s.files.toLocaleString("en")} files / ${Math.round(fixture.bytes / 2 ** 20)} MiB`;
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
  const ratioGoal = (b: Measured[], c: Measured[]) => ms(b).median / ms(c).median <= 1.0;
  return [
    { scenario: `1. upload, cold (${size})`, brewkit: ms(cold.brewkit), buildctl: ms(cold.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ratioGoal(cold.brewkit, cold.buildctl), note: notes(startNote(traces.cold), hangNote(cold)) },
    { scenario: "1. upload, warm (nothing changed)", brewkit: ms(warm.brewkit), buildctl: ms(warm.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ratioGoal(warm.brewkit, warm.buildctl), note: notes(startNote(traces.warm), hangNote(warm)) },
    { scenario: "1. upload, one file changed", brewkit: ms(changed.brewkit), buildctl: ms(changed.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ratioGoal(changed.brewkit, changed.buildctl), note: notes(startNote(traces.changed), hangNote(changed)) },
    { scenario: `5. peak RSS, cold upload (${size})`, brewkit: mib(cold.brewkit), buildctl: mib(cold.buildctl), unit: "MiB", goal: "brewkit < 150 MiB", met: mib(cold.brewkit).max < 150 },
    { scenario: `5. peak RSS, export (${size})`, brewkit: mib(exported.brewkit), buildctl: mib(exported.buildctl), unit: "MiB", goal: "brewkit < 150 MiB", met: mib(exported.brewkit).max < 150 },
    { scenario: `6. artifact export (${size})`, brewkit: ms(exported.brewkit), buildctl: ms(exported.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ratioGoal(exported.brewkit, exported.buildctl), note: notes(startNote(traces.exported), hangNote(exported)) },
  ];
}
