import { cleanPath } from "../gopath/index.ts";
import { trimSpace } from "./clean.ts";
import { PatternSyntaxError } from "./errors.ts";
import { globMatch } from "./glob.ts";
import { compileGoRegexp, GoRegexpError } from "./regexp.ts";

const REGEXP_META = ".+()|{}$";

type MatchKind = "exact" | "prefix" | "suffix" | "regexp";

interface Compiled {
  kind: MatchKind;
  source: string;
}

// patternmatcher's Pattern.compile with "/" as separator: the same Go regexp
// string and the same shortcut kinds (exact, prefix `x/**`, suffix `**/x`).
function compileGlob(cleaned: string): Compiled {
  const chars = [...cleaned];
  // text/scanner drops a byte-order mark at the start of its input.
  let at = chars[0] === "\uFEFF" ? 1 : 0;
  let source = "^";
  let kind: MatchKind = "exact";
  for (let i = 0; at < chars.length; i++) {
    const ch = chars[at++]!;
    if (ch === "*") {
      if (chars[at] === "*") {
        at++;
        if (chars[at] === "/") at++;
        if (at >= chars.length) {
          if (kind === "exact") kind = "prefix";
          else {
            source += ".*";
            kind = "regexp";
          }
        } else {
          source += "(.*/)?";
          kind = "regexp";
        }
        if (i === 0) kind = "suffix";
      } else {
        source += "[^/]*";
        kind = "regexp";
      }
    } else if (ch === "?") {
      source += "[^/]";
      kind = "regexp";
    } else if (REGEXP_META.includes(ch)) {
      source += `\\${ch}`;
    } else if (ch === "\\") {
      if (at < chars.length) {
        source += `\\${chars[at++]!}`;
        kind = "regexp";
      } else {
        source += "\\";
      }
    } else if (ch === "[" || ch === "]") {
      source += ch;
      kind = "regexp";
    } else {
      source += ch;
    }
  }
  if (kind === "regexp") source += "$";
  return { kind, source };
}

type SegmentMatcher = "**" | ((segment: string) => boolean);

/** One cleaned pattern of a PatternMatcher. */
export class Pattern {
  /** The cleaned pattern without its leading `!`. */
  readonly text: string;
  /** True for a `!` exception. */
  readonly exclusion: boolean;
  private readonly kind: MatchKind;
  private readonly regexp: RegExp | undefined;
  private segments: SegmentMatcher[] | null | undefined;

  constructor(text: string, exclusion: boolean, original: string) {
    this.text = text;
    this.exclusion = exclusion;
    const compiled = compileGlob(text);
    this.kind = compiled.kind;
    if (compiled.kind === "regexp") {
      try {
        this.regexp = compileGoRegexp(compiled.source).regexp;
      } catch (err) {
        if (err instanceof GoRegexpError) throw new PatternSyntaxError(original, err.message);
        throw err;
      }
    }
  }

  /** Whether the pattern itself (ignoring parent directories) matches the slash-separated `path`. */
  matches(path: string): boolean {
    switch (this.kind) {
      case "exact":
        return path === this.text;
      case "prefix":
        return path.startsWith(this.text.slice(0, -2));
      case "suffix": {
        const suffix = this.text.slice(2);
        return path.endsWith(suffix) || (suffix.startsWith("/") && path === suffix.slice(1));
      }
      case "regexp":
        return this.regexp!.test(path);
    }
  }

  /**
   * Whether the pattern could match some path strictly below `dir`. May answer true
   * when unsure; never answers false for a path it could match.
   */
  couldMatchBelow(dir: string): boolean {
    const dirSlash = `${dir}/`;
    switch (this.kind) {
      case "exact":
        return this.text.startsWith(dirSlash);
      case "prefix": {
        const prefix = this.text.slice(0, -2);
        return prefix.startsWith(dirSlash) || dirSlash.startsWith(prefix);
      }
      case "suffix":
        return true;
      case "regexp":
        return this.segmentsCouldMatchBelow(dir);
    }
  }

  // Runs the pattern's segments as a small NFA over dir's segments: if some state
  // still expects a segment afterwards, a descendant could match.
  private segmentsCouldMatchBelow(dir: string): boolean {
    if (this.segments === undefined) this.segments = splitSegments(this.text);
    const segments = this.segments;
    if (segments === null) return true;
    const closure = (states: Set<number>): Set<number> => {
      for (const i of states) if (segments[i] === "**") states.add(i + 1);
      return states;
    };
    let states = closure(new Set([0]));
    for (const part of dir.split("/")) {
      const next = new Set<number>();
      for (const i of states) {
        const segment = segments[i];
        if (segment === undefined) continue;
        if (segment === "**") next.add(i);
        else if (segment(part)) next.add(i + 1);
      }
      states = closure(next);
      if (states.size === 0) return false;
    }
    for (const i of states) if (i < segments.length) return true;
    return false;
  }
}

