import { readFileSync } from "node:fs";
import path from "node:path";
import type { ConfigSource } from "../compile/index.ts";
import { everyPlannedTarget, type Plan } from "../plan/index.ts";

// Go's client sends a Dockerfile whole; a config past this size is named without its text.
const maxSourceBytes = 1 << 20;

/**
 * The text of every file a planned target is defined in, by absolute path, named
 * relative to the project: what the ops carry as `Definition.Source`. A file that
 * cannot be read (or is too large to send with every Solve) is left out; its targets'
 * errors then name their line from brewkit's own knowledge only.
 */
export function readConfigSources(plan: Plan): Map<string, ConfigSource> {
  const sources = new Map<string, ConfigSource>();
  const files = new Set(everyPlannedTarget(plan).flatMap((t) => (t.definedAt ? [t.definedAt.file] : [])));
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (Buffer.byteLength(text) > maxSourceBytes) continue;
    const relative = path.relative(plan.projectDir, file);
    const name = relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
    sources.set(file, { name, text });
  }
  return sources;
}
