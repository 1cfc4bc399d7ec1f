import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { summarize, type Summary } from "../stats.ts";
import { brewkitBin } from "../tools.ts";
import { definitionFor, env, project, type BenchSettings, type Row } from "./common.ts";

// One step on a busybox base: copy src/, write the artifact from the copied file.
const config = `import { target, scratch } from "brewkit";
export const base = target({ from: scratch, copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" }, command: ["/bin/busybox", "--install", "-s", "/bin"] });
export const app = target({ from: base, copy: "src", command: "mkdir -p /out && cat /src/file.txt > /out/a", output: { artifact: "/out", local: "out" } });
`;

/**
 * The fastest loop a user could build from buildctl: a long-lived watcher that runs
 * `buildctl build` with the same LLB and a local export on every change. Events of one
 * tick are coalesced (no debounce beyond that: waiting costs this loop more than an
 * occasional extra build); a change during a build runs one more build after it.
 */
const buildctlWatcher = `import { spawn } from "node:child_process";
import { openSync, watch } from "node:fs";
const [buildctl, addr, def, dest, dir, ...locals] = process.argv.slice(2);
let building = false, dirty = false, kicked = false;
const run = () => {
  building = true;
  dirty = false;
  const child = spawn(buildctl, ["--addr", addr, "build", ...locals, "--output", "type=local,dest=" + dest], { stdio: [openSync(def, "r"), "ignore", "inherit"] });
  child.on("close", (code) => {
    building = false;
    if (code !== 0) process.stdout.write("failed " + code + "\\n");
    if (dirty) run();
    else process.stdout.write("idle\\n");
  });
};
watch(dir, () => {
  if (building) dirty = true;
  else if (!kicked) {
    kicked = true;
    setImmediate(() => {
      kicked = false;
      if (building) dirty = true;
      else run();
    });
  }
});
process.stdout.write("ready\\n");
`;

/** A child process whose output can be awaited. */
class Watched {
  output = "";
  private readonly wakers = new Set<() => void>();
  constructor(readonly child: ChildProcess, what: string) {
    const take = (d: Buffer) => {
      this.output += d;
      for (const w of [...this.wakers]) w();
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    child.on("close", (code) => {
      this.output += `\n[${what} exited with ${code}]\n`;
      for (const w of [...this.wakers]) w();
    });
  }

  /** Waits until `count` matches of `pattern` were printed. */
  until(pattern: RegExp, count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`edit loop: timed out waiting for ${pattern} ×${count}:\n${this.output.slice(-3000)}`)), 120_000);
      const check = () => {
        if ((this.output.match(new RegExp(pattern.source, "g")) ?? []).length < count) return;
        clearTimeout(timer);
        this.wakers.delete(check);
        resolve();
      };
      this.wakers.add(check);
      check();
    });
  }
}

