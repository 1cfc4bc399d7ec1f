import path from "node:path";
import { manyTargetsConfig } from "../fixtures.ts";
import { summarize } from "../stats.ts";
import { measure, repoRoot } from "../tools.ts";
import { project, type BenchSettings, type Row } from "./common.ts";

/**
 * Scenario 3: evaluate + plan + marshal of generated configs, to show the cost per target:
 * once right after the config changed (compiled anew: an empty config cache), once
 * unchanged (compiled form from the cache).
 */
export async function manyTargets(s: BenchSettings): Promise<Row[]> {
  const rows: Row[] = [];
  const cases = [...s.targetCounts.map((count) => ({ count, commonJs: false })), { count: s.targetCounts.includes(1000) ? 1000 : s.targetCounts.at(-1)!, commonJs: true }];
  const homes = path.join(s.work, "plan-cost-homes");
  let fresh = 0;
  const planCost = async (config: string, home: string) => {
    const out = await measure(process.execPath, [path.join(repoRoot, "bench/plan-cost.mjs"), config], { cwd: repoRoot, env: { ...process.env, BREWKIT_HOME: home } });
    return (JSON.parse(out.stdout) as { ms: number }).ms;
  };
  for (const { count, commonJs } of cases) {
    const dir = path.join(s.work, `targets-${count}${commonJs ? "-cjs" : ""}`);
    project(dir, manyTargetsConfig(count), commonJs);
    const config = path.join(dir, "brewkit.config.ts");
    const cachedHome = path.join(homes, `cached-${count}${commonJs ? "-cjs" : ""}`);
    await planCost(config, cachedHome);
    const compiled: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < s.samples; i++) {
      compiled.push(await planCost(config, path.join(homes, `fresh-${fresh++}`)));
      cached.push(await planCost(config, cachedHome));
    }
    const kind = commonJs ? "CommonJS project" : "ES module project";
    for (const [when, samples] of [["config changed: compiled", compiled], ["config unchanged: from the cache", cached]] as const) {
      const summary = summarize(samples);
      rows.push({
        scenario: `3. evaluate + plan + marshal, ${count} targets (${kind}; ${when})`,
        brewkit: summary,
        unit: "ms",
        goal: count === 1000 ? "< 300 ms" : "linear",
        met: count === 1000 ? summary.median < 300 : undefined,
        note: `${(summary.median / count).toFixed(3)} ms per target`,
      });
    }
  }
  return rows;
}
