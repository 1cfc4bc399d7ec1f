import type { MethodHandler, StreamHandler, UnaryHandler } from "./grpc-server.ts";

/** A service brewkit serves on the session: its methods by full path (`/package.Service/Method`). */
export interface SessionService {
  readonly methods: Readonly<Record<string, MethodHandler>>;
}

/** A method with one request and one response message. */
export function unaryMethod(handle: UnaryHandler): MethodHandler {
  return { kind: "unary", handle };
}

/** A method with a stream of messages each way. */
export function streamMethod(handle: StreamHandler): MethodHandler {
  return { kind: "stream", handle };
}
