import { fileURLToPath } from "node:url";

/** A place in a config file. */
export interface SourceLocation {
  file: string;
  line: number;
}

const internalFrame = /[\\/]src[\\/]model[\\/]/;

/**
 * The config file and line that called into the DSL, read from the call stack, so
 * errors can point at the definition a user wrote. Frames inside brewkit's own
 * model are skipped.
 */
export function callerLocation(): SourceLocation | undefined {
  const stack = new Error().stack?.split("\n").slice(1) ?? [];
  for (const frame of stack) {
    const match = /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/.exec(frame.trim());
    if (!match?.[1] || !match[2]) continue;
    const raw = match[1].replace(/\?.*$/, "");
    if (internalFrame.test(raw) || raw.startsWith("node:")) continue;
    const file = raw.startsWith("file://") ? fileURLToPath(raw) : raw;
    return { file, line: Number(match[2]) };
  }
  return undefined;
}
