// Measures evaluate + plan + marshal of every target of a config, in a fresh process that
// runs brewkit's compiled stages as the CLI does (no TypeScript loader of its own).
// Usage: node bench/plan-cost.mjs <config file>; prints {"targets": n, "ms": total}.
import { performance } from "node:perf_hooks";

const dist = (stage) => new URL(`../dist/${stage}/index.js`, import.meta.url).href;
const { compileTarget } = await import(dist("compile"));
const { loadConfig } = await import(dist("config"));
const { createPlan } = await import(dist("plan"));

const started = performance.now();
const config = await loadConfig(process.argv[2]);
const names = [...config.targets.keys()].filter((n) => n !== "default");
const plan = createPlan({ configFile: config.file, projectDir: config.projectDir, targets: config.targets, groups: config.groups, defaultName: config.defaultName, ignorePatterns: [] }, names);
// One options object for the whole plan, as `brewkit run` compiles it.
const options = { platform: { OS: "linux", Architecture: "amd64" }, runId: "bench" };
for (const name of plan.requested) compileTarget(plan, name, options);
process.stdout.write(`${JSON.stringify({ targets: names.length, ms: performance.now() - started })}\n`);
