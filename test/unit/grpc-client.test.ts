// brewkit's gRPC client (src/client/grpc-connection.ts) against grpc-js's server, an
// independent implementation of the protocol: unary and streaming calls, statuses,
// deadlines, cancellation, TLS with client certificates; and the session tunnel's
// BytesMessage framing, however the stream is cut.
import grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseDaemonAddress } from "../../src/client/address.ts";
import { encodeBytesMessage } from "../../src/client/bytes-message.ts";
import { GrpcCallError, GrpcConnection } from "../../src/client/grpc-connection.ts";
import { framePrefix, GrpcStatus } from "../../src/grpc/wire.ts";
import { bytesMessageHeader, BytesMessageSplitter, sessionTunnel } from "../../src/session/tunnel.ts";
import { makeCertificates } from "../support/tls.ts";

const identity = (b: Buffer) => b;

let dir: string;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "bk-grpc-"));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A grpc-js server with raw-bytes handlers, on a unix socket or on TLS. */
async function serve(handlers: grpc.UntypedServiceImplementation, definition: grpc.ServiceDefinition, credentials = grpc.ServerCredentials.createInsecure(), port?: number): Promise<string> {
  const server = new grpc.Server();
  server.addService(definition, handlers);
  const address = port === undefined ? `unix://${path.join(dir, `s-${randomBytes(3).toString("hex")}.sock`)}` : `127.0.0.1:${port}`;
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(address, credentials, (err, p) => (err ? reject(err) : resolve(p))));
  cleanups.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return port === undefined ? address : `tcp://127.0.0.1:${bound}`;
}

const method = (name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

const echoService: grpc.ServiceDefinition = {
  Echo: method("Echo", false, false),
  Fail: method("Fail", false, false),
  Slow: method("Slow", false, false),
  Count: method("Count", false, true),
  Pipe: method("Pipe", true, true),
  Headers: method("Headers", false, false),
};

let slowStarted: () => void = () => undefined;
let slowCancelled: Promise<void> = Promise.resolve();

const echoHandlers: grpc.UntypedServiceImplementation = {
  Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.concat([Buffer.from("echo:"), call.request])),
  Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback({ code: grpc.status.NOT_FOUND, details: "no such job: 100% ünknown\nline two" }),
  Slow: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => {
    slowCancelled = new Promise((resolve) => call.on("cancelled", () => resolve()));
    slowStarted();
  },
  Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
    const n = call.request.readUInt32BE(0);
    for (let i = 0; i < n; i++) call.write(Buffer.from(String(i)));
    call.end();
  },
  Pipe: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    call.on("data", (m: Buffer) => call.write(m));
    call.on("end", () => call.end());
  },
  Headers: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.from(JSON.stringify(call.metadata.getMap()))),
};

function connection(address: string, tls = {}): GrpcConnection {
  const c = new GrpcConnection(parseDaemonAddress(address, tls));
  cleanups.push(() => c.close());
  return c;
}

async function callError(promise: Promise<unknown>): Promise<GrpcCallError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GrpcCallError);
  return err as GrpcCallError;
}

describe("GrpcConnection", () => {
  it("makes unary calls with metadata, many at once on one connection", async () => {
    const c = connection(await serve(echoHandlers, echoService));
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => c.unary("/test.Echo/Echo", Buffer.from(`m${i}`))));
    expect(answers.map(String)).toEqual(Array.from({ length: 20 }, (_, i) => `echo:m${i}`));
    const headers = JSON.parse(String(await c.unary("/test.Echo/Headers", Buffer.alloc(0), { metadata: { "x-one": "1", "x-many": ["a", "b"] } }))) as Record<string, string>;
    expect(headers["x-one"]).toBe("1");
    expect(headers["x-many"]).toBe("a, b");
  });

  it("sends and receives messages larger than a frame and than a flow-control window", async () => {
    const c = connection(await serve(echoHandlers, echoService));
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const answer = await c.unary("/test.Echo/Echo", big);
    expect(answer.length).toBe(big.length + 5);
    expect(answer.subarray(5).equals(big)).toBe(true);
  });

  it("reports the status code and the decoded message of a failed call", async () => {
    const c = connection(await serve(echoHandlers, echoService));
    const err = await callError(c.unary("/test.Echo/Fail", Buffer.alloc(0)));
    expect(err.code).toBe(GrpcStatus.NOT_FOUND);
    expect(err.details).toBe("no such job: 100% ünknown\nline two");
    expect(err.method).toBe("/test.Echo/Fail");
    const unknown = await callError(c.unary("/test.Nope/Nothing", Buffer.alloc(0)));
    expect(unknown.code).toBe(GrpcStatus.UNIMPLEMENTED);
  });

  it("streams responses in order and ends with the call's status", async () => {
    const c = connection(await serve(echoHandlers, echoService));
    const n = Buffer.alloc(4);
    n.writeUInt32BE(500);
    const got: string[] = [];
    for await (const m of c.serverStream("/test.Echo/Count", n)) got.push(String(m));
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => String(i)));
  });

  it("ends a call at its deadline, and cancels one when asked; the server hears of both", async () => {
    const c = connection(await serve(echoHandlers, echoService));
    let started = new Promise<void>((resolve) => (slowStarted = resolve));
    const late = await callError(c.unary("/test.Echo/Slow", Buffer.alloc(0), { timeoutMs: 200 }));
    expect(late.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    await started;
    await slowCancelled;

    started = new Promise<void>((resolve) => (slowStarted = resolve));
    const abort = new AbortController();
    const pending = callError(c.unary("/test.Echo/Slow", Buffer.alloc(0), { signal: abort.signal }));
    await started;
    abort.abort();
    expect((await pending).code).toBe(GrpcStatus.CANCELLED);
    await slowCancelled;
  });

  it("fails with UNAVAILABLE, naming the reason, when nothing listens", async () => {
    const c = connection(`unix://${path.join(dir, "nobody.sock")}`);
    const err = await callError(c.unary("/test.Echo/Echo", Buffer.alloc(0)));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.details).toMatch(/ENOENT/);
  });

  it("connects again after the connection was lost", async () => {
    const address = await serve(echoHandlers, echoService);
    const c = connection(address);
    expect(String(await c.unary("/test.Echo/Echo", Buffer.from("1")))).toBe("echo:1");
    (c as unknown as { session?: { destroy(): void } }).session?.destroy();
    expect(String(await c.unary("/test.Echo/Echo", Buffer.from("2")))).toBe("echo:2");
  });

  it("speaks TLS with a client certificate, and verifies the server's name", async () => {
    const tls = await makeCertificates(dir);
    const read = (file: string) => fsp.readFile(file);
    const credentials = grpc.ServerCredentials.createSsl(await read(tls.caFile), [{ private_key: await read(tls.serverKeyFile), cert_chain: await read(tls.serverCertFile) }], true);
    const address = await serve(echoHandlers, echoService, credentials, 0);
    const files = { caCert: tls.caFile, cert: tls.clientCertFile, key: tls.clientKeyFile };
    expect(String(await connection(address, { ...files, serverName: "buildkitd.test" }).unary("/test.Echo/Echo", Buffer.from("tls")))).toBe("echo:tls");
    // The certificate is for buildkitd.test, not for 127.0.0.1.
    const wrongName = await callError(connection(address, files).unary("/test.Echo/Echo", Buffer.alloc(0)));
    expect(wrongName.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(wrongName.details).toMatch(/altnames|certificate|IP/i);
    // Without a client certificate the server refuses the connection.
    const noClientCert = await callError(connection(address, { caCert: tls.caFile, serverName: "buildkitd.test" }).unary("/test.Echo/Echo", Buffer.alloc(0)));
    expect(noClientCert.code).toBe(GrpcStatus.UNAVAILABLE);
  });
});

