import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateContext, manyTargetsConfig } from "./fixtures.ts";
import { summarize, type Summary } from "./stats.ts";
import { brewkitBin, HungError, measure, repoRoot, type Measured } from "./tools.ts";
import { removeWorkDir, setUpRootlessUser, userEnv, userProject } from "../test/support/rootless-user.ts";

/** Settings of one benchmark run. */
export interface BenchSettings {
  work: string;
  daemonAddress: string;
  buildctl: string;
  samples: number;
  files: number;
  bytes: number;
  targetCounts: number[];
  saves: number;
  /** `127.0.0.1:<port>` of a plain-HTTP registry on loopback. */
  registry: string;
  /** Removes every image from that registry. */
  emptyRegistry: () => Promise<void>;
  /** A second daemon with its own state, for the shared-cache scenario. */
  secondDaemonAddress: string;
  /** Size of the pushed layer. */
  pushBytes: number;
  /** How long the expensive step of the shared-cache scenario sleeps. */
  expensiveSeconds: number;
}

/** One row of the results: brewkit against buildctl (or alone). */
export interface Row {
  scenario: string;
  brewkit: Summary;
  buildctl?: Summary;
  unit: "ms" | "MiB";
  goal: string;
  met?: boolean;
  note?: string;
}

/**
 * A project directory that resolves `brewkit` to this repository: an ES module project
 * (`"type": "module"`), or a CommonJS one (no type) when `commonJs` is set.
 */
export function project(dir: string, config: string, commonJs = false): string {
  mkdirSync(path.join(dir, "node_modules"), { recursive: true });
  rmSync(path.join(dir, "node_modules", "brewkit"), { force: true });
  writeFileSync(path.join(dir, "package.json"), commonJs ? "{}\n" : `${JSON.stringify({ type: "module" })}\n`);
  symlinkSync(repoRoot, path.join(dir, "node_modules", "brewkit"), "dir");
  writeFileSync(path.join(dir, "brewkit.config.ts"), config);
  return dir;
}

function env(s: BenchSettings, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, BUILDKIT_HOST: s.daemonAddress, BREWKIT_HOME: path.join(s.work, "home"), NO_COLOR: "1", ...extra };
}

// Run as users run it: the executable, with the runtime flags of its #! line.
const brewkit = (s: BenchSettings, cwd: string, args: string[], extra?: Record<string, string>) =>
  measure(brewkitBin, [...args, "--progress", "quiet"], { cwd, env: env(s, extra) });

/**
 * brewkit's start in each run a trace file recorded: ms from process start to its first
 * Solve request, so config evaluation, planning and compiling are in it (the connection
 * to the daemon is made while the config is evaluated).
 */
function startTimes(traceFile: string): number[] {
  const firstSolve = new Map<number, number>();
  for (const line of readFileSync(traceFile, "utf8").split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as { event: string; sinceStart: number; pid: number };
    if (e.event === "solve-sent" && !firstSolve.has(e.pid)) firstSolve.set(e.pid, e.sinceStart);
  }
  return [...firstSolve.values()];
}

/** A note giving brewkit's own start (process start → first Solve sent) within a row's runs. */
function startNote(traceFile: string): string {
  return `brewkit start ${Math.round(summarize(startTimes(traceFile)).median)} ms of it`;
}

const buildctl = (s: BenchSettings, cwd: string, args: string[], stdinFile?: string) =>
  measure(s.buildctl, ["--addr", s.daemonAddress, ...args], { cwd, env: process.env, stdinFile });

