import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { PositionLookup, SourceLocation } from "../model/source-location.ts";

/** The fields of a source map (version 3) that positions are looked up with. */
export interface RawSourceMap {
  sources: Array<string | null>;
  sourceRoot?: string;
  mappings: string;
}

const base64Digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const digitValue = new Int8Array(128).fill(-1);
for (let i = 0; i < base64Digits.length; i++) digitValue[base64Digits.charCodeAt(i)] = i;
const comma = 44;
const semicolon = 59;

/**
 * Looks positions of a compiled module up in its source map, giving the answers Node's
 * own source map support gives its stack traces: the last mapping at or before the
 * position (`SourceMap.findEntry`), sources resolved against `moduleUrl` as Node resolves
 * them. Node builds an array per mapping before the first lookup, which for a config of
 * thousands of targets costs more than evaluating it; this decodes into flat arrays in
 * one pass. Undefined when a source cannot be resolved.
 */
export function positionLookup(map: RawSourceMap, moduleUrl: string): PositionLookup | undefined {
  let files: Array<string | undefined>;
  try {
    files = map.sources.map((source) => resolveSource(source, map.sourceRoot, moduleUrl));
  } catch {
    return undefined;
  }
  const { lines, columns, sources, sourceLines, sourceColumns } = decodeMappings(map.mappings);
  const count = lines.length;
  return (line, column) => {
    // Node's search, on 0-based positions: the last mapping not after the position.
    const l = line - 1;
    const c = column - 1;
    let first = 0;
    let n = count;
    while (n > 1) {
      const step = n >> 1;
      const middle = first + step;
      if (l < lines[middle]! || (l === lines[middle]! && c < columns[middle]!)) n = step;
      else {
        first = middle;
        n -= step;
      }
    }
    if (count === 0 || (first === 0 && (l < lines[0]! || (l === lines[0]! && c < columns[0]!)))) return null;
    const file = sources[first]! < 0 ? undefined : files[sources[first]!];
    if (file === undefined) return null;
    const at: SourceLocation = { file, line: sourceLines[first]! + 1, column: sourceColumns[first]! + 1 };
    return at;
  };
}

// Node: a source is joined to the source root, made a file URL if it is an absolute path,
// else resolved against the module's URL; a file URL is then shown as its path.
function resolveSource(source: string | null, sourceRoot: string | undefined, moduleUrl: string): string | undefined {
  if (typeof source !== "string") return undefined;
  const rooted = (sourceRoot || "") + source;
  const href = path.isAbsolute(rooted) ? pathToFileURL(rooted).href : new URL(rooted, moduleUrl).href;
  return href.startsWith("file://") ? fileURLToPath(href) : href;
}