describe("the session tunnel", () => {
  it("carries bytes both ways through a bidirectional call, in BytesMessages", async () => {
    const c = connection(await serve(echoHandlers, echoService));
    const call = c.startCall("/test.Echo/Pipe");
    const tunnel = sessionTunnel(call);
    const sent = randomBytes(3 * 1024 * 1024);
    const received: Buffer[] = [];
    tunnel.on("data", (d: Buffer) => received.push(d));
    const ended = new Promise((resolve) => tunnel.on("end", resolve));
    for (let at = 0; at < sent.length; at += 70_000) tunnel.write(sent.subarray(at, at + 70_000));
    tunnel.end();
    await ended;
    expect(Buffer.concat(received).equals(sent)).toBe(true);
  });

  it("frames a BytesMessage as the protobuf encoder does", () => {
    for (const n of [1, 127, 128, 16_383, 16_384, 2_000_000]) {
      const data = randomBytes(n);
      const framed = Buffer.concat([bytesMessageHeader(n), data]);
      const encoded = encodeBytesMessage(data);
      expect(framed.readUInt32BE(1)).toBe(encoded.length);
      expect(framed.subarray(5).equals(encoded)).toBe(true);
    }
  });

  it("hands on the data of BytesMessages however the stream is cut, skipping other fields", () => {
    const payloads = [randomBytes(1), randomBytes(200), Buffer.alloc(0), randomBytes(70_000), randomBytes(3)];
    // An unknown varint field (2), an unknown fixed32 field (3) and a second data field in one message.
    const extra = Buffer.concat([Buffer.from([0x10, 0x96, 0x01, 0x1d, 1, 2, 3, 4]), encodeBytesMessage(Buffer.from("tail"))]);
    const messages = [...payloads.map((p) => encodeBytesMessage(p)), extra];
    const stream = Buffer.concat(messages.flatMap((m) => [framePrefix(m.length), m]));
    const expected = Buffer.concat([...payloads, Buffer.from("tail")]);
    for (const cut of [1, 2, 3, 5, 7, 16_384, stream.length]) {
      const splitter = new BytesMessageSplitter();
      const out: Buffer[] = [];
      const errors: unknown[] = [];
      for (let at = 0; at < stream.length; at += cut) errors.push(splitter.push(stream.subarray(at, at + cut), (d) => out.push(d)));
      expect(errors.filter((e) => e !== undefined)).toEqual([]);
      expect(Buffer.concat(out).equals(expected)).toBe(true);
    }
  });

  it("refuses compressed messages and fields that run past their message", () => {
    expect(new BytesMessageSplitter().push(Buffer.from([1, 0, 0, 0, 1, 0]), () => undefined)?.message).toMatch(/compressed/);
    // A 2-byte message whose data field claims 10 bytes.
    expect(new BytesMessageSplitter().push(Buffer.from([0, 0, 0, 0, 2, 0x0a, 10]), () => undefined)?.message).toMatch(/past the end/);
    // Field number 0, which protobuf does not have.
    expect(new BytesMessageSplitter().push(Buffer.from([0, 0, 0, 0, 2, 0x02, 0]), () => undefined)?.message).toMatch(/invalid field number 0/);
  });
});
