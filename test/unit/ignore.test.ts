import { describe, expect, it } from "vitest";
import { PatternMatcher, PatternSyntaxError, cleanPath, globMatch, parseIgnoreFile } from "../../src/ignore/index.ts";
import type { MatchInfo } from "../../src/ignore/index.ts";

// Expected values are what moby/patternmatcher v0.6.1 (MatchesOrParentMatches)
// answers for the same patterns and paths, quirks included.
const table: Array<{ name: string; patterns: string[]; matches: Record<string, boolean> }> = [
  { name: "a plain name matches itself and everything below it", patterns: ["foo"], matches: { foo: true, "foo/bar": true, foobar: false } },
  { name: "a plain name only matches at the root (no implicit **/)", patterns: ["foo"], matches: { "bar/foo": false } },
  { name: "* stays within one segment", patterns: ["*.go"], matches: { "main.go": true, ".go": true, "cmd/main.go": false } },
  { name: "*/ matches exactly one directory level", patterns: ["*/*.go"], matches: { "cmd/main.go": true, "main.go": false, "a/b/c.go": false } },
  { name: "? is one character but never a slash", patterns: ["a?c"], matches: { abc: true, "a/c": false, ac: false } },
  { name: "? counts characters, not bytes", patterns: ["?"], matches: { é: true, ab: false } },
  { name: "two ? need two characters", patterns: ["??"], matches: { é: false } },
  { name: "character ranges", patterns: ["[a-c]x"], matches: { bx: true, dx: false, x: false } },
  { name: "[^...] negates and, as in RE2, can match a slash", patterns: ["[^a]x"], matches: { bx: true, ax: false, "/x": true } },
  { name: "[!...] is a class containing ! (no negation)", patterns: ["[!a]x"], matches: { "!x": true, ax: true, bx: false } },
  { name: "POSIX classes inside brackets", patterns: ["[[:digit:]]*"], matches: { "1abc": true, abc: false } },
  { name: "[*] is what RE2 makes of [[^/]*]", patterns: ["[*]"], matches: { "*": false, "]": true, "[]": true } },
  { name: "escaped star is literal", patterns: ["\\*"], matches: { "*": true, a: false } },
  { name: "escaped question mark is literal", patterns: ["a\\?b"], matches: { "a?b": true, axb: false } },
  { name: "escaped brackets are literal", patterns: ["\\[a\\]"], matches: { "[a]": true, a: false } },
  { name: "non-ASCII literals and *", patterns: ["é*"], matches: { été: true, ete: false } },
  {
    name: "**/ at the start matches at any depth, including the root",
    patterns: ["**/node_modules"],
    matches: { node_modules: true, "a/node_modules": true, "a/b/node_modules": true, "a/node_modules/x": true, node_modules_x: false },
  },
  { name: "/** at the end matches what is below, not the dir itself", patterns: ["a/**"], matches: { a: false, "a/b": true, "a/b/c": true, ab: false } },
  { name: "/**/ in the middle matches zero or more segments", patterns: ["a/**/b"], matches: { "a/b": true, "a/x/y/b": true, "a/xb": false, "a/b/c": true } },
  { name: "**/*.ext matches files at any depth", patterns: ["**/*.md"], matches: { "README.md": true, "docs/x/y.md": true, md: false } },
  { name: "** alone matches everything", patterns: ["**"], matches: { x: true, "x/y/z": true } },
  { name: "an exception re-includes", patterns: ["*.md", "!README.md"], matches: { "a.md": true, "README.md": false, "docs/README.md": false } },
  { name: "the later pattern wins", patterns: ["!README.md", "*.md"], matches: { "README.md": true } },
  { name: "an exception re-includes a file inside an excluded dir", patterns: ["dir", "!dir/keep.txt"], matches: { dir: true, "dir/keep.txt": false, "dir/other": true } },
  { name: "exceptions with ** at any depth", patterns: ["**/*.js", "!**/keep/*.js"], matches: { "a.js": true, "keep/a.js": false, "x/keep/b.js": false, "keep/sub/c.js": true } },
  { name: "a deeper pattern matches only at its depth and below", patterns: ["a/b"], matches: { a: false, "a/b": true, "a/b/c/d": true } },
  { name: "patterns are cleaned (./ and trailing /)", patterns: ["./a/"], matches: { a: true } },
  { name: "patterns are cleaned (..)", patterns: ["a/../b"], matches: { b: true, a: false } },
  { name: "patterns are trimmed", patterns: ["  a  "], matches: { a: true } },
  { name: "a leading / is kept by the matcher (only .dockerignore parsing strips it)", patterns: ["/a"], matches: { a: false } },
  { name: "a trailing **/ collapses to ** (clean drops the slash)", patterns: ["**/", "!x"], matches: { x: false, y: true } },
];

