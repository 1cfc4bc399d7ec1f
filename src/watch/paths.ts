import path from "node:path";
import { PatternMatcher } from "../ignore/index.ts";
import type { Plan, PlannedHostCopy } from "../plan/index.ts";
import { everyPlannedTarget, isInside } from "../plan/index.ts";
import { isTransientExportName } from "../filesync/staging.ts";

/** What to watch for one plan: the paths, and which changes below them matter. */
export interface WatchSpec {
  /** Files and directories to watch. */
  paths: string[];
  /** Files whose change means the config must be evaluated again. */
  configFiles: Set<string>;
  /** True for paths no build input depends on (chokidar then skips them). */
  isIgnored(absolutePath: string): boolean;
  /** Adds directories a build wrote (outputs whose names are only known once variables are evaluated): never inputs. */
  addWritten(dirs: Iterable<string>): void;
}

interface CopyWatch {
  root: string;
  hostRoot: string;
  excludes: PatternMatcher;
  /** Exceptions (`!`) may re-include files inside excluded directories, so those are still walked. */
  hasExceptions: boolean;
}

function copyWatch(c: PlannedHostCopy): CopyWatch {
  return {
    root: c.srcPath === "." ? c.hostRoot : path.join(c.hostRoot, c.srcPath),
    hostRoot: c.hostRoot,
    excludes: new PatternMatcher(c.exclude),
    hasExceptions: c.exclude.some((p) => p.trim().startsWith("!")),
  };
}

/** The host paths a plan reads (after ignore rules), plus its config files. */
export function watchSpec(plan: Plan, configFiles: string[]): WatchSpec {
  const all = everyPlannedTarget(plan);
  const copies = all.flatMap((t) => t.copies.filter((c): c is PlannedHostCopy => c.kind === "host")).map(copyWatch);
  // What brewkit itself writes must never trigger a rebuild.
  const written = all.flatMap((t) => t.caches.flatMap((c) => (c.hostDir ? [c.hostDir] : [])));
  for (const t of plan.targets.values()) for (const o of t.outputs) if (typeof o.local === "string") written.push(path.resolve(plan.projectDir, o.local));
  for (const t of plan.targets.values()) for (const o of t.tarballs) if (typeof o.file === "string") written.push(path.resolve(plan.projectDir, o.file));
  const configs = new Set(configFiles.map((f) => path.resolve(f)));
  const isIgnored = (p: string): boolean => {
    if (configs.has(p)) return false;
    // Staging dirs, set-aside entries and the export lock of any run, this one's included.
    if (p.split(path.sep).some(isTransientExportName)) return true;
    if (written.some((w) => isInside(w, p))) return true;
    const covering = copies.filter((c) => isInside(c.root, p) || isInside(p, c.root));
    if (covering.length === 0) return true;
    return covering.every((c) => {
      if (!isInside(c.root, p)) return false; // an ancestor of a copy root: keep walking down
      const rel = path.relative(c.hostRoot, p).split(path.sep).join("/");
      return rel !== "" && !c.hasExceptions && c.excludes.matches(rel);
    });
  };
  const paths = [...new Set([...copies.map((c) => c.root), ...configs])];
  const addWritten = (dirs: Iterable<string>) => {
    for (const dir of dirs) if (!written.includes(dir)) written.push(dir);
  };
  return { paths, configFiles: configs, isIgnored, addWritten };
}
