// Measures evaluate + plan + marshal of every target of a config, in a fresh process that
// runs brewkit's compiled stages as the CLI does (no TypeScript loader of its own): the
// config's text is read as `brewkit run` reads it, so every op records where it was written.
// Usage: node bench/plan-cost.mjs <config file>; prints {"targets": n, "ms": total}.
import { performance } from "node:perf_hooks";

const dist = (module) => new URL(`../dist/${module}`, import.meta.url).href;
const { compileTarget } = await import(dist("compile/index.js"));
const { loadConfig } = await import(dist("config/index.js"));
const { createPlan } = await import(dist("plan/index.js"));
const { readConfigSources } = await import(dist("build/config-sources.js"));

const started = performance.now();
const config = await loadConfig(process.argv[2]);
const names = [...config.targets.keys()].filter((n) => n !== "default");
const plan = createPlan({ configFile: config.file, projectDir: config.projectDir, targets: config.targets, groups: config.groups, defaultName: config.defaultName, ignorePatterns: [] }, names);
// One options object for the whole plan, as `brewkit run` compiles it.
const options = { platform: { OS: "linux", Architecture: "amd64" }, runId: "bench", configSources: readConfigSources(plan) };
for (const name of plan.requested) compileTarget(plan, name, options);
process.stdout.write(`${JSON.stringify({ targets: names.length, ms: performance.now() - started })}\n`);