// A pattern whose pieces between slashes each match within one path segment, or
// null when some piece could match across a slash (then no pruning is attempted).
function splitSegments(text: string): SegmentMatcher[] | null {
  const out: SegmentMatcher[] = [];
  for (const part of text.split("/")) {
    if (part === "**") {
      out.push("**");
      continue;
    }
    if (part.includes("**")) return null;
    const compiled = compileGlob(part);
    if (compiled.kind === "exact") {
      out.push((segment) => segment === part);
      continue;
    }
    try {
      const { regexp, mayMatchSlash } = compileGoRegexp(compiled.source);
      if (mayMatchSlash) return null;
      out.push((segment) => regexp.test(segment));
    } catch {
      return null;
    }
  }
  return out;
}

/** Per-pattern results for a directory, handed to its children's matches. */
export interface MatchInfo {
  /** For each pattern, whether it matched the directory or one of its parents. */
  readonly parentMatched: readonly boolean[];
}

/** The outcome of matching one path with its parent's MatchInfo. */
export interface MatchResult {
  /** True when the path is matched (excluded by an exclude list, kept by an include list). */
  readonly matched: boolean;
  /** What to pass when matching this path's children. */
  readonly info: MatchInfo;
}

const NO_PARENT: MatchInfo = { parentMatched: [] };

/**
 * moby/patternmatcher: Docker's pattern lists where `!` marks exceptions, later
 * patterns win and a pattern matching a directory matches everything below it.
 */
export class PatternMatcher {
  /** The patterns in order, empty lines dropped. */
  readonly patterns: readonly Pattern[];
  /** True when at least one pattern is a `!` exception. */
  readonly hasExclusions: boolean;

  /** Cleans and compiles `patterns`; throws PatternSyntaxError like patternmatcher.New would. */
  constructor(patterns: readonly string[]) {
    const compiled: Pattern[] = [];
    for (const original of patterns) {
      let p = trimSpace(original);
      if (p === "") continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith("!")) {
        if (p.length === 1) throw new PatternSyntaxError(original, 'illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
      }
      // patternmatcher validates with filepath.Match against "."; keep its verdicts.
      globMatch(p, ".");
      compiled.push(new Pattern(p, exclusion, original));
    }
    this.patterns = compiled;
    this.hasExclusions = compiled.some((p) => p.exclusion);
  }

  /** Whether `path` (slash-separated, relative) or one of its parent dirs is matched: MatchesOrParentMatches. */
  matches(path: string): boolean {
    return this.evaluate(path, NO_PARENT, false).matched;
  }

  /**
   * MatchesUsingParentResults, the variant fsutil's walker uses: `parent` is the
   * info of the directory containing `path` (omit it at the top level).
   */
  matchWithParent(path: string, parent: MatchInfo = NO_PARENT): MatchResult {
    return this.evaluate(path, parent, true);
  }

  /**
   * For an excluded directory: whether some `!` exception could still re-include
   * an entry below it. False means the directory need not be walked at all.
   */
  couldReincludeBelow(dir: string, info: MatchInfo): boolean {
    return this.couldMatchBelow(dir, info, true);
  }

  /**
   * For a directory an include list does not match: whether some (non-exception)
   * pattern could match an entry below it. False means it need not be walked.
   */
  couldIncludeBelow(dir: string, info: MatchInfo): boolean {
    return this.couldMatchBelow(dir, info, false);
  }

  private couldMatchBelow(dir: string, info: MatchInfo, exclusion: boolean): boolean {
    for (let i = 0; i < this.patterns.length; i++) {
      const pattern = this.patterns[i]!;
      if (pattern.exclusion !== exclusion) continue;
      if (info.parentMatched[i] === true || pattern.couldMatchBelow(dir)) return true;
    }
    return false;
  }

  private evaluate(path: string, parent: MatchInfo, recordInfo: boolean): MatchResult {
    const parentMatched = parent.parentMatched;
    const haveParent = parentMatched.length !== 0;
    if (haveParent && parentMatched.length !== this.patterns.length) {
      throw new RangeError("MatchInfo belongs to a different PatternMatcher");
    }
    const info: boolean[] = recordInfo ? new Array<boolean>(this.patterns.length).fill(false) : [];
    let matched = false;
    let parentDirs: string[] | undefined;
    for (let i = 0; i < this.patterns.length; i++) {
      const pattern = this.patterns[i]!;
      let match = haveParent && parentMatched[i] === true;
      if (!match) {
        // An inclusion cannot change an already matched path, nor an exception an unmatched one.
        if (pattern.exclusion !== matched) continue;
        match = pattern.matches(path);
        if (!match && !haveParent) {
          parentDirs ??= parentPrefixes(path);
          for (const dir of parentDirs) {
            if (pattern.matches(dir)) {
              match = true;
              break;
            }
          }
        }
      }
      if (recordInfo) info[i] = match;
      if (match) matched = !pattern.exclusion;
    }
    return { matched, info: { parentMatched: info } };
  }
}

// "a/b/c" -> ["a", "a/b"]
function parentPrefixes(path: string): string[] {
  const out: string[] = [];
  let at = path.indexOf("/");
  while (at >= 0) {
    out.push(path.slice(0, at));
    at = path.indexOf("/", at + 1);
  }
  return out;
}
