import { createHash } from "node:crypto";
import type { PlannedHostCopy } from "../plan/index.ts";

/**
 * The `local://` name of a copy's upload. It is stable across runs (so the daemon can
 * reuse the previous upload and ask only for changed files) and differs whenever the
 * directory or the patterns differ (the session serves each name with its own patterns).
 */
export function localNameOf(copy: PlannedHostCopy): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([copy.hostRoot, copy.include, copy.exclude]))
    .digest("hex")
    .slice(0, 12);
  const label = (copy.srcPath === "." ? "project" : copy.srcPath).replace(/[^A-Za-z0-9._-]+/g, "_").slice(-40);
  return `${label}-${digest}`;
}
