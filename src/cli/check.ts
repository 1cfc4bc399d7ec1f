import { BrewkitError } from "../errors.ts";
import { typecheckConfig } from "../typecheck/index.ts";
import { configBuildCache, runCacheOptions } from "./cache-flags.ts";
import { loadProject, planProject } from "./project.ts";

/**
 * `brewkit check`: typechecks the config with the project's TypeScript and validates
 * the plan of every exported target and group and the project's `buildCache()`, without
 * building or contacting a daemon.
 */
export async function checkCommand(options: { config?: string }): Promise<number> {
  const out = (line: string) => process.stderr.write(`${line}\n`);
  const project = await loadProject(options);
  const { config } = project;
  const typecheck = typecheckConfig(config.file, config.projectDir);
  for (const error of typecheck.errors) out(`error: ${error}`);
  if (typecheck.skipped) out(`note: typecheck skipped: ${typecheck.skipped}`);
  // Each export is planned on its own, so every broken target is reported, not only the first.
  const names = [...config.targets.keys(), ...config.groups.keys()].filter((n) => n !== "default");
  const planErrors = new Set<string>();
  const collect = (check: () => unknown) => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof BrewkitError)) throw err;
      planErrors.add(`error: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ""}`);
    }
  };
  for (const name of names) collect(() => planProject(project, [name]));
  // The project's buildCache() specs, checked as a run checks them (without --cache-to/--cache-from).
  collect(() => runCacheOptions({}, configBuildCache(config)));
  for (const error of planErrors) out(error);
  const failed = typecheck.errors.length + planErrors.size;
  if (failed > 0) {
    out(`✖ ${config.file}: ${failed} problem${failed === 1 ? "" : "s"}`);
    return 1;
  }
  // `default` usually re-exports a target or group already counted under its name.
  out(`✔ ${config.file}: ${new Set(config.targets.values()).size} targets, ${new Set(config.groups.values()).size} groups checked${typecheck.version ? ` (TypeScript ${typecheck.version})` : ""}`);
  return 0;
}
