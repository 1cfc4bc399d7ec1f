import { ContentStoreError, type BlobInfo, type IngestStatus, type LocalContentStore } from "../contentstore/local-store.ts";
import { GrpcStatus, StatusError, type GrpcStatusCode } from "../grpc/wire.ts";
import { codecFor } from "../proto/registry.ts";
import type {
  Containerd_Services_Content_V1_Info as Info,
  Containerd_Services_Content_V1_Status as Status,
  Containerd_Services_Content_V1_WriteContentRequest as WriteRequest,
  Containerd_Services_Content_V1_WriteContentResponse as WriteResponse,
  Google_Protobuf_Timestamp as Timestamp,
} from "../proto/generated.ts";
import type { CallMetadata, ServerStreamCall } from "./grpc-server.ts";
import type { SessionService } from "./services.ts";
import { streamMethod, unaryMethod } from "./services.ts";

const service = "/containerd.services.content.v1.Content/";
const storeIdHeader = "buildkit-attachable-store-id";
const readChunkBytes = 1 << 20;

const codec = <T>(name: string) => codecFor<T>(`containerd.services.content.v1.${name}`);

const codes: Record<ContentStoreError["kind"], GrpcStatusCode> = {
  "not-found": GrpcStatus.NOT_FOUND,
  "already-exists": GrpcStatus.ALREADY_EXISTS,
  invalid: GrpcStatus.INVALID_ARGUMENT,
  "failed-precondition": GrpcStatus.FAILED_PRECONDITION,
  "out-of-range": GrpcStatus.OUT_OF_RANGE,
  unavailable: GrpcStatus.UNAVAILABLE,
};

function statusError(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof ContentStoreError) return new StatusError(codes[err.kind], err.message);
  return new StatusError(GrpcStatus.INTERNAL, (err as Error).message);
}

