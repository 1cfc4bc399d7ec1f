import grpc from "@grpc/grpc-js";
import { DaemonError, BuildError } from "../errors.ts";
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
import { decodeBytesMessage, encodeBytesMessage } from "./bytes-message.ts";

/** BuildKit's gRPC message size limit, both ways. */
export const maxMessageBytes = 16 << 20;

/** The Control.Session call: bytes of the tunnelled connection, written whole or in parts. */
export type SessionCall = grpc.ClientDuplexStream<Uint8Array | readonly Uint8Array[], Buffer>;

const service = "/moby.buildkit.v1.Control/";

/** How long a first call waits for an unreachable daemon before giving up. */
const connectTimeoutMs = 2_000;

function serializer<T>(typeName: string): [(v: T) => Buffer, (b: Buffer) => T] {
  const codec = codecFor<T>(typeName);
  return [(v) => codec.encode(v), (b) => codec.decode(b)];
}

/** A client of BuildKit's Control service on one daemon connection. */
export class ControlClient {
  readonly address: DaemonAddress;
  /** The underlying channel; the gateway client shares it. */
  readonly grpcClient: grpc.Client;

  constructor(address: DaemonAddress) {
    this.address = address;
    this.grpcClient = new grpc.Client(address.target, address.credentials, {
      ...address.channelOptions,
      "grpc.max_receive_message_length": maxMessageBytes,
      "grpc.max_send_message_length": maxMessageBytes,
      // The daemon answers pings more often than every 5 minutes with GOAWAY.
      "grpc.keepalive_time_ms": 2 ** 31 - 1,
    });
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
  status(ref: string, signal?: AbortSignal): AsyncIterable<StatusResponse> {
    const [ser] = serializer<{ Ref: string }>("moby.buildkit.v1.StatusRequest");
    const [, deserRes] = serializer<StatusResponse>("moby.buildkit.v1.StatusResponse");
    const call = this.grpcClient.makeServerStreamRequest(`${service}Status`, ser, deserRes, { Ref: ref }, new grpc.Metadata());
    signal?.addEventListener("abort", () => call.cancel(), { once: true });
    return call as AsyncIterable<StatusResponse>;
  }

  /** Opens the session tunnel: a raw byte stream carried in BytesMessages. */
  openSession(metadata: grpc.Metadata): SessionCall {
    return this.grpcClient.makeBidiStreamRequest(`${service}Session`, encodeBytesMessage, decodeBytesMessage, metadata);
  }

  /** Cache records of the daemon. */
  async diskUsage(request: DiskUsageRequest = {}): Promise<UsageRecord[]> {
    const res = await this.unary<DiskUsageRequest, DiskUsageResponse>("DiskUsage", "moby.buildkit.v1.DiskUsageRequest", "moby.buildkit.v1.DiskUsageResponse", request);
    return res.record ?? [];
  }

  /** Prunes cache records; resolves with the records removed. */
  async prune(request: PruneRequest = {}): Promise<UsageRecord[]> {
    const [ser] = serializer<PruneRequest>("moby.buildkit.v1.PruneRequest");
    const [, deser] = serializer<UsageRecord>("moby.buildkit.v1.UsageRecord");
    const call = this.grpcClient.makeServerStreamRequest(`${service}Prune`, ser, deser, request, new grpc.Metadata());
    const removed: UsageRecord[] = [];
    try {
      for await (const record of call as AsyncIterable<UsageRecord>) removed.push(record);
    } catch (err) {
      throw this.wrap(err, "Prune");
    }
    return removed;
  }

  /** Closes the channel. */
  close(): void {
    this.grpcClient.close();
  }

  private unary<Req, Res>(method: string, reqType: string, resType: string, request: Req, timeoutMs?: number, signal?: AbortSignal): Promise<Res> {
    const [ser] = serializer<Req>(reqType);
    const [, deser] = serializer<Res>(resType);
    const options: grpc.CallOptions = timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
    return new Promise<Res>((resolve, reject) => {
      const call = this.grpcClient.makeUnaryRequest(`${service}${method}`, ser, deser, request, new grpc.Metadata(), options, (err, res) => {
        if (err) reject(this.wrap(err, method));
        else resolve(res as Res);
      });
      signal?.addEventListener("abort", () => call.cancel(), { once: true });
    });
  }

  /** Turns a gRPC failure into a typed error that names the daemon. */
  wrap(err: unknown, method: string): Error {
    const status = err as grpc.ServiceError;
    if (status?.code === grpc.status.UNAVAILABLE || status?.code === grpc.status.DEADLINE_EXCEEDED && method !== "Solve") {
      return new DaemonError("DAEMON_UNREACHABLE", `cannot reach the BuildKit daemon at ${this.address.raw}: ${status.details || status.message}`, {
        hint: "start it with `brewkit daemon start`, or point --addr / BUILDKIT_HOST at a running buildkitd",
        cause: err,
      });
    }
    if (status?.code === grpc.status.CANCELLED) return new BuildError("CANCELLED", `${method} cancelled`, { cause: err });
    if (typeof status?.code === "number") {
      return new BuildError("DAEMON_ERROR", status.details || status.message, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}
