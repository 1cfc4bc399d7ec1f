import type { ControlClient } from "../client/control.ts";
import type { GatewayClient } from "../client/gateway.ts";
import { BrewkitError, BuildError } from "../errors.ts";
import type { Pb_Definition } from "../proto/generated.ts";
import { withGatewayBuild, type GatewayBuildOptions } from "../solve/gateway-build.ts";

/** One file to read out of the result of a definition. */
export interface FileRead {
  /** The graph whose result holds the file; reads of the same object share one solve. */
  definition: Pb_Definition;
  /** Path inside the result's filesystem, e.g. `/out.txt`. */
  path: string;
  /** What the file is, for errors, e.g. `variable "VERSION"`. */
  label?: string;
  /** Refuse files larger than this many bytes. */
  maxBytes?: number;
}

/** Options of `readFilesFromDefinitions`: the gateway build's settings, with a default name. */
export type ReadFilesOptions = Omit<GatewayBuildOptions, "name"> & { name?: string };

// ReadFile answers in one message, and messages are capped at 16 MiB: read in slices.
const sliceBytes = 8 << 20;

/**
 * Solves the definitions of `reads` and reads their files, all in one gateway build and
 * in parallel; the contents come back in the order of `reads`. Local sources of the
 * definitions are served from `options.localDirs`.
 */
export async function readFilesFromDefinitions(control: ControlClient, reads: readonly FileRead[], options: ReadFilesOptions): Promise<Buffer[]> {
  if (reads.length === 0) return [];
  return withGatewayBuild(control, { ...options, name: options.name ?? "read build results" }, (bridge) => readFilesWith(bridge, reads));
}

/** Solves `definition` in a gateway build of its own and reads the file at `path` from its result. */
export async function readFileFromDefinition(control: ControlClient, definition: Pb_Definition, path: string, options: ReadFilesOptions & { maxBytes?: number }): Promise<Buffer> {
  const { maxBytes, ...build } = options;
  const [content] = await readFilesFromDefinitions(control, [{ definition, path, maxBytes }], build);
  return content!;
}

/** Like `readFilesFromDefinitions`, inside a gateway build that is already running. */
export async function readFilesWith(bridge: GatewayClient, reads: readonly FileRead[]): Promise<Buffer[]> {
  const solves = new Map<Pb_Definition, Promise<string>>();
  const solve = (definition: Pb_Definition) => {
    let ref = solves.get(definition);
    if (!ref) solves.set(definition, (ref = bridge.solve(definition)));
    return ref;
  };
  const results = await Promise.allSettled(reads.map(async (read) => readWhole(bridge, await solve(read.definition), read)));
  const failure = results.find((r) => r.status === "rejected");
  if (failure) throw failure.reason;
  return results.map((r) => (r as PromiseFulfilledResult<Buffer>).value);
}

async function readWhole(bridge: GatewayClient, ref: string, read: FileRead): Promise<Buffer> {
  const what = read.label ? `${read.label} (${read.path})` : read.path;
  if (ref === "") throw new BuildError("RESULT_FILE_MISSING", `cannot read ${what}: the definition's result is empty`);
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    // Asking one byte past the limit tells "exactly at the limit" from "over it".
    const length = read.maxBytes === undefined ? sliceBytes : Math.min(sliceBytes, read.maxBytes + 1 - size);
    let chunk: Buffer;
    try {
      chunk = await bridge.readFile(ref, read.path, { offset: size, length });
    } catch (err) {
      throw describeReadFailure(what, read.path, err);
    }
    chunks.push(chunk);
    size += chunk.length;
    if (read.maxBytes !== undefined && size > read.maxBytes) {
      throw new BuildError("RESULT_FILE_TOO_LARGE", `${what} is larger than ${read.maxBytes} bytes`);
    }
    if (chunk.length < length) return Buffer.concat(chunks, size);
  }
}

function describeReadFailure(what: string, path: string, err: unknown): unknown {
  // A failed step is reported by the gateway build with its output; keep that error as is.
  if (!(err instanceof BrewkitError) || err.code !== "GATEWAY_READ_FAILED") return err;
  // Matched with the path: a step that failed to start can also say "no such file or directory".
  if (err.message.includes(`open ${path}: no such file or directory`)) {
    return new BuildError("RESULT_FILE_MISSING", `cannot read ${what}: no such file in the result`, { cause: err });
  }
  if (err.message.includes(`${path} is not a regular file`)) {
    return new BuildError("RESULT_NOT_A_FILE", `cannot read ${what}: not a regular file`, { cause: err });
  }
  return err;
}
