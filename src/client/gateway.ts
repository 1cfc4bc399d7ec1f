import { BuildError, type ErrorCode } from "../errors.ts";
import { GrpcStatus } from "../grpc/wire.ts";
import type { Platform } from "../llb/platform.ts";
import { platformToPb } from "../llb/platform.ts";
import type { ResolveMode } from "../llb/source.ts";
import { codecFor } from "../proto/registry.ts";
import type {
  Google_Rpc_Status as RpcStatus,
  Fsutil_Types_Stat as Stat,
  Moby_Buildkit_V1_Frontend_InitMessage as InitMessage,
  Moby_Buildkit_V1_Frontend_NewContainerRequest as NewContainerRequest,
  Moby_Buildkit_V1_Frontend_PongResponse as PongResponse,
  Moby_Buildkit_V1_Frontend_ReadDirRequest as ReadDirRequest,
  Moby_Buildkit_V1_Frontend_ReadDirResponse as ReadDirResponse,
  Moby_Buildkit_V1_Frontend_StatFileRequest as StatFileRequest,
  Moby_Buildkit_V1_Frontend_StatFileResponse as StatFileResponse,
  Moby_Buildkit_V1_Frontend_ReadFileRequest as ReadFileRequest,
  Moby_Buildkit_V1_Frontend_ReadFileResponse as ReadFileResponse,
  Moby_Buildkit_V1_Frontend_ResolveImageConfigRequest as ResolveImageConfigRequest,
  Moby_Buildkit_V1_Frontend_ResolveImageConfigResponse as ResolveImageConfigResponse,
  Moby_Buildkit_V1_Frontend_Result as GatewayResult,
  Moby_Buildkit_V1_Frontend_ReturnRequest as ReturnRequest,
  Moby_Buildkit_V1_Frontend_SolveRequest as SolveRequest,
  Moby_Buildkit_V1_Frontend_SolveResponse as SolveResponse,
  Pb_Definition,
} from "../proto/generated.ts";
import type { DaemonAddress } from "./address.ts";
import { ContainerProcess, type ProcessIo } from "./container-process.ts";
import { readAnswer, type ControlClient } from "./control.ts";
import { GrpcCallError } from "./grpc-connection.ts";
import { unreachableError } from "./unreachable.ts";

/** The metadata key that routes an LLBBridge call to its build (BuildKit's `client/buildid`). */
export const buildIdMetadataKey = "buildkit-controlapi-buildid";

const service = "/moby.buildkit.v1.frontend.LLBBridge/";

// Go's gateway client gives Ping 15 s; the daemon itself waits 3 s for the build id.
const pingTimeoutMs = 15_000;

export type { GatewayResult };

/** A byte range of a file, for files too large for one 16 MiB message. */
export interface FileRange {
  offset: number;
  length: number;
}

/** What the daemon answers for an image reference. */
export interface ResolvedImage {
  /** The reference as resolved (source policies may rewrite it). */
  ref: string;
  /** Digest of the platform's manifest, `sha256:…`. */
  digest: string;
  /** The raw OCI image config JSON. */
  config: Uint8Array;
}

/** Options of `GatewayClient.resolveImageConfig`. */
export interface ResolveImageOptions {
  /** `pull` always asks the registry, `local` prefers the daemon's copy; `default` when unset. */
  resolveMode?: ResolveMode;
  /** Name of the progress step the daemon shows for this lookup; no step when unset. */
  logName?: string;
}

/** How a gateway build ends: with a result (empty unless given), or with an error the daemon records. */
export type GatewayReturn = { error?: undefined; result?: GatewayResult } | { error: Error };

/**
 * A client of BuildKit's LLBBridge (the gateway) for one build: the calls go over the
 * Control channel and carry the build's id, which must belong to a running gateway-mode
 * Solve (see `withGatewayBuild`).
 */
export class GatewayClient {
  /** Capabilities and workers the bridge reported on the last `ping`. */
  pong: PongResponse | undefined;

  constructor(
    private readonly control: ControlClient,
    /** The `Ref` of the gateway-mode Control.Solve. */
    readonly buildId: string,
    private readonly signal?: AbortSignal,
  ) {}

