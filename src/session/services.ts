import type grpc from "@grpc/grpc-js";

const identity = (b: Buffer) => b;

/** A gRPC method whose messages are passed through as raw bytes. */
export function rawMethod(path: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** A service brewkit serves on the session, with the methods it advertises. */
export interface SessionService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}
