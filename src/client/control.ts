import { BuildError, ProtocolError } from "../errors.ts";
import { GrpcStatus } from "../grpc/wire.ts";
import { DecodeError } from "../proto/decode.ts";
import { codecFor } from "../proto/registry.ts";
import type {
  Moby_Buildkit_V1_SolveRequest as SolveRequest,
  Moby_Buildkit_V1_SolveResponse as SolveResponse,
  Moby_Buildkit_V1_StatusResponse as StatusResponse,
  Moby_Buildkit_V1_ListWorkersResponse as ListWorkersResponse,
  Moby_Buildkit_V1_InfoResponse as InfoResponse,
  Moby_Buildkit_V1_DiskUsageRequest as DiskUsageRequest,
  Moby_Buildkit_V1_DiskUsageResponse as DiskUsageResponse,
  Moby_Buildkit_V1_PruneRequest as PruneRequest,
  Moby_Buildkit_V1_UsageRecord as UsageRecord,
  Moby_Buildkit_V1_Types_WorkerRecord as WorkerRecord,
} from "../proto/generated.ts";
import type { DaemonAddress } from "./address.ts";
import { GrpcCallError, GrpcConnection, type GrpcCall } from "./grpc-connection.ts";
import { unreachableError } from "./unreachable.ts";

const service = "/moby.buildkit.v1.Control/";

/** How long a first call waits for an unreachable daemon before giving up. */
const connectTimeoutMs = 2_000;

/** A client of BuildKit's Control service on one daemon connection. */
export class ControlClient {
  readonly address: DaemonAddress;
  /** The connection; the gateway client shares it. */
  readonly connection: GrpcConnection;

  constructor(address: DaemonAddress) {
    this.address = address;
    this.connection = new GrpcConnection(address);
  }

  /** Lists the daemon's workers; also the cheapest proof that the daemon answers. */
  async listWorkers(timeoutMs = connectTimeoutMs): Promise<WorkerRecord[]> {
    const res = await this.unary<object, ListWorkersResponse>("ListWorkers", "moby.buildkit.v1.ListWorkersRequest", "moby.buildkit.v1.ListWorkersResponse", {}, timeoutMs);
    return res.record ?? [];
  }

  /** The daemon's BuildKit version. */
  async info(timeoutMs = connectTimeoutMs): Promise<InfoResponse> {
    return this.unary("Info", "moby.buildkit.v1.InfoRequest", "moby.buildkit.v1.InfoResponse", {}, timeoutMs);
  }

  /** Runs one solve; resolves when the build and its exports are finished. */
  solve(request: SolveRequest, signal?: AbortSignal): Promise<SolveResponse> {
    return this.unary("Solve", "moby.buildkit.v1.SolveRequest", "moby.buildkit.v1.SolveResponse", request, undefined, signal);
  }

  /** The progress stream of the build `ref` (may be opened before its Solve). */
  async *status(ref: string, signal?: AbortSignal): AsyncGenerator<StatusResponse> {
    const request = codecFor<{ Ref: string }>("moby.buildkit.v1.StatusRequest").encode({ Ref: ref });
    for await (const message of this.connection.serverStream(`${service}Status`, request, { signal })) yield readAnswer<StatusResponse>("moby.buildkit.v1.StatusResponse", message, "Status", this.address.raw);
  }

  /** Opens the session tunnel; the call's stream carries the raw bytes of the session in BytesMessages. */
  openSession(metadata: Readonly<Record<string, string | readonly string[]>>): GrpcCall {
    return this.connection.startCall(`${service}Session`, { metadata });
  }

  /** Cache records of the daemon. */
  async diskUsage(request: DiskUsageRequest = {}): Promise<UsageRecord[]> {
    const res = await this.unary<DiskUsageRequest, DiskUsageResponse>("DiskUsage", "moby.buildkit.v1.DiskUsageRequest", "moby.buildkit.v1.DiskUsageResponse", request);
    return res.record ?? [];
  }

  /** Prunes cache records; resolves with the records removed. */
  async prune(request: PruneRequest = {}): Promise<UsageRecord[]> {
    const encoded = codecFor<PruneRequest>("moby.buildkit.v1.PruneRequest").encode(request);
    const removed: UsageRecord[] = [];
    try {
      for await (const message of this.connection.serverStream(`${service}Prune`, encoded)) removed.push(readAnswer<UsageRecord>("moby.buildkit.v1.UsageRecord", message, "Prune", this.address.raw));
    } catch (err) {
      throw this.wrap(err, "Prune");
    }
    return removed;
  }

  /** Closes the connection. */
  close(): void {
    this.connection.close();
  }

  private async unary<Req, Res>(method: string, reqType: string, resType: string, request: Req, timeoutMs?: number, signal?: AbortSignal): Promise<Res> {
    const encoded = codecFor<Req>(reqType).encode(request);
    let response: Buffer;
    try {
      response = await this.connection.unary(`${service}${method}`, encoded, { timeoutMs, signal });
    } catch (err) {
      throw this.wrap(err, method);
    }
    return readAnswer<Res>(resType, response, method, this.address.raw);
  }

  /** Turns a gRPC failure into a typed error that names the daemon. */
  wrap(err: unknown, method: string): Error {
    if (!(err instanceof GrpcCallError)) return err instanceof Error ? err : new Error(String(err));
    if (err.code === GrpcStatus.UNAVAILABLE || (err.code === GrpcStatus.DEADLINE_EXCEEDED && method !== "Solve")) {
      return unreachableError(this.address, err.details, err);
    }
    if (err.code === GrpcStatus.CANCELLED) return new BuildError("CANCELLED", `${method} cancelled`, { cause: err });
    return new BuildError("DAEMON_ERROR", err.details || err.message, { cause: err });
  }
}

/** Decodes the daemon's answer to `method` as `typeName`; one that is not such a message is a ProtocolError. */
export function readAnswer<T>(typeName: string, bytes: Uint8Array, method: string, daemon: string): T {
  try {
    return codecFor<T>(typeName).decode(bytes);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    throw new ProtocolError("DAEMON_PROTOCOL", `the daemon at ${daemon} answered ${method} with a message brewkit cannot read: ${err.message}`, {
      hint: "check that --addr / BUILDKIT_HOST points at a BuildKit daemon",
      cause: err,
    });
  }
}
