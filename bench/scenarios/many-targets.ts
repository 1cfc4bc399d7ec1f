import path from "node:path";
import { manyTargetsConfig } from "../fixtures.ts";
import { summarize, type Summary } from "../stats.ts";
import { measure, repoRoot } from "../tools.ts";
import { project, type BenchSettings, type Row } from "./common.ts";

/** The goal for a config of 1,000 targets, from a cold process (issue 13). */
const goalMs = 200;

/**
 * Scenario 3: evaluate + plan + marshal of generated configs, to show the cost per target:
 * once right after the config changed (compiled anew: an empty config cache), once
 * unchanged (compiled form from the cache). Each row's note gives its ms per target and
 * how far it lies from the straight line fitted to the medians of all counts: small
 * residuals up to the largest count are the linear growth the goal asks for.
 */
export async function manyTargets(s: BenchSettings): Promise<Row[]> {
  const cases = [...s.targetCounts.map((count) => ({ count, commonJs: false })), { count: s.targetCounts.includes(1000) ? 1000 : s.targetCounts.at(-1)!, commonJs: true }];
  const homes = path.join(s.work, "plan-cost-homes");
  let fresh = 0;
  const planCost = async (config: string, home: string) => {
    const out = await measure(process.execPath, [path.join(repoRoot, "bench/plan-cost.mjs"), config], { cwd: repoRoot, env: { ...process.env, BREWKIT_HOME: home } });
    return (JSON.parse(out.stdout) as { ms: number }).ms;
  };
  const measured: Array<{ count: number; commonJs: boolean; when: string; summary: Summary }> = [];
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
    measured.push({ count, commonJs, when: "config changed: compiled", summary: summarize(compiled) });
    measured.push({ count, commonJs, when: "config unchanged: from the cache", summary: summarize(cached) });
  }
  return measured.map(({ count, commonJs, when, summary }) => {
    const line = fitOf(measured.filter((m) => !m.commonJs && m.when === when).map((m) => [m.count, m.summary.median]));
    const fit = line && !commonJs ? `; fit over ${s.targetCounts.join(", ")}: ${line.intercept.toFixed(0)} ms + ${line.slope.toFixed(3)} ms × targets, this count ${residual(line, count, summary.median)}` : "";
    return {
      scenario: `3. evaluate + plan + marshal, ${count} targets (${commonJs ? "CommonJS project" : "ES module project"}; ${when})`,
      brewkit: summary,
      unit: "ms" as const,
      goal: count === 1000 ? `< ${goalMs} ms` : "linear",
      met: count === 1000 ? summary.median < goalMs : undefined,
      note: `${(summary.median / count).toFixed(3)} ms per target${fit}`,
    };
  });
}

/** The least-squares line through `points` (count, ms); undefined for fewer than two counts. */
export function fitOf(points: Array<[number, number]>): { slope: number; intercept: number } | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxx = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  const sxy = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: meanY - slope * meanX };
}

function residual(line: { slope: number; intercept: number }, count: number, median: number): string {
  const predicted = line.intercept + line.slope * count;
  const percent = ((median - predicted) / predicted) * 100;
  return `${Math.abs(percent).toFixed(0)}% ${percent >= 0 ? "above" : "below"} the line`;
}
