import path from "node:path";
import type { ErrorCode } from "../errors.ts";
import { PlanError } from "./errors.ts";
import { nearestName } from "./suggest.ts";
import { everyPlannedTarget } from "./every-target.ts";
import { isInside } from "./resolve-target.ts";
import type { Plan, PlannedCopy, PlannedHostCopy, PlannedTarget } from "./types.ts";

/** The file-system questions the check asks, so tests can answer them. */
export interface HostFs {
  /** True when the path exists (a symlink: when what it points to exists). */
  exists(absolutePath: string): boolean;
  /** Entry names of a directory (empty if it cannot be read). */
  list(absolutePath: string): string[];
  /** The path with every symlink in it resolved; undefined when it does not resolve to anything. */
  realPath(absolutePath: string): string | undefined;
  /** What the symlink at the path points to, as written; undefined when it is not a symlink. */
  readLink(absolutePath: string): string | undefined;
}

/**
 * Checks the host paths the plan copies, and returns the plan that copies them: every
 * source must exist; a source that is a symlink (or lies below one) is copied as what it
 * points to, as Docker's COPY does, under the name the config gave it. A link inside
 * the project must stay inside it.
 */
export function resolveHostPaths(plan: Plan, fs: HostFs): Plan {
  const replaced = new Map<PlannedTarget, PlannedTarget>();
  // Most copies share one root, the project: it is resolved once.
  const roots = new Map<string, string>();
  const realRoot = (root: string) => roots.get(root) ?? roots.set(root, fs.realPath(root) ?? root).get(root)!;
  for (const t of everyPlannedTarget(plan)) {
    const copies = t.copies.map((c, i) => (c.kind === "host" ? resolveHostCopy(plan, t, c, i, fs, realRoot(c.hostRoot)) : c));
    if (copies.some((c, i) => c !== t.copies[i])) replaced.set(t, withCopies(t, copies));
  }
  if (replaced.size === 0) return plan;
  return {
    ...plan,
    targets: new Map([...plan.targets].map(([name, t]) => [name, replaced.get(t) ?? t])),
    variables: new Map([...plan.variables].map(([v, planned]) => [v, { ...planned, target: replaced.get(planned.target) ?? planned.target }])),
  };
}

// Copies the target's properties as they are: its definition site stays a getter, read only if an error names it.
function withCopies(t: PlannedTarget, copies: PlannedCopy[]): PlannedTarget {
  return Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(t), copies: { value: copies, enumerable: true } }) as PlannedTarget;
}

function resolveHostCopy(plan: Plan, t: PlannedTarget, c: PlannedHostCopy, i: number, fs: HostFs, realRoot: string): PlannedHostCopy {
  const source = c.srcPath === "." ? c.hostRoot : path.join(c.hostRoot, c.srcPath);
  const relative = path.relative(plan.projectDir, source) || ".";
  // Paths outside the project are shown (and suggested) absolute, as a user would write them.
  const shown = relative.startsWith("..") ? source : relative;
  const fail = (code: ErrorCode, message: string, hint: string): never => {
    throw new PlanError(code, message, { target: t.name, field: `copy[${i}].src`, at: t.definedAt, hint });
  };
  if (!fs.exists(source)) {
    const link = fs.readLink(source);
    if (link !== undefined) fail("COPY_SOURCE_DANGLING", `copy source ${shown} is a symlink to ${link}, which does not exist`, "point the link at a file or folder that exists, or copy that one instead");
    const near = nearestName(path.basename(source), fs.list(path.dirname(source)));
    fail("COPY_SOURCE_MISSING", `copy source ${shown} does not exist${near ? ` (did you mean "${path.join(path.dirname(shown), near)}"?)` : ""}`, "create it, or fix the path (host paths are relative to the project directory)");
  }
  const real = fs.realPath(source);
  if (real === undefined || real === (c.srcPath === "." ? realRoot : path.join(realRoot, c.srcPath))) return c;
  const inProject = c.hostRoot === plan.projectDir;
  if (inProject && !isInside(realRoot, real)) {
    fail(
      "COPY_SOURCE_OUTSIDE",
      `copy source ${shown} is a symlink to ${real}, outside the project`,
      `a project's links may not reach the rest of the machine: copy that path by name instead, e.g. copy: { src: ${JSON.stringify(real)}, dest: ${JSON.stringify(c.srcPath)} }, or move it into the project`,
    );
  }
  // The upload reads what the link points to; the copy keeps the name it was given.
  const hostRoot = inProject ? c.hostRoot : path.dirname(real);
  const srcPath = inProject ? path.relative(realRoot, real).split(path.sep).join("/") || "." : path.basename(real);
  // Patterns below the link are moved below what it points to ("." has no prefix, and includes everything).
  const rebase = (patterns: string[]) =>
    patterns.flatMap((p) => {
      if (p === c.srcPath) return srcPath === "." ? [] : [srcPath];
      if (!p.startsWith(`${c.srcPath}/`)) return [p];
      return [srcPath === "." ? p.slice(c.srcPath.length + 1) : `${srcPath}${p.slice(c.srcPath.length)}`];
    });
  return { ...c, hostRoot, srcPath, dest: c.dest ?? c.srcPath, include: rebase(c.include), exclude: rebase(c.exclude) };
}
