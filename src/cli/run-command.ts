import { writeFileSync } from "node:fs";
import path from "node:path";
import { compileTarget } from "../compile/index.ts";
import { plainRenderer } from "../progress/index.ts";
import { solveWaves, type SolveResult } from "../solve/index.ts";
import { connect, tlsFromFlags, type ConnectFlags } from "./connect.ts";
import { loadProject, planProject } from "./project.ts";
import { projectSharedKey } from "./shared-key.ts";

/** Options of `brewkit run`. */
export interface RunOptions extends ConnectFlags {
  config?: string;
  progress?: string;
  metadataFile?: string;
}

/** `brewkit run [targets...]`: plan, compile, solve, export. */
export async function runCommand(names: string[], options: RunOptions): Promise<number> {
  const project = await loadProject(options);
  const plan = planProject(project, names);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const { control, platform } = await connect({ addr: options.addr, tls: tlsFromFlags(options), log: err });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  try {
    const localUniqueId = projectSharedKey(plan.projectDir);
    const jobs = plan.waves.map((wave) => wave.flatMap((name) => compileTarget(plan, name, { platform, localUniqueId })));
    const quiet = options.progress === "quiet";
    const results = await solveWaves(control, jobs, {
      sharedKey: localUniqueId,
      signal: abort.signal,
      onEvent: quiet ? undefined : plainRenderer(err),
    });
    const exportsOf = (name: string) => jobs.flat().filter((j) => j.name === name).flatMap((j) => j.exports);
    for (const result of results) err(summaryLine(result, exportsOf(result.name), plan.projectDir));
    if (options.metadataFile) writeFileSync(path.resolve(options.metadataFile), `${JSON.stringify(runMetadata(results), null, 2)}\n`);
    return 0;
  } finally {
    process.off("SIGINT", onSigint);
    control.close();
  }
}

function summaryLine(result: SolveResult, dests: string[], projectDir: string): string {
  const { total, cached } = result.summary;
  const where = dests.length ? ` → ${dests.map((d) => path.relative(projectDir, d) || ".").join(", ")}` : "";
  return `✔ ${result.name}: ${total} steps, ${cached} cached, ${(result.durationMs / 1000).toFixed(1)}s${where}`;
}

/** The machine-readable record of a run, written by --metadata-file. */
function runMetadata(results: SolveResult[]) {
  return {
    targets: results.map((r) => ({
      name: r.name,
      durationMs: r.durationMs,
      summary: r.summary,
      steps: r.vertices.map((v) => ({ name: v.name, digest: v.digest, cached: v.cached, error: v.error ?? null })),
      transfer: {
        sentFiles: Object.fromEntries(r.transfer.sentFiles),
        bytesSent: r.transfer.bytesSent,
        filesReceived: r.transfer.filesReceived,
        bytesReceived: r.transfer.bytesReceived,
      },
    })),
  };
}
