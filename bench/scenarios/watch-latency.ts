import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { summarize } from "../stats.ts";
import { brewkitBin } from "../tools.ts";
import { env, project, type BenchSettings, type Row } from "./common.ts";

/** Scenario 4: file save → Solve request sent, in watch mode. */
export async function watchLatency(s: BenchSettings): Promise<Row[]> {
  const dir = path.join(s.work, "watch");
  mkdirSync(path.join(dir, "src"), { recursive: true });
  writeFileSync(path.join(dir, "src", "file.txt"), "0\n");
  project(dir, `import { target, scratch } from "brewkit";\nexport const w = target({ from: scratch, copy: "src" });\n`);
  const traceFile = path.join(dir, "trace.jsonl");
  writeFileSync(traceFile, "");
  const child = spawn(process.execPath, [brewkitBin, "watch", "w", "--progress", "quiet"], { cwd: dir, env: env(s, { BREWKIT_TRACE: traceFile }), stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const builds = () => (stderr.match(/✔ w:/g) ?? []).length;
  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 60_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`watch: timed out waiting for ${what}:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const solvesAfter = (t: number) => readFileSync(traceFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { event: string; at: number }).filter((e) => e.event === "solve-sent" && e.at >= t);
  try {
    await until(() => builds() >= 1 && /watching/.test(stderr), "the first build");
    const latencies: number[] = [];
    for (let i = 1; i <= s.saves; i++) {
      const before = builds();
      const saved = Date.now();
      writeFileSync(path.join(dir, "src", "file.txt"), `${i}\n`);
      await until(() => solvesAfter(saved).length > 0, "a Solve after a save");
      latencies.push(solvesAfter(saved)[0]!.at - saved);
      await until(() => builds() > before, "the rebuild to finish");
    }
    const summary = summarize(latencies);
    return [{ scenario: `4. watch: save → Solve request sent (p95 of ${s.saves} saves)`, brewkit: summary, unit: "ms", goal: "p95 < 200 ms", met: summary.p95 < 200, note: `p95 ${Math.round(summary.p95)} ms, debounce 10 ms included` }];
  } finally {
    child.kill("SIGINT");
  }
}
