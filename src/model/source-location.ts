import path from "node:path";
import { fileURLToPath } from "node:url";

/** A place in a config file. */
export interface SourceLocation {
  file: string;
  line: number;
  /** 1-based column of the call, when the stack tells it. */
  column?: number;
}

// brewkit's own sources (src/ or a build of it): frames there are never the user's
// definition site. Found from this very function's frame, which works whether this
// module runs as ESM or CommonJS.
let brewkitSrc: string | undefined;

/**
 * The config file and line that called into the DSL, read from the call stack, so
 * errors can point at the definition a user wrote. The stack is captured now and read
 * on the first call of the returned function: turning it into text (through the
 * config's source map) costs more than the rest of a `target()` call, and most
 * locations are never shown.
 */
export function callerLocation(): () => SourceLocation | undefined {
  const captured: { stack?: string } = {};
  Error.captureStackTrace(captured);
  let location: SourceLocation | undefined | null = null;
  return () => (location === null ? (location = locationIn(captured.stack ?? "")) : location);
}

// Frames in brewkit itself are skipped, and so is code evaluated from a `data:` URL,
// which has no usable position.
function locationIn(stack: string): SourceLocation | undefined {
  for (const frame of stack.split("\n").slice(1)) {
    if (frame.includes("data:text/javascript")) return undefined;
    const match = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?$/.exec(frame.trim());
    if (!match?.[1] || !match[2]) continue;
    const raw = match[1].replace(/\?.*$/, "");
    if (raw.startsWith("node:")) continue;
    const file = raw.startsWith("file://") ? fileURLToPath(raw) : raw;
    // The first frame with a file is this function's own.
    brewkitSrc ??= path.dirname(path.dirname(file));
    if (file.startsWith(brewkitSrc + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    return { file, line: Number(match[2]), column: Number(match[3]) };
  }
  return undefined;
}