/** The segments of a `mappings` string, sorted by generated position (stable, as Node sorts them); `sources` is -1 for a segment without one. */
export function decodeMappings(mappings: string): { lines: Int32Array; columns: Int32Array; sources: Int32Array; sourceLines: Int32Array; sourceColumns: Int32Array } {
  const length = mappings.length;
  // One segment per separator, plus one (a few more only in maps Node reads leniently).
  let most = 1;
  for (let k = 0; k < length; k++) {
    const code = mappings.charCodeAt(k);
    if (code === comma || code === semicolon) most++;
  }
  let lines = new Int32Array(most);
  let columns = new Int32Array(most);
  let sources = new Int32Array(most);
  let sourceLines = new Int32Array(most);
  let sourceColumns = new Int32Array(most);
  let count = 0;
  let line = 0;
  let column = 0;
  let source = 0;
  let sourceLine = 0;
  let sourceColumn = 0;
  let sorted = true;
  let i = 0;
  // Node's parser, step for step, quirks included: a character that is not a base64
  // digit (or the end of the string) reads as a digit 0 without continuation, and after
  // a comma a segment is read whatever follows.
  const vlq = (): number => {
    let result = 0;
    let shift = 0;
    let digit: number;
    do {
      const code = i < length ? mappings.charCodeAt(i) : 128;
      i++;
      digit = code < 128 ? digitValue[code]! : -1;
      if (digit < 0) digit = 0;
      result += (digit & 31) << shift;
      shift += 5;
    } while (digit & 32);
    const negative = result & 1;
    result >>>= 1;
    return negative ? -result | (1 << 31) : result;
  };
  const separatorNext = () => i < length && (mappings.charCodeAt(i) === comma || mappings.charCodeAt(i) === semicolon);
  for (;;) {
    if (i < length && mappings.charCodeAt(i) === comma) i++;
    else {
      while (i < length && mappings.charCodeAt(i) === semicolon) {
        line++;
        column = 0;
        i++;
      }
      if (i >= length) break;
    }
    const previousColumn = column;
    column += vlq();
    if (count > 0 && line === lines[count - 1] && column < previousColumn) sorted = false;
    if (count === lines.length) ({ lines, columns, sources, sourceLines, sourceColumns } = grown({ lines, columns, sources, sourceLines, sourceColumns }));
    lines[count] = line;
    columns[count] = column;
    if (separatorNext()) {
      sources[count++] = -1;
      continue;
    }
    source += vlq();
    sourceLine += vlq();
    sourceColumn += vlq();
    // A name, when present, is not needed for positions.
    if (!separatorNext()) vlq();
    sources[count] = source;
    sourceLines[count] = sourceLine;
    sourceColumns[count++] = sourceColumn;
  }
  const decoded = { lines: lines.subarray(0, count), columns: columns.subarray(0, count), sources: sources.subarray(0, count), sourceLines: sourceLines.subarray(0, count), sourceColumns: sourceColumns.subarray(0, count) };
  if (sorted) return decoded;
  const order = Array.from({ length: count }, (_, k) => k).sort((a, b) => decoded.lines[a]! - decoded.lines[b]! || decoded.columns[a]! - decoded.columns[b]!);
  const permuted = (values: Int32Array) => Int32Array.from(order, (k) => values[k]!);
  return { lines: permuted(decoded.lines), columns: permuted(decoded.columns), sources: permuted(decoded.sources), sourceLines: permuted(decoded.sourceLines), sourceColumns: permuted(decoded.sourceColumns) };
}

function grown<T extends Record<string, Int32Array>>(arrays: T): T {
  const out: Record<string, Int32Array> = {};
  for (const [name, values] of Object.entries(arrays)) {
    const bigger = new Int32Array(values.length * 2);
    bigger.set(values);
    out[name] = bigger;
  }
  return out as T;
}

const mapComment = "//# sourceMappingURL=";

/**
 * The source map of a compiled module file, from its `sourceMappingURL` comment (a `data:`
 * URL, or a file beside it). The files are read now; the returned function parses the map
 * (undefined when there is none, or it is not a source map), so that no file is read when
 * a position is looked up later.
 */
export function sourceMapOf(file: string): () => RawSourceMap | undefined {
  let text: string | undefined;
  let base64: string | undefined;
  try {
    const code = readFileSync(file, "utf8");
    const at = code.lastIndexOf(mapComment);
    if (at < 0) return () => undefined;
    const end = code.indexOf("\n", at);
    const url = code.slice(at + mapComment.length, end < 0 ? code.length : end).trim();
    const inline = /^data:application\/json[^,]*?(;base64)?,/.exec(url);
    if (!inline) text = readFileSync(fileURLToPath(new URL(url, pathToFileURL(file))), "utf8");
    else if (inline[1]) base64 = url.slice(inline[0].length);
    else text = url.slice(inline[0].length);
  } catch {
    return () => undefined;
  }
  return () => {
    try {
      const map = JSON.parse(text ?? Buffer.from(base64!, "base64").toString("utf8")) as RawSourceMap;
      return Array.isArray(map.sources) && typeof map.mappings === "string" ? map : undefined;
    } catch {
      return undefined;
    }
  };
}