function timestamp(date: Date): Timestamp {
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function infoMessage(info: BlobInfo): Info {
  return { digest: info.digest, size: info.size, created_at: timestamp(info.createdAt), updated_at: timestamp(info.updatedAt) };
}

function statusMessage(s: IngestStatus): Status {
  return { started_at: timestamp(s.startedAt), updated_at: timestamp(s.updatedAt), ref: s.ref, offset: s.offset, total: s.total, expected: s.expected };
}

/**
 * containerd.services.content.v1.Content over the session: the daemon reads and writes a
 * `type=local` build cache directory through it. Each call names its store with the
 * `buildkit-attachable-store-id` header (`local:<dir>`); only the stores given are served.
 * Labels are not kept (as with BuildKit's own client, whose local store has none).
 */
export function contentService(stores: ReadonlyMap<string, LocalContentStore>): SessionService {
  const storeOf = (metadata: CallMetadata): LocalContentStore => {
    const id = metadata.get(storeIdHeader)[0];
    if (id === undefined) throw new StatusError(GrpcStatus.INVALID_ARGUMENT, `request lacks metadata "${storeIdHeader}"`);
    const store = stores.get(id);
    if (!store) throw new StatusError(GrpcStatus.NOT_FOUND, `unknown store ${id}`);
    return store;
  };
  // `responseType` undefined: google.protobuf.Empty, which encodes to no bytes.
  const unary = <Req, Res>(requestType: string, responseType: string | undefined, handle: (store: LocalContentStore, request: Req) => Promise<Res>) =>
    unaryMethod(async (bytes, metadata) => {
      try {
        const store = storeOf(metadata);
        const response = await handle(store, codec<Req>(requestType).decode(bytes));
        return responseType === undefined ? Buffer.alloc(0) : codec<Res>(responseType).encode(response);
      } catch (err) {
        throw statusError(err);
      }
    });
  const empty = () => ({});
  // A server-streaming method: one request, then the responses, then OK.
  const serverStream = <Req>(requestType: string, serve: (store: LocalContentStore, request: Req, call: ServerStreamCall) => Promise<void>) =>
    streamMethod((call) => {
      (async () => {
        const store = storeOf(call.metadata);
        const iterator = call.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
        const first = await iterator.next();
        if (first.done) throw new StatusError(GrpcStatus.INVALID_ARGUMENT, "no request");
        await serve(store, codec<Req>(requestType).decode(first.value), call);
      })().then(
        () => call.end(),
        (err: unknown) => {
          const status = statusError(err);
          call.fail(status.code, status.message);
        },
      );
    });

  const write = (call: ServerStreamCall) => {
    const requests = codec<WriteRequest>("WriteContentRequest");
    const responses = codec<WriteResponse>("WriteContentResponse");
    let ref = "";
    let store: LocalContentStore | undefined;
    // The ref this stream holds the lock of, until it commits or goes away.
    const unlock = () => {
      if (store && ref) store.release(ref);
    };
    (async () => {
      store = storeOf(call.metadata);
      let total = 0;
      let expected = "";
      for await (const bytes of call.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        const request = requests.decode(bytes);
        const action = request.action ?? 0;
        if (ref === "") {
          await store.begin(request.ref ?? "", request.total ?? 0, request.expected ?? "");
          ref = request.ref ?? "";
        }
        if ((request.total ?? 0) > 0) total = request.total!;
        if (request.expected) expected = request.expected;
        let status = store.status(ref);
        const response: WriteResponse = { action, offset: status.offset };
        if (action === 0) {
          Object.assign(response, { digest: store.digestOf(ref), started_at: timestamp(status.startedAt), updated_at: timestamp(status.updatedAt), total });
        } else {
          status = await store.write(ref, request.offset ?? 0, request.data ?? new Uint8Array());
          response.offset = status.offset;
          response.digest = store.digestOf(ref);
          if (action === 2) {
            response.digest = await store.commit(ref, total, expected);
            Object.assign(response, { started_at: timestamp(status.startedAt), updated_at: timestamp(status.updatedAt), total: total || status.offset });
            ref = "";
          }
        }
        call.write(responses.encode(response));
        if (action === 2) break;
      }
    })().then(
      () => {
        unlock();
        call.end();
      },
      (err: unknown) => {
        unlock();
        const status = statusError(err);
        call.fail(status.code, status.message);
      },
    );
    call.once("cancelled", unlock);
  };

  return {
    methods: {
      [`${service}Info`]: unary<{ digest?: string }, object>("InfoRequest", "InfoResponse", async (store, r) => ({ info: infoMessage(await store.info(r.digest ?? "")) })),
      [`${service}Update`]: unary<{ info?: Info }, object>("UpdateRequest", "UpdateResponse", async (store, r) => ({ info: infoMessage(await store.info(r.info?.digest ?? "")) })),
      [`${service}Delete`]: unary<{ digest?: string }, object>("DeleteContentRequest", undefined, async (store, r) => {
        await store.delete(r.digest ?? "");
        return empty();
      }),
      [`${service}Status`]: unary<{ ref?: string }, object>("StatusRequest", "StatusResponse", async (store, r) => ({ status: statusMessage(store.status(r.ref ?? "")) })),
      [`${service}ListStatuses`]: unary<object, object>("ListStatusesRequest", "ListStatusesResponse", async (store) => ({ statuses: store.statuses().map(statusMessage) })),
      [`${service}Abort`]: unary<{ ref?: string }, object>("AbortRequest", undefined, async (store, r) => {
        await store.abort(r.ref ?? "");
        return empty();
      }),
      [`${service}List`]: serverStream<object>("ListContentRequest", async (store, _request, call) => {
        call.write(codec<object>("ListContentResponse").encode({ info: (await store.list()).map(infoMessage) }));
      }),
      [`${service}Read`]: serverStream<{ digest?: string; offset?: number; size?: number }>("ReadContentRequest", async (store, request, call) => {
        const handle = await store.open(request.digest ?? "");
        try {
          const { size: blobSize } = await handle.stat();
          let offset = Math.max(0, request.offset ?? 0);
          const end = request.size && request.size > 0 ? Math.min(blobSize, offset + request.size) : blobSize;
          const responses = codec<{ offset: number; data: Uint8Array }>("ReadContentResponse");
          while (offset < end) {
            const buffer = Buffer.allocUnsafe(Math.min(readChunkBytes, end - offset));
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
            if (bytesRead === 0) break;
            const ok = call.write(responses.encode({ offset, data: buffer.subarray(0, bytesRead) }));
            offset += bytesRead;
            if (!ok) await new Promise((resolve) => call.once("drain", resolve));
          }
        } finally {
          await handle.close();
        }
      }),
      [`${service}Write`]: streamMethod(write),
    },
  };
}
