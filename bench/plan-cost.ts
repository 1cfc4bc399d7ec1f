// Measures evaluate + plan + marshal of every target of a config, in a fresh process.
// Usage: tsx bench/plan-cost.ts <config file>; prints {"targets": n, "ms": total}.
import { performance } from "node:perf_hooks";
import { compileTarget } from "../src/compile/index.ts";
import { loadConfig } from "../src/config/index.ts";
import { createPlan } from "../src/plan/index.ts";

const started = performance.now();
const config = await loadConfig(process.argv[2]!);
const names = [...config.targets.keys()].filter((n) => n !== "default");
const plan = createPlan({ configFile: config.file, projectDir: config.projectDir, targets: config.targets, groups: config.groups, defaultName: config.defaultName, ignorePatterns: [] }, names);
for (const name of plan.requested) compileTarget(plan, name, { platform: { OS: "linux", Architecture: "amd64" }, runId: "bench" });
process.stdout.write(`${JSON.stringify({ targets: names.length, ms: performance.now() - started })}\n`);
