import { PatternSyntaxError } from "./errors.ts";

const SLASH = 0x2f;
const STAR = 0x2a;
const QUESTION = 0x3f;
const BACKSLASH = 0x5c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;

type CodePoints = readonly number[];

function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

class BadPattern extends Error {}

/**
 * Go's `filepath.Match` (Unix flavour): whether `name` matches the shell pattern.
 * patternmatcher uses it to reject malformed patterns, and fsutil to expand
 * wildcards in follow paths; both behaviours are reproduced, quirks included.
 * Throws PatternSyntaxError for a malformed pattern.
 */
export function globMatch(pattern: string, name: string): boolean {
  try {
    return matchPoints(codePoints(pattern), codePoints(name));
  } catch (err) {
    if (err instanceof BadPattern) throw new PatternSyntaxError(pattern, "syntax error in pattern");
    throw err;
  }
}

/** Whether a single path segment contains an unescaped `*`, `?` or `[` (fsutil's containsWildcards). */
export function hasWildcards(segment: string): boolean {
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if (ch === "\\") i++;
    else if (ch === "*" || ch === "?" || ch === "[") return true;
  }
  return false;
}

function matchPoints(pattern: CodePoints, name: CodePoints): boolean {
  let rest = pattern;
  let subject = name;
  outer: while (rest.length > 0) {
    const { star, chunk, after } = scanChunk(rest);
    rest = after;
    // A trailing star matches whatever is left of this segment.
    if (star && chunk.length === 0) return !subject.includes(SLASH);
    const direct = matchChunk(chunk, subject);
    if (direct !== null && (direct.length === 0 || rest.length > 0)) {
      subject = direct;
      continue;
    }
    if (star) {
      for (let i = 0; i < subject.length && subject[i] !== SLASH; i++) {
        const skipped = matchChunk(chunk, subject.slice(i + 1));
        if (skipped !== null) {
          if (rest.length === 0 && skipped.length > 0) continue;
          subject = skipped;
          continue outer;
        }
      }
    }
    return false;
  }
  return subject.length === 0;
}

function scanChunk(pattern: CodePoints): { star: boolean; chunk: CodePoints; after: CodePoints } {
  let start = 0;
  while (start < pattern.length && pattern[start] === STAR) start++;
  const star = start > 0;
  const p = pattern.slice(start);
  let inRange = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === BACKSLASH) {
      if (i + 1 < p.length) i++;
    } else if (c === LBRACKET) {
      inRange = true;
    } else if (c === RBRACKET) {
      inRange = false;
    } else if (c === STAR && !inRange) {
      return { star, chunk: p.slice(0, i), after: p.slice(i) };
    }
  }
  return { star, chunk: p, after: [] };
}

// Returns what is left of `s` after `chunk` matched its beginning, or null.
// Like Go, a failed match keeps parsing the chunk so syntax errors surface.
function matchChunk(chunk: CodePoints, s: CodePoints): CodePoints | null {
  let failed = false;
  let ci = 0;
  let si = 0;
  while (ci < chunk.length) {
    failed = failed || si >= s.length;
    const c = chunk[ci]!;
    if (c === LBRACKET) {
      let r = -1;
      if (!failed) r = s[si++]!;
      ci++;
      let negated = false;
      if (ci < chunk.length && chunk[ci] === CARET) {
        negated = true;
        ci++;
      }
      let matched = false;
      let ranges = 0;
      for (;;) {
        if (ci < chunk.length && chunk[ci] === RBRACKET && ranges > 0) {
          ci++;
          break;
        }
        const lo = classChar(chunk, ci);
        ci = lo.next;
        let hi = lo.value;
        if (chunk[ci] === DASH) {
          const h = classChar(chunk, ci + 1);
          ci = h.next;
          hi = h.value;
        }
        if (lo.value <= r && r <= hi) matched = true;
        ranges++;
      }
      failed = failed || matched === negated;
    } else if (c === QUESTION) {
      if (!failed) failed = s[si++] === SLASH;
      ci++;
    } else {
      let literal = c;
      if (c === BACKSLASH) {
        ci++;
        if (ci >= chunk.length) throw new BadPattern();
        literal = chunk[ci]!;
      }
      if (!failed) failed = s[si++] !== literal;
      ci++;
    }
  }
  return failed ? null : s.slice(si);
}

function classChar(chunk: CodePoints, at: number): { value: number; next: number } {
  let i = at;
  if (i >= chunk.length || chunk[i] === DASH || chunk[i] === RBRACKET) throw new BadPattern();
  if (chunk[i] === BACKSLASH) {
    i++;
    if (i >= chunk.length) throw new BadPattern();
  }
  const value = chunk[i]!;
  i++;
  // Go insists on something after the character: at least the closing bracket.
  if (i >= chunk.length) throw new BadPattern();
  return { value, next: i };
}