  /** Checks the bridge answers for this build; returns its capabilities and workers. */
  async ping(timeoutMs = pingTimeoutMs): Promise<PongResponse> {
    this.pong = await this.call<object, PongResponse>("Ping", "PingRequest", "PongResponse", {}, timeoutMs);
    return this.pong;
  }

  /** True when the last `ping` reported frontend capability `id` (e.g. `source.metaresolver`) enabled. */
  supports(id: string): boolean {
    return this.pong?.FrontendAPICaps?.some((cap) => cap.ID === id && cap.Enabled === true) === true;
  }

  /**
   * Solves `definition` within the build and returns the id of its result, for
   * `readFile`. Lazy unless `evaluate`: the daemon builds it when something reads it.
   * An empty result (scratch) gives `""`.
   */
  async solve(definition: Pb_Definition, options: { evaluate?: boolean } = {}): Promise<string> {
    const request: SolveRequest = { Definition: definition, allowResultReturn: true, allowResultArrayRef: true };
    if (options.evaluate) request.Evaluate = true;
    const response = await this.call<SolveRequest, SolveResponse>("Solve", "SolveRequest", "SolveResponse", request);
    const result = response.result;
    if (result?.ref) return result.ref.id ?? "";
    if (result?.refDeprecated !== undefined) return result.refDeprecated;
    if (result?.refs || result?.refsDeprecated) {
      throw new BuildError("GATEWAY_UNEXPECTED_RESULT", "the daemon returned a multi-platform result for a single definition");
    }
    return response.ref ?? "";
  }

  /** Reads the file at `path` (relative to the root of result `ref`) or a `range` of it. */
  async readFile(ref: string, path: string, range?: FileRange): Promise<Buffer> {
    const request: ReadFileRequest = { Ref: ref, FilePath: path };
    if (range) request.Range = { Offset: range.offset, Length: range.length };
    const response = await this.call<ReadFileRequest, ReadFileResponse>("ReadFile", "ReadFileRequest", "ReadFileResponse", request);
    return Buffer.from(response.Data ?? new Uint8Array());
  }

  /**
   * Creates a container of results of this build (`Mount.resultID`), e.g. a failed
   * command's mounts; processes run in it with `exec`, and its mounts can be read with
   * the `*Container` calls. Release it with `releaseContainer` before the build ends.
   */
  async newContainer(request: NewContainerRequest): Promise<void> {
    await this.call<NewContainerRequest, object>("NewContainer", "NewContainerRequest", "NewContainerResponse", request);
  }

  /** Starts a process (`init`) in a container made by `newContainer`; its output goes to `io`. */
  startProcess(init: InitMessage, io: ProcessIo): ContainerProcess {
    return new ContainerProcess(this.control.connection, { [buildIdMetadataKey]: this.buildId }, init, io, this.signal);
  }

  /** Releases a container made by `newContainer` (its processes are killed). */
  async releaseContainer(containerId: string): Promise<void> {
    await this.call<{ ContainerID: string }, object>("ReleaseContainer", "ReleaseContainerRequest", "ReleaseContainerResponse", { ContainerID: containerId });
  }

  /** The entry at `path` of mount `mountIndex` of a container (a symlink that stays inside is followed). */
  async statFileContainer(containerId: string, path: string, mountIndex = 0): Promise<Stat> {
    const request: StatFileRequest = { Ref: containerId, Path: path, MountIndex: mountIndex };
    const response = await this.call<StatFileRequest, StatFileResponse>("StatFileContainer", "StatFileRequest", "StatFileResponse", request);
    return response.stat ?? {};
  }

  /** The entries of directory `dir` of mount `mountIndex` of a container (not recursive); paths are names. */
  async readDirContainer(containerId: string, dir: string, mountIndex = 0): Promise<Stat[]> {
    const request: ReadDirRequest = { Ref: containerId, DirPath: dir, MountIndex: mountIndex };
    const response = await this.call<ReadDirRequest, ReadDirResponse>("ReadDirContainer", "ReadDirRequest", "ReadDirResponse", request);
    return response.entries ?? [];
  }

  /** The whole file at `path` of mount `mountIndex` of a container (the daemon reads it whole, whatever range is asked). */
  async readFileContainer(containerId: string, path: string, mountIndex = 0): Promise<Buffer> {
    const request: ReadFileRequest = { Ref: containerId, FilePath: path, MountIndex: mountIndex };
    const response = await this.call<ReadFileRequest, ReadFileResponse>("ReadFileContainer", "ReadFileRequest", "ReadFileResponse", request);
    return Buffer.from(response.Data ?? new Uint8Array());
  }

