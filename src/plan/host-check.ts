import path from "node:path";
import { PlanError } from "./errors.ts";
import { nearestName } from "./suggest.ts";
import { everyPlannedTarget } from "./every-target.ts";
import type { Plan } from "./types.ts";

/** The file-system questions the check asks, so tests can answer them. */
export interface HostFs {
  exists(absolutePath: string): boolean;
  /** Entry names of a directory (empty if it cannot be read). */
  list(absolutePath: string): string[];
}

/** Every host path the plan copies must exist; a missing one is named with a likely fix. */
export function checkHostPaths(plan: Plan, fs: HostFs): void {
  for (const t of everyPlannedTarget(plan)) {
    t.copies.forEach((c, i) => {
      if (c.kind !== "host") return;
      const source = c.srcPath === "." ? c.hostRoot : path.join(c.hostRoot, c.srcPath);
      if (fs.exists(source)) return;
      const relative = path.relative(plan.projectDir, source) || ".";
      // Paths outside the project are shown (and suggested) absolute, as a user would write them.
      const shown = relative.startsWith("..") ? source : relative;
      const near = nearestName(path.basename(source), fs.list(path.dirname(source)));
      throw new PlanError("COPY_SOURCE_MISSING", `copy source ${shown} does not exist${near ? ` (did you mean "${path.join(path.dirname(shown), near)}"?)` : ""}`, {
        target: t.name,
        field: `copy[${i}].src`,
        at: t.definedAt,
        hint: "create it, or fix the path (host paths are relative to the project directory)",
      });
    });
  }
}
