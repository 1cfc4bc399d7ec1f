import { Duplex } from "node:stream";
import type { SessionCall } from "../client/control.ts";

/**
 * Presents the Control.Session call as a byte stream. The daemon speaks HTTP/2 over
 * it as the client; brewkit's gRPC server reads and writes it like a socket.
 */
export function sessionTunnel(call: SessionCall): Duplex {
  const send = (bytes: Uint8Array | readonly Uint8Array[], callback: (error?: Error | null) => void): void => {
    if (call.write(bytes)) callback();
    else call.once("drain", () => callback());
  };
  const tunnel = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (chunk.length === 0) return callback();
      send(chunk, callback);
    },
    // The HTTP/2 server writes each round of frames corked: sending them as one
    // message, rather than one per frame, is what keeps many small packets cheap.
    writev(chunks, callback) {
      // Encoded into one BytesMessage by the call's serializer, copying each part once.
      const parts = chunks.map((c) => c.chunk as Buffer).filter((part) => part.length > 0);
      if (parts.length === 0) return callback();
      send(parts, callback);
    },
    final(callback) {
      call.end();
      callback();
    },
    read() {
      call.resume();
    },
    destroy(error, callback) {
      call.cancel();
      callback(error);
    },
  });
  call.on("data", (chunk: Buffer) => {
    if (chunk.length > 0 && !tunnel.push(chunk)) call.pause();
  });
  call.on("end", () => tunnel.push(null));
  // Cancelling the call is how a session ends; the tunnel just closes.
  call.on("error", () => tunnel.push(null));
  return tunnel;
}
