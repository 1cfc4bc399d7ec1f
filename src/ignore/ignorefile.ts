import { cleanPath } from "../gopath/index.ts";
import { trimSpace } from "./clean.ts";

/**
 * Parses a `.dockerignore`-style file into exclude patterns the way
 * moby/patternmatcher's ignorefile.ReadAll does: BOM and `#` comment lines
 * dropped, lines trimmed and cleaned, a leading `/` removed, `!` kept, order kept.
 */
export function parseIgnoreFile(content: string | Uint8Array): string[] {
  let text = typeof content === "string" ? content : Buffer.from(content).toString("utf8");
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  // bufio.ScanLines: split on \n, drop one trailing \r, no empty final line.
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const patterns: string[] = [];
  for (const raw of lines) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    // Comments are recognised before trimming: " # x" is a pattern.
    if (line.startsWith("#")) continue;
    let pattern = trimSpace(line);
    if (pattern === "") continue;
    const invert = pattern.startsWith("!");
    if (invert) pattern = trimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
    }
    patterns.push(invert ? `!${pattern}` : pattern);
  }
  return patterns;
}
