import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";
import { findConfigFile, loadConfig, type LoadedConfig } from "../config/index.ts";
import { parseIgnoreFile } from "../ignore/index.ts";
import { trace } from "../trace.ts";
import { createPlan, resolveHostPaths, type HostFs, type Plan } from "../plan/index.ts";

/** Ignore files a project may have, the first one found wins. */
const ignoreFileNames = [".brewkitignore", ".dockerignore"];

/** A loaded config plus what planning needs from disk. */
export interface Project {
  config: LoadedConfig;
  ignorePatterns: string[];
}

/** Finds, evaluates and reads the project of the current directory (or `--config`). */
export async function loadProject(options: { config?: string }): Promise<Project> {
  const file = findConfigFile(process.cwd(), options.config);
  trace("config-load");
  const config = await loadConfig(file);
  trace("config-loaded");
  return { config, ignorePatterns: readIgnorePatterns(config.projectDir) };
}

/** The project's ignore files that exist, in order of precedence. */
export function existingIgnoreFiles(projectDir: string): string[] {
  return ignoreFileNames.map((name) => path.join(projectDir, name)).filter((file) => existsSync(file));
}

/** Exclude patterns of the project's ignore file, if it has one. */
export function readIgnorePatterns(projectDir: string): string[] {
  const [file] = existingIgnoreFiles(projectDir);
  return file === undefined ? [] : parseIgnoreFile(readFileSync(file, "utf8"));
}

/** The host file system as the plan checks see it. */
export const hostFs: HostFs = {
  exists: (p) => existsSync(p),
  list: (p) => {
    try {
      return readdirSync(p);
    } catch {
      return [];
    }
  },
  realPath: (p) => {
    try {
      return realpathSync.native(p);
    } catch {
      return undefined;
    }
  },
  readLink: (p) => {
    try {
      return lstatSync(p).isSymbolicLink() ? readlinkSync(p) : undefined;
    } catch {
      return undefined;
    }
  },
};

/** The validated plan for `names`, its host paths checked and resolved: nothing has reached the daemon yet. */
export function planProject(project: Project, names: string[]): Plan {
  const { config } = project;
  const plan = createPlan(
    { configFile: config.file, projectDir: config.projectDir, targets: config.targets, groups: config.groups, variables: config.variables, defaultName: config.defaultName, ignorePatterns: project.ignorePatterns },
    names,
  );
  return resolveHostPaths(plan, hostFs);
}
