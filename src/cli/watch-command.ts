import path from "node:path";
import { findConfigFile } from "../config/index.ts";
import { BrewkitError } from "../errors.ts";
import { loadSecretStore } from "../secrets/index.ts";
import { watchLoop, watchSpec, type WatchSpec } from "../watch/index.ts";
import { connect, tlsFromFlags } from "./connect.ts";
import { existingIgnoreFiles, loadProject, planProject } from "./project.ts";
import { outputRedactor } from "./redacted-output.ts";
import { configBuildCache, prepareLocalCaches, runCacheOptions } from "./cache-flags.ts";
import { buildOnce, flagList, type RunOptions } from "./run-command.ts";
import type { CacheOptions } from "../solve/cache-options.ts";
import { requireTerminal } from "./terminal.ts";
import { cancelOnSignals, signalExitCode } from "./signals.ts";

function describeError(error: unknown): string {
  if (error instanceof BrewkitError) return `${error.message}${error.hint ? `\n  hint: ${error.hint}` : ""}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * `brewkit watch [targets...]` (and `run --watch`): builds, then rebuilds whenever a
 * copied file, the config or a module it imports changes. Ctrl-C cancels the build in
 * flight and exits with 130.
 */
export async function watchCommand(names: string[], options: RunOptions): Promise<number> {
  if (options.interactive) requireTerminal("--interactive");
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const configFile = findConfigFile(process.cwd(), options.config);
  const secrets = await loadSecretStore({ flags: flagList(options.secret), redactor: outputRedactor });
  const { control, platform } = await connect({ addr: options.addr, tls: tlsFromFlags(options), log: err });
  const abort = new AbortController();
  const stopHandlingSignals = cancelOnSignals(abort);
  const relative = (f: string) => path.relative(process.cwd(), f) || f;
  // Outputs named by variables are known only once a build evaluated them: they are never inputs either.
  const specs = new WeakMap<object, WatchSpec>();
  // The build cache of each loaded config (its buildCache() or the flags): checked at load.
  const caches = new WeakMap<object, CacheOptions | undefined>();
  try {
    await watchLoop(
      {
        load: async () => {
          const project = await loadProject(options);
          const plan = planProject(project, names);
          const spec = watchSpec(plan, [project.config.file, ...project.config.importedFiles, ...existingIgnoreFiles(project.config.projectDir)]);
          specs.set(plan, spec);
          caches.set(plan, runCacheOptions(options, configBuildCache(project.config)));
          return { plan, spec };
        },
        build: async (plan, signal) => {
          // Per build: a type=local import takes the cache the previous build exported.
          const cache = await prepareLocalCaches(caches.get(plan), (message) => err(`warning: ${message}`));
          // What the build writes into a local cache is never one of its inputs.
          specs.get(plan)?.addWritten((cache?.exports ?? []).flatMap((e) => (e.type === "local" && e.attrs.dest ? [e.attrs.dest] : [])));
          const { results, summary } = await buildOnce(control, platform, plan, secrets, { ...options, cache }, signal, (dirs) => specs.get(plan)?.addWritten(dirs));
          const steps = results.reduce((n, r) => n + r.summary.total, 0);
          const cached = results.reduce((n, r) => n + r.summary.cached, 0);
          return `${summary.join("\n")}\n  ${results.map((r) => r.name).join(", ")}: ${cached}/${steps} steps cached`;
        },
        fallbackFiles: [configFile],
        report: (report) => {
          switch (report.kind) {
            case "watching":
              err(`watching ${report.paths} paths for changes (Ctrl-C to stop)`);
              break;
            case "changed": {
              const shown = report.files.slice(0, 3).map(relative).join(", ");
              const more = report.files.length > 3 ? ` and ${report.files.length - 3} more` : "";
              err(`↻ changed: ${shown}${more}${report.configChanged ? " (config reloaded)" : ""}`);
              break;
            }
            case "built":
              err(`${report.detail} (${(report.durationMs / 1000).toFixed(1)}s)`);
              break;
            case "failed":
              err(`✖ ${describeError(report.error)}`);
              err("waiting for changes…");
              break;
            case "cancelled":
              err("… build cancelled");
              break;
          }
        },
      },
      abort.signal,
    );
    return signalExitCode() ?? 130;
  } finally {
    stopHandlingSignals();
    control.close();
  }
}