describe("PatternMatcher.matches (MatchesOrParentMatches)", () => {
  for (const row of table) {
    it(row.name, () => {
      const matcher = new PatternMatcher(row.patterns);
      const actual = Object.fromEntries(Object.keys(row.matches).map((p) => [p, matcher.matches(p)]));
      expect(actual).toEqual(row.matches);
    });
  }
});

// Walks `paths` (parents listed before children) the way fsutil's walker does.
function walkMatches(matcher: PatternMatcher, paths: string[]): Record<string, boolean> {
  const infos = new Map<string, MatchInfo>();
  const out: Record<string, boolean> = {};
  for (const p of paths) {
    const slash = p.lastIndexOf("/");
    const result = matcher.matchWithParent(p, slash < 0 ? undefined : infos.get(p.slice(0, slash)));
    infos.set(p, result.info);
    out[p] = result.matched;
  }
  return out;
}

describe("PatternMatcher.matchWithParent (MatchesUsingParentResults, used by the walker)", () => {
  it("agrees with matches() for ordinary lists", () => {
    const matcher = new PatternMatcher(["node_modules", "!node_modules/keep", "**/*.log"]);
    const paths = ["node_modules", "node_modules/keep", "node_modules/keep/x", "node_modules/y", "src", "src/a.log", "src/a.ts"];
    const expected = Object.fromEntries(paths.map((p) => [p, matcher.matches(p)]));
    expect(walkMatches(matcher, paths)).toEqual(expected);
  });

  it("keeps patternmatcher's divergence: a pattern skipped at the parent is re-checked against the child only", () => {
    // patternmatcher v0.6.1: MatchesOrParentMatches says true for a/b, the walker's variant false.
    const matcher = new PatternMatcher(["a", "!a/b", "a"]);
    expect(matcher.matches("a/b")).toBe(true);
    expect(walkMatches(matcher, ["a", "a/b", "a/b/c"])).toEqual({ a: true, "a/b": false, "a/b/c": false });
  });
});

describe("pattern errors", () => {
  for (const bad of ["!", "[", "a\\", "[z-a]", "[]a]", "a[", "[a-]"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(() => new PatternMatcher([bad])).toThrow(PatternSyntaxError);
    });
  }

  it("names the offending pattern", () => {
    try {
      new PatternMatcher(["ok", "[oops"]);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PatternSyntaxError);
      expect((err as PatternSyntaxError).pattern).toBe("[oops");
      expect((err as PatternSyntaxError).code).toBe("PATTERN_SYNTAX");
    }
  });

  it("ignores empty and blank patterns", () => {
    expect(new PatternMatcher(["", "   ", "a"]).patterns.map((p) => p.text)).toEqual(["a"]);
  });
});