/** The pb definition of a target and the `--local` flags buildctl needs for it. */
async function definitionFor(s: BenchSettings, cwd: string, target: string): Promise<{ file: string; locals: string[] }> {
  const file = path.join(cwd, `${target}.def.pb`);
  const out = await measure(process.execPath, [brewkitBin, "definition", target, "--format", "pb"], { cwd, env: env(s) });
  writeFileSync(file, out.stdoutBytes);
  const dump = await buildctl(s, cwd, ["debug", "dump-llb"], file);
  // Every upload reads the project directory (patterns select what), like brewkit's session serves it.
  const names = [...new Set([...dump.stdout.matchAll(/local:\/\/([^"]+)/g)].map((m) => m[1]!))];
  return { file, locals: names.flatMap((n) => ["--local", `${n}=${n.startsWith("busybox-") ? "/usr/bin" : cwd}`]) };
}

const prune = (s: BenchSettings, cwd: string) => buildctl(s, cwd, ["prune", "--all"]);

/** What alternate() measured; `hangs` counts runs that hung, were killed and were run again. */
interface Alternated {
  brewkit: Measured[];
  buildctl: Measured[];
  hangs: { brewkit: number; buildctl: number };
}


/** Runs brewkit and buildctl alternately `samples` times; `before` runs before each sample of each. */
async function alternate(s: BenchSettings, run: { brewkit: () => Promise<Measured>; buildctl: () => Promise<Measured>; before?: () => Promise<unknown> }): Promise<Alternated> {
  const result: Alternated = { brewkit: [], buildctl: [], hangs: { brewkit: 0, buildctl: 0 } };
  for (let i = 0; i < s.samples; i++) {
    const order: Array<"brewkit" | "buildctl"> = i % 2 === 0 ? ["brewkit", "buildctl"] : ["buildctl", "brewkit"];
    for (const tool of order) {
      for (let attempt = 1; ; attempt++) {
        await run.before?.();
        try {
          result[tool].push(await run[tool]());
          break;
        } catch (err) {
          // A hung run says nothing about speed; it is reported and run again (twice at most).
          if (!(err instanceof HungError)) throw err;
          result.hangs[tool]++;
          if (attempt < 3) {
            process.stderr.write(`bench: ${err.message}; running it again\n`);
            continue;
          }
          // brewkit hanging is a failure of brewkit; buildctl's sample is left out, and the note says so.
          if (tool === "brewkit") throw err;
          process.stderr.write(`bench: ${err.message} three times; this sample of buildctl is left out\n`);
          break;
        }
      }
    }
  }
  return result;
}

/** The row note for hung runs, if any. */
function hangNote(a: Alternated): string | undefined {
  const parts = (["brewkit", "buildctl"] as const).filter((t) => a.hangs[t] > 0).map((t) => `${t} hung ${a.hangs[t]}× (killed, run again; ${a[t].length} samples)`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

const notes = (...parts: Array<string | undefined>) => parts.filter(Boolean).join("; ") || undefined;

const ms = (m: Measured[]) => summarize(m.map((x) => x.ms));
const mib = (m: Measured[]) => summarize(m.map((x) => x.rssKiB / 1024));

/** Scenarios 1, 5 and 6: context upload (cold, warm, one file changed), memory, artifact export. */
export async function uploadAndExport(s: BenchSettings): Promise<Row[]> {
  const dir = path.join(s.work, "upload");
  const fixture = generateContext(path.join(dir, "ctx"), s.files, s.bytes);
  project(dir, `import { target, scratch } from "brewkit";
export const up = target({ from: scratch, copy: "ctx" });
export const ex = target({ from: scratch, copy: "ctx", output: { artifact: "/ctx", local: "exported" } });
`);
  const size = `${s.files.toLocaleString("en")} files / ${Math.round(fixture.bytes / 2 ** 20)} MiB`;
  const up = await definitionFor(s, dir, "up");
  const trace = (name: string) => {
    const file = path.join(dir, `${name}.trace.jsonl`);
    writeFileSync(file, "");
    return file;
  };
  const traces = { cold: trace("cold"), warm: trace("warm"), changed: trace("changed"), exported: trace("exported") };
  let phase: keyof typeof traces = "cold";
  const upload = {
    brewkit: () => brewkit(s, dir, ["run", "up"], { BREWKIT_TRACE: traces[phase] }),
    buildctl: () => buildctl(s, dir, ["build", ...up.locals], up.file),
  };
  const cold = await alternate(s, { ...upload, before: () => prune(s, dir) });
  phase = "warm";
  const warm = await alternate(s, upload);
  phase = "changed";
  let edit = 0;
  const changed = await alternate(s, { ...upload, before: async () => writeFileSync(fixture.sample, `edit ${edit++}\n`) });

  const ex = await definitionFor(s, dir, "ex");
  await brewkit(s, dir, ["run", "ex"]);
  const exported = await alternate(s, {
    brewkit: () => brewkit(s, dir, ["run", "ex"], { BREWKIT_TRACE: traces.exported }),
    buildctl: () => buildctl(s, dir, ["build", ...ex.locals, "--output", `type=local,dest=${path.join(dir, "exported-buildctl")}`], ex.file),
    before: async () => {
      rmSync(path.join(dir, "exported"), { recursive: true, force: true });
      rmSync(path.join(dir, "exported-buildctl"), { recursive: true, force: true });
    },
  });
  const ratioGoal = (b: Measured[], c: Measured[]) => ms(b).median / ms(c).median <= 1.0;
  return [
    { scenario: `1. upload, cold (${size})`, brewkit: ms(cold.brewkit), buildctl: ms(cold.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ratioGoal(cold.brewkit, cold.buildctl), note: notes(startNote(traces.cold), hangNote(cold)) },
    { scenario: "1. upload, warm (nothing changed)", brewkit: ms(warm.brewkit), buildctl: ms(warm.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ratioGoal(warm.brewkit, warm.buildctl), note: notes(startNote(traces.warm), hangNote(warm)) },
    { scenario: "1. upload, one file changed", brewkit: ms(changed.brewkit), buildctl: ms(changed.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ratioGoal(changed.brewkit, changed.buildctl), note: notes(startNote(traces.changed), hangNote(changed)) },
    { scenario: `5. peak RSS, cold upload (${size})`, brewkit: mib(cold.brewkit), buildctl: mib(cold.buildctl), unit: "MiB", goal: "brewkit < 150 MiB", met: mib(cold.brewkit).max < 150 },
    { scenario: `5. peak RSS, export (${size})`, brewkit: mib(exported.brewkit), buildctl: mib(exported.buildctl), unit: "MiB", goal: "brewkit < 150 MiB", met: mib(exported.brewkit).max < 150 },
    { scenario: `6. artifact export (${size})`, brewkit: ms(exported.brewkit), buildctl: ms(exported.buildctl), unit: "ms", goal: "ratio ≤ 1.0", met: ratioGoal(exported.brewkit, exported.buildctl), note: notes(startNote(traces.exported), hangNote(exported)) },
  ];
}

/** Scenario 2: a fully cached re-run of 10 targets, and brewkit's own start-up. */
export async function cachedRerun(s: BenchSettings): Promise<Row[]> {
  const dir = path.join(s.work, "cached");
  project(dir, manyTargetsConfig(10));
  const names = Array.from({ length: 10 }, (_, i) => `t${i}`);
  await brewkit(s, dir, ["run", "all"]);
  const defs = await Promise.all(names.map((n) => definitionFor(s, dir, n)));
  const traceFile = path.join(dir, "trace.jsonl");
  const runs = await alternate(s, {
    brewkit: () => brewkit(s, dir, ["run", "all"], { BREWKIT_TRACE: traceFile }),
    // buildctl builds one definition per process: the ten run side by side, like brewkit's ten Solves.
    buildctl: async () => {
      const started = performance.now();
      const each = await Promise.all(defs.map((d) => buildctl(s, dir, ["build", ...d.locals], d.file)));
      return { ms: performance.now() - started, rssKiB: Math.max(...each.map((e) => e.rssKiB)), stdout: "", stdoutBytes: Buffer.alloc(0), stderr: "" };
    },
  });
  const start = summarize(startTimes(traceFile));
  return [
    { scenario: "2. fully cached re-run, 10 targets", brewkit: ms(runs.brewkit), buildctl: ms(runs.buildctl), unit: "ms", goal: "ratio ≤ 1.2", met: ms(runs.brewkit).median / ms(runs.buildctl).median <= 1.2, note: notes(startNote(traceFile), hangNote(runs)) },
    { scenario: "2. brewkit start: process start → first Solve sent (config evaluated, planned, compiled)", brewkit: start, unit: "ms", goal: "< 250 ms", met: start.median < 250 },
  ];
}

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
    return [{ scenario: `4. watch: save → Solve request sent (p95 of ${s.saves} saves)`, brewkit: summary, unit: "ms", goal: "p95 < 200 ms", met: summary.p95 < 200, note: `p95 ${Math.round(summary.p95)} ms, debounce 50 ms included` }];
  } finally {
    child.kill("SIGINT");
  }
}

/**
 * Scenario 7: brewkit on a rootless daemon (an unprivileged user's own, under RootlessKit)
 * against brewkit on the rootful one, on this machine: the fully cached 10-target re-run and
 * the warm 2,000-file upload. The rootless runs fill the "brewkit" column, the rootful ones
 * the "buildctl" column, so the ratio is rootless ÷ rootful. Needs root, to make the user.
 */
export async function rootlessAgainstRootful(s: BenchSettings): Promise<Row[]> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench: the rootless rows need root (to make their unprivileged user); left out\n");
    return [];
  }
  const user = setUpRootlessUser();
  const userRun = (cwd: string, args: string[], extra: Record<string, string> = {}) =>
    measure(path.join(user.packageDir, "bin/brewkit.js"), [...args, ...(args[0] === "run" ? ["--progress", "quiet"] : [])], { cwd, env: userEnv(user, extra), user });
  try {
    const started = await userRun(user.home, ["daemon", "start"]);
    const socket = /on (unix:\/\/\S+)/.exec(started.stdout)?.[1];
    if (!started.stdout.includes("(rootless)") || !socket) throw new Error(`the rootless daemon did not start as expected:\n${started.stdout}${started.stderr}`);
    const on = { BUILDKIT_HOST: socket };
    const upload = `import { target, scratch } from "brewkit";\nexport const up = target({ from: scratch, copy: "ctx" });\n`;
    const rootful = { cached: project(path.join(s.work, "rootful-cached"), manyTargetsConfig(10)), upload: project(path.join(s.work, "rootful-upload"), upload) };
    const rootless = {
      cached: userProject(user, { "package.json": `${JSON.stringify({ type: "module" })}\n`, "brewkit.config.ts": manyTargetsConfig(10) }),
      upload: userProject(user, { "package.json": `${JSON.stringify({ type: "module" })}\n`, "brewkit.config.ts": upload }),
    };
    const files = 2_000;
    const fixture = generateContext(path.join(rootful.upload, "ctx"), files, 20 * 2 ** 20);
    generateContext(path.join(rootless.upload, "ctx"), files, 20 * 2 ** 20);
    execFileSync("chown", ["-R", `${user.uid}:${user.gid}`, rootless.upload]);
    // Warm both daemons: everything after is cached, and the uploads find their files known.
    for (const [dir, args] of [[rootless.cached, ["run", "all"]], [rootless.upload, ["run", "up"]]] as const) await userRun(dir, [...args], on);
    for (const [dir, args] of [[rootful.cached, ["run", "all"]], [rootful.upload, ["run", "up"]]] as const) await brewkit(s, dir, [...args]);
    const cached = await alternate(s, { brewkit: () => userRun(rootless.cached, ["run", "all"], on), buildctl: () => brewkit(s, rootful.cached, ["run", "all"]) });
    const warm = await alternate(s, { brewkit: () => userRun(rootless.upload, ["run", "up"], on), buildctl: () => brewkit(s, rootful.upload, ["run", "up"]) });
    const goal = (a: Alternated) => ms(a.brewkit).median / ms(a.buildctl).median < 1.1;
    const columns = "brewkit on each: rootless in the brewkit column, rootful in the buildctl column";
    return [
      { scenario: "7. rootless ÷ rootful daemon: fully cached re-run, 10 targets", brewkit: ms(cached.brewkit), buildctl: ms(cached.buildctl), unit: "ms", goal: "ratio < 1.10", met: goal(cached), note: notes(columns, hangNote(cached)) },
      { scenario: `7. rootless ÷ rootful daemon: upload, warm (${files.toLocaleString("en")} files / ${Math.round(fixture.bytes / 2 ** 20)} MiB)`, brewkit: ms(warm.brewkit), buildctl: ms(warm.buildctl), unit: "ms", goal: "ratio < 1.10", met: goal(warm), note: notes(columns, hangNote(warm)) },
    ];
  } finally {
    await userRun(user.home, ["daemon", "stop"]).catch(() => undefined);
    removeWorkDir(user);
  }
}

/**
 * Scenario 8: images and a shared build cache. (a) Pushing an image whose new layer is
 * `pushBytes` of random data to the local registry: brewkit against `buildctl build
 * --output type=image,push=true` on the same daemon and LLB (the layer is built once and
 * cached; each sample pushes into an emptied registry, so every sample uploads it).
 * (b) A cold build on a second daemon, with and without importing the registry cache
 * that the first daemon exported.
 */
export async function imagesAndCache(s: BenchSettings): Promise<Row[]> {
  const dir = path.join(s.work, "images");
  const sizeMiB = Math.round(s.pushBytes / 2 ** 20);
  let sample = 0;
  const ref = () => `${s.registry}/bench/push:${sample++}`;
  project(dir, `import { scratch, target } from "brewkit";
export const base = target({ from: scratch, copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" }, command: ["/bin/busybox", "--install", "-s", "/bin"] });
export const layer = target({ from: base, command: "head -c ${s.pushBytes} /dev/urandom > /big" });
export const pushed = target({ from: layer, output: { image: process.env.PUSH_REF ?? "${s.registry}/bench/push:first", push: true } });
`);
  const def = await definitionFor(s, dir, "layer");
  await brewkit(s, dir, ["run", "pushed"]);
  const push = await alternate(s, {
    brewkit: () => brewkit(s, dir, ["run", "pushed"], { PUSH_REF: ref() }),
    buildctl: () => buildctl(s, dir, ["build", ...def.locals, "--output", `type=image,name=${ref()},push=true`], def.file),
    before: () => s.emptyRegistry(),
  });

  // (b) An expensive step: on daemon A once, its cache exported; then cold builds on daemon B.
  const cacheDir = path.join(s.work, "cache-share");
  const cacheRef = `${s.registry}/bench/cache:shared`;
  const steps = `sleep ${s.expensiveSeconds} && head -c ${Math.round(s.pushBytes / 10)} /dev/urandom > /out`;
  project(cacheDir, `import { scratch, target } from "brewkit";
export const base = target({ from: scratch, copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" }, command: ["/bin/busybox", "--install", "-s", "/bin"] });
export const app = target({ from: base, command: "${steps}", output: { artifact: "/out", local: "dist" } });
`);
  await brewkit(s, cacheDir, ["run", "app", "--cache-to", `type=registry,ref=${cacheRef},mode=max`]);
  const onB = { BUILDKIT_HOST: s.secondDaemonAddress };
  const cold = { brewkit: [] as Measured[], buildctl: [] as Measured[] };
  for (let i = 0; i < s.samples; i++) {
    await measure(s.buildctl, ["--addr", s.secondDaemonAddress, "prune", "--all"], { cwd: cacheDir });
    cold.buildctl.push(await brewkit(s, cacheDir, ["run", "app"], onB));
    await measure(s.buildctl, ["--addr", s.secondDaemonAddress, "prune", "--all"], { cwd: cacheDir });
    cold.brewkit.push(await brewkit(s, cacheDir, ["run", "app", "--cache-from", `type=registry,ref=${cacheRef}`], onB));
  }
  return [
    { scenario: `8. image push, ${sizeMiB} MiB layer, to the local registry`, brewkit: ms(push.brewkit), buildctl: ms(push.buildctl), unit: "ms", goal: "ratio ≤ 1.05", met: ms(push.brewkit).median / ms(push.buildctl).median <= 1.05, note: hangNote(push) },
    {
      scenario: `8. cold build on a second daemon (a ${s.expensiveSeconds} s step): importing the registry cache (brewkit column) against none (buildctl column, also brewkit)`,
      brewkit: ms(cold.brewkit),
      buildctl: ms(cold.buildctl),
      unit: "ms",
      goal: "reported",
    },
  ];
}
