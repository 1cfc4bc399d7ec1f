import path from "node:path";
import { fileURLToPath } from "node:url";

/** A place in a config file. */
export interface SourceLocation {
  file: string;
  line: number;
}

// brewkit's own sources (src/ or a build of it): frames there are never the user's
// definition site. Found from this very function's frame, which works whether this
// module runs as ESM or CommonJS.
let brewkitSrc: string | undefined;

/**
 * The config file and line that called into the DSL, read from the call stack, so
 * errors can point at the definition a user wrote. Frames in brewkit itself are
 * skipped, and so is code evaluated from a `data:` URL, which has no usable position.
 */
export function callerLocation(): SourceLocation | undefined {
  const stack = new Error().stack?.split("\n").slice(1) ?? [];
  for (const frame of stack) {
    if (frame.includes("data:text/javascript")) return undefined;
    const match = /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/.exec(frame.trim());
    if (!match?.[1] || !match[2]) continue;
    const raw = match[1].replace(/\?.*$/, "");
    if (raw.startsWith("node:")) continue;
    const file = raw.startsWith("file://") ? fileURLToPath(raw) : raw;
    // The first frame with a file is this function's own.
    brewkitSrc ??= path.dirname(path.dirname(file));
    if (file.startsWith(brewkitSrc + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    return { file, line: Number(match[2]) };
  }
  return undefined;
}