  /** Looks up the image config of `ref` for `platform` in its registry (or the daemon's store). */
  async resolveImageConfig(ref: string, platform: Platform, options: ResolveImageOptions = {}): Promise<ResolvedImage> {
    const request: ResolveImageConfigRequest = {
      Ref: ref,
      Platform: platformToPb(platform),
      ResolveMode: options.resolveMode ?? "default",
      // 0 = the registry resolver (1 would be an OCI layout served by the session).
      ResolverType: 0,
    };
    if (options.logName) request.LogName = options.logName;
    const response = await this.call<ResolveImageConfigRequest, ResolveImageConfigResponse>(
      "ResolveImageConfig",
      "ResolveImageConfigRequest",
      "ResolveImageConfigResponse",
      request,
    );
    // Old daemons leave Ref empty: it is then the one asked for.
    return { ref: response.Ref || ref, digest: response.Digest ?? "", config: response.Config ?? new Uint8Array() };
  }

  /** Ends the build: with an empty result, or with `error` as its failure. */
  async return(outcome: GatewayReturn = {}): Promise<void> {
    const request: ReturnRequest = outcome.error ? { error: errorStatus(outcome.error) } : { result: outcome.result ?? {} };
    await this.call<ReturnRequest, object>("Return", "ReturnRequest", "ReturnResponse", request);
  }

  private async call<Req, Res>(method: string, requestType: string, responseType: string, request: Req, timeoutMs?: number): Promise<Res> {
    if (this.signal?.aborted) throw new BuildError("CANCELLED", `${method} cancelled`);
    const encoded = codecFor<Req>(`moby.buildkit.v1.frontend.${requestType}`).encode(request);
    const options = { metadata: { [buildIdMetadataKey]: this.buildId }, timeoutMs, signal: this.signal };
    let response: Buffer;
    try {
      response = await this.control.connection.unary(`${service}${method}`, encoded, options);
    } catch (err) {
      throw err instanceof GrpcCallError ? gatewayError(err, method, this.control.address) : err;
    }
    return readAnswer<Res>(`moby.buildkit.v1.frontend.${responseType}`, response, method, this.control.address.raw);
  }
}

/** The gRPC status code of an error from a gateway call, if it came from the wire. */
export function grpcCodeOf(err: unknown): number | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "number") return code;
  }
  return undefined;
}

/** True when the bridge does not know the build (yet): it registers shortly after Solve starts. */
export function isUnknownBuild(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return grpcCodeOf(err) === GrpcStatus.NOT_FOUND && /no such job/.test(message);
}

const errorCodes: Record<string, ErrorCode> = {
  Solve: "GATEWAY_SOLVE_FAILED",
  ReadFile: "GATEWAY_READ_FAILED",
  ReadFileContainer: "GATEWAY_READ_FAILED",
  ReadDirContainer: "GATEWAY_READ_FAILED",
  StatFileContainer: "GATEWAY_READ_FAILED",
  NewContainer: "GATEWAY_CONTAINER_FAILED",
  ReleaseContainer: "GATEWAY_CONTAINER_FAILED",
  ResolveImageConfig: "GATEWAY_RESOLVE_FAILED",
  Ping: "GATEWAY_UNAVAILABLE",
  Return: "GATEWAY_RETURN_FAILED",
};

function gatewayError(err: GrpcCallError, method: string, daemon: DaemonAddress): Error {
  const message = err.details || err.message;
  // The bridge lives in the daemon: a connection failure is the daemon's.
  if (err.code === GrpcStatus.UNAVAILABLE) return unreachableError(daemon, message, err);
  if (err.code === GrpcStatus.CANCELLED) return new BuildError("CANCELLED", `${method} cancelled`, { cause: err });
  return new BuildError(errorCodes[method] ?? "DAEMON_ERROR", message, { cause: err });
}

function errorStatus(error: Error): RpcStatus {
  const code = grpcCodeOf(error);
  // UNKNOWN unless the failure already carries a status (e.g. a failed gateway call).
  return { code: code !== undefined && code !== GrpcStatus.OK ? code : GrpcStatus.UNKNOWN, message: error.message };
}