/** Polls `file` every millisecond until it holds `content`; resolves with the time it was first seen. */
async function seen(file: string, content: string): Promise<number> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      if (readFileSync(file, "utf8") === content) return performance.now();
    } catch {
      // Not there yet, or being replaced.
    }
    if (Date.now() > deadline) throw new Error(`edit loop: ${file} never held ${JSON.stringify(content)}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Medians of brewkit's own split of each rebuild, from its trace: change seen → rebuild started → Solve sent → artifact committed. */
function split(traceFile: string): string {
  const phases = new Map<string, number[]>();
  let seenAt: number | undefined;
  for (const line of readFileSync(traceFile, "utf8").split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as { event: string; at: number };
    if (e.event === "watch-event") seenAt = e.at;
    else if (seenAt !== undefined && ["watch-change", "solve-sent", "export-done"].includes(e.event)) {
      phases.set(e.event, [...(phases.get(e.event) ?? []), e.at - seenAt]);
      if (e.event === "export-done") seenAt = undefined;
    }
  }
  const median = (name: string) => Math.round(summarize(phases.get(name) ?? [NaN]).median);
  return `brewkit from the change seen: rebuild ${median("watch-change")} ms, Solve sent ${median("solve-sent")} ms, artifact committed ${median("export-done")} ms`;
}

const p = (s: Summary) => `p50 ${Math.round(s.median)} ms, p95 ${Math.round(s.p95)} ms`;

/**
 * Scenario 4 (second row): the edit loop. A file save → the new artifact on disk, through
 * `brewkit watch` and through a watcher rerunning `buildctl build`, alternating saves.
 * Each loop has its own copy of the project (so a save wakes one loop only) and writes
 * unique content, so no build is served from the cache of another.
 */
export async function editLoop(s: BenchSettings): Promise<Row[]> {
  const brewkitDir = project(path.join(s.work, "edit-loop", "brewkit"), config);
  const buildctlDir = project(path.join(s.work, "edit-loop", "buildctl"), config);
  const source = (dir: string) => path.join(dir, "src", "file.txt");
  for (const dir of [brewkitDir, buildctlDir]) {
    mkdirSync(path.join(dir, "src"), { recursive: true });
    writeFileSync(source(dir), "0\n");
  }
  const def = await definitionFor(s, buildctlDir, "app");
  const watcherFile = path.join(buildctlDir, "watcher.mjs");
  writeFileSync(watcherFile, buildctlWatcher);

  const traceFile = path.join(brewkitDir, "trace.jsonl");
  writeFileSync(traceFile, "");
  const brewkitLoop = new Watched(spawn(process.execPath, [brewkitBin, "watch", "app", "--progress", "quiet"], { cwd: brewkitDir, env: env(s, { BREWKIT_TRACE: traceFile }), stdio: ["ignore", "ignore", "pipe"] }), "brewkit watch");
  const buildctlLoop = new Watched(spawn(process.execPath, [watcherFile, s.buildctl, s.daemonAddress, def.file, path.join(buildctlDir, "out"), path.join(buildctlDir, "src"), ...def.locals], { cwd: buildctlDir, stdio: ["ignore", "pipe", "pipe"] }), "buildctl watcher");
  const token = randomBytes(4).toString("hex");
  try {
    await brewkitLoop.until(/✔ app:/, 1);
    await buildctlLoop.until(/ready/, 1);
    const loops = {
      brewkit: { dir: brewkitDir, latencies: [] as number[], done: 1, finished: () => brewkitLoop.until(/✔ app:/, ++loops.brewkit.done) },
      buildctl: { dir: buildctlDir, latencies: [] as number[], done: 0, finished: () => buildctlLoop.until(/idle/, ++loops.buildctl.done) },
    };
    // A first save each, not measured: the daemon's snapshots of both projects are made.
    for (let i = 0; i <= s.saves; i++) {
      for (const tool of i % 2 === 0 ? (["brewkit", "buildctl"] as const) : (["buildctl", "brewkit"] as const)) {
        const loop = loops[tool];
        const content = `${tool} ${token} ${i}\n`;
        const saved = performance.now();
        writeFileSync(source(loop.dir), content);
        const at = await seen(path.join(loop.dir, "out", "a"), content);
        await loop.finished();
        if (i > 0) loop.latencies.push(at - saved);
      }
    }
    const brewkitMs = summarize(loops.brewkit.latencies);
    const buildctlMs = summarize(loops.buildctl.latencies);
    const ratio = brewkitMs.p95 / buildctlMs.p95;
    return [
      {
        scenario: `4. edit loop: save → new artifact on disk, one step (${s.saves} saves each)`,
        brewkit: brewkitMs,
        buildctl: buildctlMs,
        unit: "ms",
        goal: "p95 ratio ≤ 0.5",
        met: ratio <= 0.5,
        note: `brewkit ${p(brewkitMs)}; buildctl loop ${p(buildctlMs)}; p95 ratio ${ratio.toFixed(2)}; ${split(traceFile)}; content polled every 1 ms`,
      },
    ];
  } finally {
    brewkitLoop.child.kill("SIGINT");
    buildctlLoop.child.kill("SIGINT");
  }
}
