// brewkit's lookup of positions in a compiled config's source map must answer as Node's
// own SourceMap (module.SourceMap's findEntry, sources resolved as Node resolves them
// for stack traces), for the maps esbuild writes and for hostile ones: columns out of
// order, segments without a source, names, positions before the first mapping or past
// the last, several sources, a source root and relative sources.
import { SourceMap } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { positionLookup, type RawSourceMap } from "../../src/config/source-map.ts";

const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function vlq(value: number): string {
  let v = value < 0 ? (-value << 1) | 1 : value << 1;
  let out = "";
  do {
    let digit = v & 31;
    v >>>= 5;
    if (v > 0) digit |= 32;
    out += digits[digit];
  } while (v > 0);
  return out;
}

/** A random mappings string: `lines` generated lines of up to 6 segments, deltas of either sign. */
function randomMappings(random: () => number, lines: number, sources: number, names: number): string {
  const int = (n: number) => Math.floor(random() * n);
  let source = 0, sourceLine = 0, sourceColumn = 0, name = 0;
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const segments: string[] = [];
    let column = 0;
    for (let s = int(7); s > 0; s--) {
      // Mostly forwards, sometimes backwards: Node sorts what it decodes.
      const dc = random() < 0.15 ? -int(column + 1) : int(40);
      column += dc;
      let segment = vlq(dc);
      const fields = random() < 0.1 ? 1 : random() < 0.5 ? 4 : 5;
      if (fields >= 4) {
        const nextSource = int(sources);
        const nextLine = Math.max(0, sourceLine + int(30) - 10);
        const nextColumn = Math.max(0, sourceColumn + int(50) - 20);
        segment += vlq(nextSource - source) + vlq(nextLine - sourceLine) + vlq(nextColumn - sourceColumn);
        source = nextSource;
        sourceLine = nextLine;
        sourceColumn = nextColumn;
      }
      if (fields === 5) {
        const dn = int(names) - name;
        name += dn;
        segment += vlq(dn);
      }
      segments.push(segment);
    }
    // Now and then a separator too many, as Node's lenient parser reads it.
    out.push(segments.join(random() < 0.05 ? ",," : ",") + (random() < 0.05 ? "," : ""));
  }
  return out.join(";");
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** What Node's stack traces show for a frame at 1-based `line`, `column` of the module: the mapped place, or null. */
function nodeAnswer(map: SourceMap, line: number, column: number) {
  const entry = map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
  if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return null;
  const file = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : entry.originalSource;
  return { file, line: entry.originalLine + 1, column: entry.originalColumn + 1 };
}

/** Node's SourceMap of `raw` as its source map cache makes it for a module at `moduleUrl`. */
function nodeMap(raw: RawSourceMap, moduleUrl: string): SourceMap {
  const sources = raw.sources.map((s) => {
    const rooted = (raw.sourceRoot || "") + s;
    return path.isAbsolute(rooted) ? pathToFileURL(rooted).href : new URL(rooted, moduleUrl).href;
  });
  return new SourceMap({ version: 3, sources, names: [], mappings: raw.mappings, sourceRoot: "" } as never);
}

describe("source map lookups", () => {
  const moduleUrl = "file:///home/me/.brewkit/cache/config/abc.mjs?evaluation=3";
  const sourceSets: Array<{ sources: string[]; sourceRoot?: string }> = [
    { sources: ["/project/brewkit.config.ts", "/project/lib/factory.ts", "/project/my dir/#odd?.ts"] },
    { sources: ["brewkit.config.ts", "../lib/a.ts"], sourceRoot: "src/" },
    { sources: ["webpack://app/x.ts"] },
  ];
  for (let seed = 1; seed <= 40; seed++) {
    it(`answer as Node does (random map ${seed})`, () => {
      const random = seeded(seed);
      const set = sourceSets[seed % sourceSets.length]!;
      const raw: RawSourceMap = { sources: set.sources, mappings: randomMappings(random, 1 + Math.floor(random() * 30), set.sources.length, 3), ...(set.sourceRoot ? { sourceRoot: set.sourceRoot } : {}) };
      const ours = positionLookup(raw, moduleUrl)!;
      const node = nodeMap(raw, moduleUrl);
      for (let line = 1; line <= 33; line++) {
        for (let column = 1; column <= 260; column += 1 + Math.floor(random() * 7)) {
          expect(ours(line, column), `${raw.mappings} at ${line}:${column}`).toEqual(nodeAnswer(node, line, column));
        }
      }
    });
  }

  it("map nothing before the first mapping or without mappings", () => {
    expect(positionLookup({ sources: ["/a.ts"], mappings: "" }, moduleUrl)!(1, 1)).toBeNull();
    expect(positionLookup({ sources: ["/a.ts"], mappings: ";;KAAA" }, moduleUrl)!(2, 50)).toBeNull();
    expect(positionLookup({ sources: ["/a.ts"], mappings: ";;KAAA" }, moduleUrl)!(3, 6)).toEqual({ file: "/a.ts", line: 1, column: 1 });
  });

  it("read mappings that are not all base64 VLQ as Node does", () => {
    for (const mappings of ["AA!A", "AAAA,", "AAAA,,CAAC", "AAAA,;KAAA,", "gggggggA", "AAAA;é;CACA"]) {
      const raw = { sources: ["/a.ts"], mappings };
      const ours = positionLookup(raw, moduleUrl)!;
      const node = nodeMap(raw, moduleUrl);
      for (let line = 1; line <= 4; line++) for (let column = 1; column <= 20; column++) expect(ours(line, column), `${mappings} at ${line}:${column}`).toEqual(nodeAnswer(node, line, column));
    }
  });
});
