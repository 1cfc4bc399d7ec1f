// What the scenarios share: settings, rows, the two clients run on one daemon, alternation.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { summarize, type Summary } from "../stats.ts";
import { brewkitBin, HungError, measure, repoRoot, type Measured } from "../tools.ts";

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

export function env(s: BenchSettings, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, BUILDKIT_HOST: s.daemonAddress, BREWKIT_HOME: path.join(s.work, "home"), NO_COLOR: "1", ...extra };
}

// Run as users run it: the executable, with the runtime flags of its #! line.
export const brewkit = (s: BenchSettings, cwd: string, args: string[], extra?: Record<string, string>) =>
  measure(brewkitBin, [...args, "--progress", "quiet"], { cwd, env: env(s, extra) });

/**
 * brewkit's start in each run a trace file recorded: ms from process start to its first
 * Solve request, so config evaluation, planning and compiling are in it (the connection
 * to the daemon is made while the config is evaluated).
 */
export function startTimes(traceFile: string): number[] {
  const firstSolve = new Map<number, number>();
  for (const line of readFileSync(traceFile, "utf8").split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as { event: string; sinceStart: number; pid: number };
    if (e.event === "solve-sent" && !firstSolve.has(e.pid)) firstSolve.set(e.pid, e.sinceStart);
  }
  return [...firstSolve.values()];
}

/** A note giving brewkit's own start (process start → first Solve sent) within a row's runs. */
export function startNote(traceFile: string): string {
  return `brewkit start ${Math.round(summarize(startTimes(traceFile)).median)} ms of it`;
}

export const buildctl = (s: BenchSettings, cwd: string, args: string[], stdinFile?: string) =>
  measure(s.buildctl, ["--addr", s.daemonAddress, ...args], { cwd, env: process.env, stdinFile });

/** The pb definition of a target and the `--local` flags buildctl needs for it. */
export async function definitionFor(s: BenchSettings, cwd: string, target: string): Promise<{ file: string; locals: string[] }> {
  const file = path.join(cwd, `${target}.def.pb`);
  const out = await measure(process.execPath, [brewkitBin, "definition", target, "--format", "pb"], { cwd, env: env(s) });
  writeFileSync(file, out.stdoutBytes);
  const dump = await buildctl(s, cwd, ["debug", "dump-llb"], file);
  // Every upload reads the project directory (patterns select what), like brewkit's session serves it.
  const names = [...new Set([...dump.stdout.matchAll(/local:\/\/([^"]+)/g)].map((m) => m[1]!))];
  return { file, locals: names.flatMap((n) => ["--local", `${n}=${n.startsWith("busybox-") ? "/usr/bin" : cwd}`]) };
}

export const prune = (s: BenchSettings, cwd: string) => buildctl(s, cwd, ["prune", "--all"]);

/** What alternate() measured; `hangs` counts runs that hung, were killed and were run again. */
export interface Alternated {
  brewkit: Measured[];
  buildctl: Measured[];
  hangs: { brewkit: number; buildctl: number };
}


/** Runs brewkit and buildctl alternately `samples` times; `before` runs before each sample of each. */
export async function alternate(s: BenchSettings, run: { brewkit: () => Promise<Measured>; buildctl: () => Promise<Measured>; before?: () => Promise<unknown> }): Promise<Alternated> {
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
export function hangNote(a: Alternated): string | undefined {
  const parts = (["brewkit", "buildctl"] as const).filter((t) => a.hangs[t] > 0).map((t) => `${t} hung ${a.hangs[t]}× (killed, run again; ${a[t].length} samples)`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

export const notes = (...parts: Array<string | undefined>) => parts.filter(Boolean).join("; ") || undefined;

export const ms = (m: Measured[]) => summarize(m.map((x) => x.ms));
export const mib = (m: Measured[]) => summarize(m.map((x) => x.rssKiB / 1024));
