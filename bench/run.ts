// The benchmark harness: brewkit side by side with buildctl on one daemon.
// `npm run bench` writes bench/RESULTS.md; `npm run bench -- --smoke` is a small, quick run.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LocalDaemon } from "../src/daemon/local-daemon.ts";
import { daemonPaths, defaultDaemonPaths } from "../src/daemon/paths.ts";
import { startRegistry } from "../test/support/registry.ts";
import { cachedRerun, editLoop, imagesAndCache, manyTargets, rootlessAgainstRootful, startAgainstNode, uploadAndExport, watchLatency, type BenchSettings, type Row } from "./scenarios/index.ts";
import { formatMs, type Summary } from "./stats.ts";
import { repoRoot } from "./tools.ts";

const smoke = process.argv.includes("--smoke");
// `--only <scenario>` runs one scenario (by its function's name, e.g. imagesAndCache), for working on it.
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const work = mkdtempSync("/tmp/brewkit-bench-");
const binDir = defaultDaemonPaths().binDir;
const daemon = new LocalDaemon(daemonPaths(path.join(work, "daemon"), binDir));
const secondDaemon = new LocalDaemon(daemonPaths(path.join(work, "daemon-b"), binDir));
const registryDir = path.join(work, "registry");

function cell(s: Summary | undefined, unit: Row["unit"]): string {
  if (!s) return "—";
  const f = (v: number) => (unit === "ms" ? formatMs(v) : `${v.toFixed(0)} MiB`);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function report(rows: Row[], settings: BenchSettings, startedAt: Date): string {
  const lines = [
    "# Benchmark results",
    "",
    `Run with \`npm run bench\`${smoke ? " -- --smoke" : ""} on ${startedAt.toISOString().slice(0, 10)}: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, BuildKit from go.mod. brewkit and buildctl run alternately on the same daemon, on the same LLB (\`brewkit definition --format pb\` piped to \`buildctl build\`); ${settings.samples} samples each; median (min–max).`,
    "",
    "| scenario | brewkit | buildctl | ratio | goal | met |",
    "|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const ratio = r.buildctl ? (r.brewkit.median / r.buildctl.median).toFixed(2) : "—";
    const met = r.met === undefined ? "—" : r.met ? "yes" : "**no**";
    lines.push(`| ${r.scenario}${r.note ? ` (${r.note})` : ""} | ${cell(r.brewkit, r.unit)} | ${cell(r.buildctl, r.unit)} | ${ratio} | ${r.goal} | ${met} |`);
  }
  return `${lines.join("\n")}\n`;
}

const startedAt = new Date();
let registry: Awaited<ReturnType<typeof startRegistry>> | undefined;
try {
  registry = await startRegistry({ dir: registryDir });
  await daemon.start({ timeoutMs: 60_000 });
  await secondDaemon.start({ timeoutMs: 60_000 });
  const storage = path.join(registryDir, "storage");
  const settings: BenchSettings = {
    work,
    daemonAddress: daemon.address,
    buildctl: path.join(binDir, "buildctl"),
    samples: smoke ? 2 : 5,
    files: smoke ? 2_000 : 20_000,
    bytes: smoke ? 20 * 2 ** 20 : 300 * 2 ** 20,
    targetCounts: smoke ? [50, 100] : [250, 500, 1000, 2000, 10_000],
    saves: smoke ? 10 : 50,
    registry: registry.address,
    // The registry keeps no cache of its own: emptying its storage empties it.
    emptyRegistry: async () => rmSync(storage, { recursive: true, force: true }),
    secondDaemonAddress: secondDaemon.address,
    pushBytes: smoke ? 20 * 2 ** 20 : 300 * 2 ** 20,
    expensiveSeconds: smoke ? 1 : 5,
  };
  const rows: Row[] = [];
  for (const scenario of [uploadAndExport, cachedRerun, startAgainstNode, manyTargets, watchLatency, editLoop, imagesAndCache, rootlessAgainstRootful].filter((f) => !only || f.name === only)) {
    process.stderr.write(`bench: ${scenario.name}…\n`);
    rows.push(...(await scenario(settings)));
  }
  const text = report(rows, settings, startedAt);
  process.stdout.write(text);
  // What bounds the figures (written by hand from profiles) follows the measured table.
  const analysis = path.join(repoRoot, "bench/analysis.md");
  if (!smoke && !only) writeFileSync(path.join(repoRoot, "bench/RESULTS.md"), existsSync(analysis) ? `${text}\n${readFileSync(analysis, "utf8")}` : text);
} finally {
  await daemon.stop();
  await secondDaemon.stop();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
}
