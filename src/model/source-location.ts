import path from "node:path";
import { fileURLToPath } from "node:url";

/** A place in a config file. */
export interface SourceLocation {
  file: string;
  line: number;
  /** 1-based column of the call, when the stack tells it. */
  column?: number;
}

/**
 * Maps a 1-based line and column of a compiled config to the place the user wrote, as
 * Node's source map support maps that frame: null where the map leaves the position as
 * it is, undefined when the map is not at hand (the frame is then read as Node writes it).
 */
export type PositionLookup = (line: number, column: number) => SourceLocation | null | undefined;

/** The global through which the config loader registers compiled configs (see `compiledConfigPositions`). */
export const compiledPositionsKey = Symbol.for("brewkit.compiledPositions");

/**
 * Compiled configs by the file name their stack frames carry (a URL with its query for
 * an ES module, a path for CommonJS), each with the lookup that maps its positions. A
 * global, not a module variable: the config reaches this module through its own copy
 * of brewkit (the package's entry), not through the CLI's.
 */
export function compiledConfigPositions(): Map<string, PositionLookup> {
  const global = globalThis as Record<symbol, Map<string, PositionLookup> | undefined>;
  return (global[compiledPositionsKey] ??= new Map());
}

// brewkit's own sources (src/ or a build of it): frames there are never the user's
// definition site. Found from a frame of this very module, which works whether it
// runs as ESM or CommonJS.
let brewkitSrc: string | undefined;

/**
 * The config file and line that called `called` (a function of the DSL), read from the
 * call stack, so errors can point at the definition a user wrote. The stack is captured
 * now and read on the first call of the returned function: most locations are never
 * shown, and reading one costs more than the rest of a `target()` call.
 */
export function callerLocation(called: (...args: never[]) => unknown): () => SourceLocation | undefined {
  const captured: { stack?: unknown } = {};
  // Frames from the caller of `called` on: brewkit's own are left out, and more of the
  // stack limit is left for the user's.
  Error.captureStackTrace(captured, called);
  let location: SourceLocation | undefined | null = null;
  return () => (location === null ? (location = locate(captured)) : location);
}

function locate(captured: { stack?: unknown }): SourceLocation | undefined {
  const sites = callSitesOf(captured);
  if (sites === undefined) return locationIn(typeof captured.stack === "string" ? captured.stack : "");
  const positions = compiledConfigPositions();
  for (let i = 0; i < sites.length; i++) {
    const site = sites[i]!;
    const name = site.getFileName();
    // Native frames (Array.prototype.map, say) have no file.
    if (!name) continue;
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    const mapped = line === null || column === null ? undefined : positions.get(name)?.(line, column);
    if (mapped === undefined) {
      // A frame outside the compiled configs brewkit loaded (a test runner's module, say):
      // the rest of the stack is read as whoever formats stack traces here writes it.
      return locationIn(formatted(captured, sites.slice(i)));
    }
    const at = mapped ?? unmapped(name, line!, column!);
    if (!isBrewkitOrPackage(at.file)) return at;
  }
  return undefined;
}

/** The captured stack as V8's call sites; undefined when it was already turned into text. */
function callSitesOf(captured: { stack?: unknown }): NodeJS.CallSite[] | undefined {
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (_error, sites) => sites;
  try {
    const stack = captured.stack;
    return Array.isArray(stack) ? (stack as NodeJS.CallSite[]) : undefined;
  } finally {
    Error.prepareStackTrace = previous;
  }
}

/** Call sites as text, through the stack formatter in place (Node's, which applies source maps, or a test runner's). */
function formatted(error: object, sites: NodeJS.CallSite[]): string {
  const format = Error.prepareStackTrace;
  if (typeof format !== "function") return `Error${sites.map((s) => `\n    at ${String(s)}`).join("")}`;
  const text = format(error as Error, sites) as unknown;
  return typeof text === "string" ? text : "";
}

// A position the compiled config's source map leaves as it is: the compiled module's own.
function unmapped(name: string, line: number, column: number): SourceLocation {
  const file = name.replace(/\?.*$/, "");
  return { file: file.startsWith("file://") ? fileURLToPath(file) : file, line, column };
}

function isBrewkitOrPackage(file: string): boolean {
  brewkitSrc ??= ownSourceDir();
  return file.startsWith(brewkitSrc + path.sep) || file.includes(`${path.sep}node_modules${path.sep}`);
}

// The directory above this module's, read from a frame of this module as stack traces show it.
function ownSourceDir(): string {
  const captured: { stack?: unknown } = {};
  Error.captureStackTrace(captured);
  const sites = callSitesOf(captured);
  const text = sites === undefined ? (typeof captured.stack === "string" ? captured.stack : "") : formatted(captured, sites.slice(0, 1));
  const first = framesIn(text)[0];
  return first === undefined || first === "data" ? "\0" : path.dirname(path.dirname(first.file));
}

// Frames in brewkit itself are skipped, and so is code evaluated from a `data:` URL,
// which has no usable position.
function locationIn(stack: string): SourceLocation | undefined {
  for (const frame of framesIn(stack)) {
    if (frame === "data") return undefined;
    if (!isBrewkitOrPackage(frame.file)) return frame;
  }
  return undefined;
}

function framesIn(stack: string): Array<SourceLocation | "data"> {
  const frames: Array<SourceLocation | "data"> = [];
  for (const frame of stack.split("\n").slice(1)) {
    if (frame.includes("data:text/javascript")) {
      frames.push("data");
      continue;
    }
    const match = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?$/.exec(frame.trim());
    if (!match?.[1] || !match[2]) continue;
    const raw = match[1].replace(/\?.*$/, "");
    if (raw.startsWith("node:")) continue;
    frames.push({ file: raw.startsWith("file://") ? fileURLToPath(raw) : raw, line: Number(match[2]), column: Number(match[3]) });
  }
  return frames;
}
