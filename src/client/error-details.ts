import { DecodeError } from "../proto/decode.ts";
import type {
  Errdefs_Solve as SolveDetail,
  Errdefs_Source as SourceDetail,
  Google_Rpc_Status as RpcStatus,
  Moby_Buildkit_V1_Frontend_ExitMessage as ExitDetail,
  Stack_Stack as StackDetail,
} from "../proto/generated.ts";
import { codecFor } from "../proto/registry.ts";
import { GrpcCallError } from "./grpc-connection.ts";

/** Where the daemon says a failed op was written: a file of `Definition.Source` and its lines. */
export interface ErrorSource {
  /** The file's name as the definition gave it. */
  filename: string;
  /** First line (1-based). */
  line: number;
  /** Last line. */
  endLine: number;
}

/** The failed op of a gateway solve, with the results of its mounts. */
export interface FailedSolve {
  /** The op, as the daemon ran it. */
  op: NonNullable<SolveDetail["op"]>;
  /** Per mount of an exec op: the result it had after the command ran ("" when none). */
  mountIds: string[];
  /** Per mount: the result it had before the command ran. */
  inputIds: string[];
  /** The op's description (custom name, ...). */
  description: Record<string, string>;
}

/** What BuildKit's typed error details (`grpc-status-details-bin`) say about a failure. */
export interface DaemonErrorDetails {
  /** The gRPC status message. */
  message: string;
  /** Digest of the op (vertex) that failed. */
  vertex?: string;
  /** Where the failed op was written, innermost first. */
  sources: ErrorSource[];
  /** A failed solve through the gateway: the op and its mounts' results. */
  solve?: FailedSolve;
  /** Exit code of a process that failed. */
  exitCode?: number;
  /** The daemon's stacks, as text, innermost first. */
  stacks: string[];
}

// Type URLs as BuildKit registers them (containerd's typeurl): "<module>/<package>.<Message>+json".
const detailTypes = {
  vertex: "errdefs.Vertex",
  source: "errdefs.Source",
  solve: "errdefs.Solve",
  exit: "gatewayapi.ExitMessage",
  stack: "stack.Stack",
} as const;

// The protobuf message behind each detail type.
const messageTypes: Record<string, string> = {
  [detailTypes.vertex]: "errdefs.Vertex",
  [detailTypes.source]: "errdefs.Source",
  [detailTypes.solve]: "errdefs.Solve",
  [detailTypes.exit]: "moby.buildkit.v1.frontend.ExitMessage",
  [detailTypes.stack]: "stack.Stack",
};

/**
 * Decodes a `google.rpc.Status` with BuildKit's typed details. Each detail is a
 * `google.protobuf.Any`; BuildKit's carry the message as JSON (type URL ending in
 * `+json`), others as protobuf bytes. Details of other types, and details that do not
 * decode, are skipped: they add to the status message, which is always there.
 */
export function decodeErrorDetails(statusBytes: Uint8Array): DaemonErrorDetails {
  const status = codecFor<RpcStatus>("google.rpc.Status").decode(statusBytes);
  const out: DaemonErrorDetails = { message: status.message ?? "", sources: [], stacks: [] };
  for (const any of status.details ?? []) {
    const url = any.type_url ?? "";
    const json = url.endsWith("+json");
    const name = (json ? url.slice(0, -"+json".length) : url).replace(/^.*\//, "");
    const typeName = messageTypes[name];
    if (!typeName) continue;
    let message: unknown;
    try {
      const codec = codecFor<unknown>(typeName);
      message = json ? codec.fromJson(JSON.parse(Buffer.from(any.value ?? new Uint8Array()).toString("utf8"))) : codec.decode(any.value ?? new Uint8Array());
    } catch (err) {
      if (err instanceof DecodeError || err instanceof SyntaxError) continue;
      throw err;
    }
    switch (name) {
      case detailTypes.vertex:
        out.vertex ??= (message as { digest?: string }).digest || undefined;
        break;
      case detailTypes.source: {
        const source = sourceOf(message as SourceDetail);
        if (source) out.sources.push(source);
        break;
      }
      case detailTypes.solve: {
        const solve = message as SolveDetail;
        if (solve.op) out.solve ??= { op: solve.op, mountIds: solve.mountIDs ?? [], inputIds: solve.inputIDs ?? [], description: solve.description ?? {} };
        break;
      }
      case detailTypes.exit:
        out.exitCode ??= (message as ExitDetail).Code ?? 0;
        break;
      case detailTypes.stack:
        out.stacks.push(stackText(message as StackDetail));
        break;
    }
  }
  return out;
}

/** The details of the first failed daemon call in `err`'s cause chain that sent any. */
export function errorDetailsOf(err: unknown): DaemonErrorDetails | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof GrpcCallError && e.statusDetails) {
      try {
        return decodeErrorDetails(e.statusDetails);
      } catch (decodeFailure) {
        if (decodeFailure instanceof DecodeError) return undefined;
        throw decodeFailure;
      }
    }
  }
  return undefined;
}

function sourceOf(detail: SourceDetail): ErrorSource | undefined {
  const filename = detail.info?.filename;
  const ranges = detail.ranges ?? [];
  if (!filename || ranges.length === 0) return undefined;
  const line = Math.min(...ranges.map((r) => r.start?.line ?? 0));
  const endLine = Math.max(...ranges.map((r) => Math.max(r.end?.line ?? 0, r.start?.line ?? 0)));
  return line > 0 ? { filename, line, endLine } : undefined;
}

function stackText(stack: StackDetail): string {
  const frames = (stack.frames ?? []).map((f) => `${f.Name ?? "?"}\n\t${f.File ?? "?"}:${f.Line ?? 0}`);
  const version = stack.version ? ` (buildkitd ${stack.version}${stack.pid ? `, pid ${stack.pid}` : ""})` : "";
  return `daemon stack${version}:\n${frames.join("\n")}`;
}