describe("walk pruning", () => {
  const info = (matcher: PatternMatcher, dir: string): MatchInfo => {
    const parts = dir.split("/");
    let current: MatchInfo | undefined;
    for (let i = 1; i <= parts.length; i++) current = matcher.matchWithParent(parts.slice(0, i).join("/"), current).info;
    return current!;
  };

  it("an excluded dir without exceptions need not be walked", () => {
    const m = new PatternMatcher(["node_modules"]);
    expect(m.couldReincludeBelow("node_modules", info(m, "node_modules"))).toBe(false);
  });

  it("a literal exception below the dir requires walking it, and only along its path", () => {
    const m = new PatternMatcher(["node_modules", "!node_modules/x/keep.js"]);
    expect(m.couldReincludeBelow("node_modules", info(m, "node_modules"))).toBe(true);
    expect(m.couldReincludeBelow("node_modules/x", info(m, "node_modules/x"))).toBe(true);
    expect(m.couldReincludeBelow("node_modules/y", info(m, "node_modules/y"))).toBe(false);
  });

  it("wildcard exceptions are followed segment by segment", () => {
    const m = new PatternMatcher(["node_modules", "!node_modules/*/README.md"]);
    expect(m.couldReincludeBelow("node_modules/y", info(m, "node_modules/y"))).toBe(true);
    expect(m.couldReincludeBelow("node_modules/y/lib", info(m, "node_modules/y/lib"))).toBe(false);
  });

  it("an exception with a leading ** can re-include anywhere", () => {
    const m = new PatternMatcher(["node_modules", "!**/*.md"]);
    expect(m.couldReincludeBelow("node_modules/y/lib", info(m, "node_modules/y/lib"))).toBe(true);
  });

  it("exceptions unrelated to the dir do not force a walk", () => {
    const m = new PatternMatcher(["build", "!src/keep"]);
    expect(m.couldReincludeBelow("build", info(m, "build"))).toBe(false);
  });

  it("include lists: only dirs on the way to a pattern are walked", () => {
    const m = new PatternMatcher(["src/*.ts", "docs/**"]);
    expect(m.couldIncludeBelow("src", info(m, "src"))).toBe(true);
    expect(m.couldIncludeBelow("docs", info(m, "docs"))).toBe(true);
    expect(m.couldIncludeBelow("lib", info(m, "lib"))).toBe(false);
    expect(m.couldIncludeBelow("src/sub", info(m, "src/sub"))).toBe(false);
  });
});

describe("parseIgnoreFile", () => {
  it("drops comments, blank lines and the BOM; trims, cleans and strips a leading /", () => {
    const file = "\uFEFF# comment\n\nnode_modules/\n  *.log  \n/dist\n./a/../b\n";
    expect(parseIgnoreFile(file)).toEqual(["node_modules", "*.log", "dist", "b"]);
  });

  it("keeps ! exceptions (with the slash stripped after the !) and their order", () => {
    expect(parseIgnoreFile("docs\n!docs/README.md\n! /keep \n")).toEqual(["docs", "!docs/README.md", "!keep"]);
  });

  it("only treats # at the very start of a line as a comment", () => {
    expect(parseIgnoreFile("  # not a comment\n#comment")).toEqual(["# not a comment"]);
  });

  it("handles CRLF line endings and a missing final newline", () => {
    expect(parseIgnoreFile("a\r\nb")).toEqual(["a", "b"]);
  });

  it("keeps a lone / and a lone ! as written (the matcher rejects the latter)", () => {
    const patterns = parseIgnoreFile("/\n!\n");
    expect(patterns).toEqual(["/", "!"]);
    expect(() => new PatternMatcher(patterns)).toThrow(PatternSyntaxError);
  });

  it("accepts bytes", () => {
    expect(parseIgnoreFile(Buffer.from("x\n"))).toEqual(["x"]);
  });
});

describe("helpers", () => {
  it("cleanPath is Go's path.Clean", () => {
    const cases: Record<string, string> = { "": ".", ".": ".", "a/": "a", "./a//b/./c/": "a/b/c", "a/../..": "..", "/../a": "/a", "a/b/../../..": "..", "/": "/" };
    expect(Object.fromEntries(Object.keys(cases).map((p) => [p, cleanPath(p)]))).toEqual(cases);
  });

  it("globMatch is Go's filepath.Match", () => {
    expect(globMatch("*.txt", "a.txt")).toBe(true);
    expect(globMatch("*", "a/b")).toBe(false);
    expect(globMatch("[^a]", "b")).toBe(true);
    expect(globMatch("a\\*", "a*")).toBe(true);
    expect(() => globMatch("[", "x")).toThrow(PatternSyntaxError);
  });
});
