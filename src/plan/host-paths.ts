import path from "node:path";
import { PlanError } from "./errors.ts";
import { nearestName } from "./suggest.ts";
import type { Plan, PlannedTarget } from "./types.ts";

/** The host file system as far as checking copy sources needs it; injected so planning stays free of I/O. */
export interface HostFs {
  /** True when something (file, directory or symlink) is at this absolute path. */
  exists(path: string): boolean;
  /** Entry names of a directory, for "did you mean" suggestions; optional, may throw when it cannot read. */
  readdir?(dir: string): string[];
}

/** Every target and variable command of a plan: variables copy host files too. */
function plannedTargets(plan: Plan): PlannedTarget[] {
  return [...plan.targets.values(), ...[...plan.variables.values()].map((v) => v.target)];
}

/**
 * A likely intended path for a missing `srcPath` under `root`: the first missing segment
 * replaced by the nearest name in its directory, or undefined when nothing is close.
 */
function suggestPath(root: string, srcPath: string, fs: HostFs): string | undefined {
  if (!fs.readdir) return undefined;
  const segments = srcPath.split("/");
  for (let i = 0; i < segments.length; i++) {
    const dir = path.join(root, ...segments.slice(0, i));
    if (fs.exists(path.join(dir, segments[i]!))) continue;
    let entries: string[];
    try {
      entries = fs.readdir(dir);
    } catch {
      return undefined; // a suggestion is a courtesy: an unreadable directory just has none
    }
    const near = nearestName(segments[i]!, entries);
    return near === undefined ? undefined : [...segments.slice(0, i), near, ...segments.slice(i + 1)].join("/");
  }
  return undefined;
}

/** A PlanError for every host copy source of `plan` that does not exist, in plan order. */
export function findMissingHostPaths(plan: Plan, fs: HostFs): PlanError[] {
  const errors: PlanError[] = [];
  for (const t of plannedTargets(plan)) {
    t.copies.forEach((copy, i) => {
      // "." is the project directory itself (or the root of an outside path's parent), which exists.
      if (copy.kind !== "host" || copy.srcPath === ".") return;
      const abs = path.join(copy.hostRoot, copy.srcPath);
      if (fs.exists(abs)) return;
      const inProject = copy.hostRoot === plan.projectDir;
      const shown = inProject ? copy.srcPath : abs;
      const near = suggestPath(copy.hostRoot, copy.srcPath, fs);
      const suggestion = near === undefined ? "" : ` (did you mean "${inProject ? near : path.join(copy.hostRoot, near)}"?)`;
      errors.push(
        new PlanError("COPY_SRC_MISSING", `copy source "${shown}" does not exist${inProject ? ` in the project directory ${plan.projectDir}` : ""}${suggestion}`, {
          target: t.name,
          field: `copy[${i}].src`,
          at: t.definedAt,
          hint: "fix the path (host paths are relative to the directory of the config file), create the file, or remove the copy",
        }),
      );
    });
  }
  return errors;
}

/** Throws a PlanError naming the first host copy source of `plan` that does not exist. */
export function checkHostPaths(plan: Plan, fs: HostFs): void {
  const [first] = findMissingHostPaths(plan, fs);
  if (first) throw first;
}
