// Measures evaluate + plan + marshal of every target of a config, in a fresh process.
// Usage: tsx bench/plan-cost.ts <config file>; prints {"targets": n, "ms": total}.
import { performance } from "node:perf_hooks";

// The compiled stages, as `brewkit` runs them (the build writes dist/ before a bench).
const dist = (stage: string) => new URL(`../dist/${stage}/index.js`, import.meta.url).href;
const { compileTarget } = (await import(dist("compile"))) as typeof import("../src/compile/index.ts");
const { loadConfig } = (await import(dist("config"))) as typeof import("../src/config/index.ts");
const { createPlan } = (await import(dist("plan"))) as typeof import("../src/plan/index.ts");

const started = performance.now();
const config = await loadConfig(process.argv[2]!);
const names = [...config.targets.keys()].filter((n) => n !== "default");
const plan = createPlan({ configFile: config.file, projectDir: config.projectDir, targets: config.targets, groups: config.groups, defaultName: config.defaultName, ignorePatterns: [] }, names);
for (const name of plan.requested) compileTarget(plan, name, { platform: { OS: "linux", Architecture: "amd64" }, runId: "bench" });
process.stdout.write(`${JSON.stringify({ targets: names.length, ms: performance.now() - started })}\n`);
