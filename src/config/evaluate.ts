import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UserInputError } from "../errors.ts";
import type { ModuleFormat } from "./bundle.ts";
import { compiledConfigPositions, type PositionLookup } from "../model/source-location.ts";
import { installImportMetaResolve } from "./import-meta-resolve.ts";
import { importModule } from "../dynamic-import.ts";
import { positionLookup, sourceMapOf } from "./source-map.ts";

/** A compiled config to run, and what it was compiled from (to point at the user's lines). */
export interface Evaluation {
  /** The config file as the user wrote it. */
  file: string;
  /** The compiled module. */
  compiled: string;
  format: ModuleFormat;
  /** Local files compiled into the module (the config included). */
  sources: string[];
}

// Thrown in place of exiting: the config's own code unwinds, and brewkit reports the call.
class ExitCalled extends Error {
  constructor(readonly exitCode: unknown) {
    super(`process.exit(${exitCode === undefined ? "" : JSON.stringify(exitCode)}) was called while the config was loading`);
  }
}

// Rejects the evaluation when Node finds nothing left to run while it is still pending:
// a top-level await that can never settle. Without it, Node would end brewkit with exit
// code 13 and print nothing.
class NeverSettled extends Error {}

let evaluations = 0;

/**
 * Runs a compiled config, anew on every call (a changed config in watch mode is a new
 * module), and returns its exports. Stack traces map through its source map to the
 * files the user wrote. A config that calls `process.exit` or whose top-level await can
 * never settle is a user error naming the file (and the line where it is known).
 */
export async function evaluateConfig(evaluation: Evaluation): Promise<Record<string, unknown>> {
  process.setSourceMapsEnabled(true);
  installImportMetaResolve();
  const exitCalls: ExitCalled[] = [];
  const exit = process.exit;
  process.exit = ((code?: unknown) => {
    const call = new ExitCalled(code);
    exitCalls.push(call);
    throw call;
  }) as typeof process.exit;
  let onIdle: () => void = () => undefined;
  const idle = new Promise<never>((_, reject) => {
    onIdle = () => reject(new NeverSettled());
    process.once("beforeExit", onIdle);
  });
  try {
    const exports = await Promise.race([run(evaluation.compiled, evaluation.format), idle]);
    // A config that caught what process.exit threw still asked to end the process.
    if (exitCalls[0]) throw exitCalls[0];
    return exports;
  } catch (err) {
    throw loadError(evaluation, exitCalls[0] ?? err);
  } finally {
    process.exit = exit;
    process.off("beforeExit", onIdle);
  }
}

async function run(compiled: string, format: ModuleFormat): Promise<Record<string, unknown>> {
  if (format === "esm") {
    const url = `${pathToFileURL(compiled).href}?evaluation=${++evaluations}`;
    registerPositions(url, compiled);
    return (await importModule(url)) as Record<string, unknown>;
  }
  registerPositions(compiled, compiled);
  const require = createRequire(compiled);
  const exports = require(compiled) as Record<string, unknown>;
  // Evaluated anew next time (a module that throws is not cached in the first place).
  delete require.cache[compiled];
  // A config with ES module syntax compiles to CommonJS with this marker beside its exports.
  const { __esModule: _marker, ...named } = exports;
  return named;
}

// Compiled configs whose positions the DSL can look up: the newest few (watch mode
// evaluates a config anew on every change). The definition sites of older ones are
// still found, through Node's own source map support.
const registeredConfigs = 4;

/**
 * Lets the DSL map definition sites in the module `compiled`, run under the name `frameName`,
 * without Node's source map support: Node decodes a whole map into an object per mapping
 * before it maps one frame, which for thousands of targets costs more than the config's
 * evaluation. The map is read now, and decoded on the first lookup.
 */
function registerPositions(frameName: string, compiled: string): void {
  const parse = sourceMapOf(compiled);
  let lookup: PositionLookup | null | undefined;
  const positions = compiledConfigPositions();
  positions.delete(frameName);
  positions.set(frameName, (line, column) => {
    if (lookup === undefined) {
      const map = parse();
      lookup = (map && positionLookup(map, frameName)) ?? null;
    }
    return lookup === null ? undefined : lookup(line, column);
  });
  for (const name of positions.keys()) if (positions.size > registeredConfigs) positions.delete(name);
}

function loadError(evaluation: Evaluation, err: unknown): UserInputError {
  const { file } = evaluation;
  if (err instanceof ExitCalled) {
    const at = userFrame(err.stack, evaluation.sources);
    const code = err.exitCode === undefined ? "" : String(err.exitCode);
    return new UserInputError("CONFIG_EXIT", `${at ? `${at.file}:${at.line}: ` : `${file}: `}the config called process.exit(${code}) while loading, which would end brewkit before it did anything`, {
      hint: "a config only declares targets: remove the process.exit call, or throw an Error to stop with a message",
      context: { file: at?.file ?? file, line: at?.line },
      cause: err,
    });
  }
  if (err instanceof NeverSettled) {
    const lines = topLevelAwaitLines(file);
    const where = lines.length === 1 ? `${file}:${lines[0]}: ` : `${file}: `;
    const which = lines.length > 1 ? ` (it awaits at lines ${lines.join(", ")})` : "";
    return new UserInputError("CONFIG_NEVER_SETTLED", `${where}the config never finished loading: a top-level await waits for a promise that nothing will ever resolve${which}`, {
      hint: "make every promise the config (or a module it imports) awaits at the top level resolve or reject",
      context: { file, line: lines.length === 1 ? lines[0] : undefined },
      cause: err,
    });
  }
  return new UserInputError("CONFIG_EVAL", `${path.basename(file)} failed to load: ${describeLoadError(err, file)}`, {
    hint: "fix the error in the config file",
    context: { file },
    cause: err,
  });
}

/** The first frame of `stack` in one of the user's files, mapped to the line they wrote. */
function userFrame(stack: string | undefined, sources: string[]): { file: string; line: number } | undefined {
  for (const frame of stack?.split("\n").slice(1) ?? []) {
    const match = /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/.exec(frame.trim());
    if (!match?.[1] || !match[2]) continue;
    const file = match[1].startsWith("file://") ? fileURLToPath(match[1]) : match[1];
    if (sources.includes(file)) return { file, line: Number(match[2]) };
  }
  return undefined;
}

/** The lines of `file` that await at the top level (a statement that starts in column 1). */
function topLevelAwaitLines(file: string): number[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const statement = /^(?:export\s+)?(?:(?:const|let|var)\s[^=]*=\s*)?(?:await\b|for\s+await\b)/;
  return text.split("\n").flatMap((line, i) => (statement.test(line) ? [i + 1] : []));
}

function describeLoadError(err: unknown, file: string): string {
  if (!(err instanceof Error)) return String(err);
  // Point at the user's file when the stack has a real position in it; frames of
  // compiled code (data: URLs, brewkit's loader) say nothing useful to a user.
  const frame = err.stack
    ?.split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("at ") && !l.includes("data:") && (l.includes(file) || l.includes(pathToFileURL(file).href)));
  const position = frame ? /:(\d+):(\d+)\)?$/.exec(frame) : null;
  return position ? `${err.message} (${file}:${position[1]}:${position[2]})` : err.message;
}
