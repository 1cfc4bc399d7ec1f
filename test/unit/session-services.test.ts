import grpc from "@grpc/grpc-js";
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, promises as fsp } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { decodeBytesMessage, encodeBytesMessage } from "../../src/client/bytes-message.ts";
import { UserInputError } from "../../src/errors.ts";
import { codecFor } from "../../src/proto/registry.ts";
import { SecretStore, maxSecretBytes } from "../../src/secrets/index.ts";
import type { SecretReader } from "../../src/secrets/index.ts";
import { secretsService } from "../../src/session/secrets-service.ts";
import { GrpcStatus, MessageReader, encodeGrpcMessage } from "../../src/grpc/wire.ts";
import { SessionGrpcServer } from "../../src/session/grpc-server.ts";
import type { ServerStreamCall } from "../../src/session/grpc-server.ts";
import type { SessionService } from "../../src/session/services.ts";
import { streamMethod, unaryMethod } from "../../src/session/services.ts";
import { defaultSshId, parseSshFlag, sshAgentSockets, sshService } from "../../src/session/ssh-service.ts";

const run = promisify(execFile);
const identity = (b: Buffer) => b;

let dir: string;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  // Short: unix socket paths are limited to ~107 bytes.
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "bk-svc-"));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await fsp.rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// A real grpc-js server and client over a unix socket, both with raw-bytes methods:
// the same shape as the daemon calling brewkit's session server.

async function serve(service: SessionService): Promise<{ client: grpc.Client; socketPath: string }> {
  const server = new SessionGrpcServer(new Map(Object.entries(service.methods)));
  const socketPath = path.join(dir, `grpc-${randomBytes(3).toString("hex")}.sock`);
  const listener = net.createServer((socket) => server.serve(socket));
  await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
  const client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
  cleanups.push(() => {
    client.close();
    server.close();
    return new Promise((resolve) => listener.close(resolve));
  });
  return { client, socketPath };
}

function unary(client: grpc.Client, method: string, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(method, identity, identity, request, (err, response) => (err ? reject(err) : resolve(response!)));
  });
}

async function unaryError(client: grpc.Client, method: string, request: Buffer): Promise<grpc.ServiceError> {
  try {
    await unary(client, method, request);
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error(`${method} succeeded`);
}

/** A ForwardAgent stream as the daemon opens it, collecting the agent's bytes. */
interface Forward {
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  /** Everything received so far, concatenated. */
  received(): Buffer;
  /** Resolves when `received()` has at least `n` bytes. */
  receivedAtLeast(n: number): Promise<Buffer>;
  status: Promise<grpc.StatusObject>;
}

function forward(client: grpc.Client, id?: string): Forward {
  const metadata = new grpc.Metadata();
  if (id !== undefined) metadata.set("buildkit.ssh.id", id);
  const call = client.makeBidiStreamRequest("/moby.sshforward.v1.SSH/ForwardAgent", identity, identity, metadata);
  const chunks: Buffer[] = [];
  let total = 0;
  const waiters: Array<() => void> = [];
  call.on("data", (message: Buffer) => {
    const data = decodeBytesMessage(message);
    chunks.push(data);
    total += data.length;
    for (const wake of waiters.splice(0)) wake();
  });
  call.on("error", () => {}); // the status carries it
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  const received = () => Buffer.concat(chunks);
  const receivedAtLeast = async (n: number) => {
    while (total < n) await new Promise<void>((resolve) => waiters.push(resolve));
    return received();
  };
  return { call, received, receivedAtLeast, status };
}

/** A unix socket server standing in for an ssh-agent. */
async function fakeAgent(onConnection: (socket: net.Socket) => void): Promise<string> {
  const socketPath = path.join(dir, `agent-${randomBytes(3).toString("hex")}.sock`);
  const connections = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
    socket.on("error", () => {}); // the peer may vanish when a test ends
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(() => {
    // Half-open connections the test left would keep the server from closing.
    for (const socket of connections) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return socketPath;
}

/** Writes `data` to a gRPC stream in BytesMessages of `size`, honouring backpressure. */
async function writeAll(call: grpc.ClientDuplexStream<Buffer, Buffer>, data: Buffer, size: number, onWritten?: (n: number) => void) {
  for (let offset = 0; offset < data.length; offset += size) {
    const chunk = data.subarray(offset, offset + size);
    const more = call.write(encodeBytesMessage(chunk));
    onWritten?.(offset + chunk.length);
    if (!more) await new Promise((resolve) => call.once("drain", resolve));
  }
}

/** The concatenated BytesMessage payloads of a gRPC response body (5-byte length-prefixed frames). */
function grpcMessages(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < body.length; ) {
    const length = body.readUInt32BE(offset + 1);
    parts.push(decodeBytesMessage(body.subarray(offset + 5, offset + 5 + length)));
    offset += 5 + length;
  }
  return Buffer.concat(parts);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------

describe("the session's gRPC message reader", () => {
  const frame = (m: Buffer) => Buffer.concat([Buffer.from([0, m.length >>> 24, (m.length >>> 16) & 0xff, (m.length >>> 8) & 0xff, m.length & 0xff]), m]);

  it("reassembles messages however the stream is cut, headers included", () => {
    const messages = [0, 1, 4, 5, 100, 16_384, 40_000, 3].map((n, i) => Buffer.alloc(n, i + 1));
    const stream = Buffer.concat(messages.map(frame));
    for (const cut of [1, 2, 3, 5, 7, 4096, 16_384, stream.length]) {
      const reader = new MessageReader();
      const got: Buffer[] = [];
      const errors: unknown[] = [];
      for (let at = 0; at < stream.length; at += cut) errors.push(reader.push(stream.subarray(at, at + cut), (m) => got.push(Buffer.from(m))));
      expect(errors.filter((e) => e !== undefined)).toEqual([]);
      expect(reader.end()).toBeUndefined();
      // As hex: comparing large Buffers element by element is slow.
      expect(got.map((m) => m.toString("hex"))).toEqual(messages.map((m) => m.toString("hex")));
    }
  });

  it("refuses compressed and oversized messages", () => {
    expect(new MessageReader().push(Buffer.from([1, 0, 0, 0, 1, 9]), () => {})?.code).toBe(GrpcStatus.UNIMPLEMENTED);
    expect(new MessageReader().push(Buffer.from([0, 0x7f, 0, 0, 0]), () => {})?.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(new MessageReader().push(Buffer.from([2, 0, 0, 0, 0]), () => {})?.details).toBe("invalid message flags 2");
  });

  it("after a framing error, keeps refusing and hands on nothing more", () => {
    const reader = new MessageReader();
    const got: Buffer[] = [];
    const first = reader.push(Buffer.from([0, 0x7f, 0, 0, 0]), (m) => got.push(m));
    expect(reader.push(frame(Buffer.from("a valid message")), (m) => got.push(m))).toBe(first);
    expect(got).toEqual([]);
    expect(reader.end()).toBe(first);
  });
});

describe("the session's gRPC server", () => {
  it("answers an unknown method with UNIMPLEMENTED", async () => {
    const { client } = await serve({ methods: {} });
    const err = await unaryError(client, "/no.Such/Method", Buffer.from("x"));
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(err.details).toContain("/no.Such/Method");
  });

  it("carries error details with any characters intact", async () => {
    const details = "kein Zugriff auf „ctx“: 100% sicher\nzweite Zeile";
    const { client } = await serve({ methods: { "/t.T/Fail": unaryMethod(async () => { throw new Error(details); }) } });
    const err = await unaryError(client, "/t.T/Fail", Buffer.alloc(0));
    expect(err.code).toBe(grpc.status.UNKNOWN);
    expect(err.details).toBe(details);
    expect(encodeGrpcMessage("a%b\u00e9")).toBe("a%25b%C3%A9");
  });

  it("reads repeated metadata values one by one", async () => {
    let seen: string[] = [];
    const { client } = await serve({
      methods: {
        "/t.T/Echo": streamMethod((call: ServerStreamCall) => {
          seen = call.metadata.get("x-pattern");
          call.end();
        }),
      },
    });
    const metadata = new grpc.Metadata();
    metadata.add("x-pattern", "a");
    metadata.add("x-pattern", "b,c");
    const call = client.makeBidiStreamRequest("/t.T/Echo", identity, identity, metadata);
    call.on("data", () => {});
    call.end();
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(seen.flatMap((v) => v.split(", "))).toEqual(["a", "b,c"]);
  });

  it("streams many messages both ways in order, and acknowledges writes without waiting for each to be flushed", async () => {
    const count = 5_000;
    let acknowledgedBeforeFirstTick = 0;
    const { client } = await serve({
      methods: {
        "/t.T/Stream": streamMethod((call: ServerStreamCall) => {
          let received = 0;
          call.on("data", (m: Buffer) => {
            expect(m.readUInt32BE(0)).toBe(received++);
          });
          call.on("end", () => {
            expect(received).toBe(count);
            let acknowledged = 0;
            for (let i = 0; i < count; i++) {
              const m = Buffer.alloc(4);
              m.writeUInt32BE(i);
              call.write(m, () => acknowledged++);
            }
            // A write waiting for the previous one to be flushed could not be acknowledged yet.
            setImmediate(() => (acknowledgedBeforeFirstTick = acknowledged));
            call.end();
          });
        }),
      },
    });
    const call = client.makeBidiStreamRequest("/t.T/Stream", identity, identity);
    const got: number[] = [];
    call.on("data", (m: Buffer) => got.push(m.readUInt32BE(0)));
    for (let i = 0; i < count; i++) {
      const m = Buffer.alloc(4);
      m.writeUInt32BE(i);
      call.write(m);
    }
    call.end();
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(got).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(acknowledgedBeforeFirstTick).toBeGreaterThan(100);
  });

  it("tells a stream handler when the caller cancels", async () => {
    let cancelled: () => void = () => {};
    const wasCancelled = new Promise<void>((resolve) => (cancelled = resolve));
    const { client } = await serve({ methods: { "/t.T/Hang": streamMethod((call: ServerStreamCall) => call.on("cancelled", cancelled)) } });
    const call = client.makeBidiStreamRequest("/t.T/Hang", identity, identity);
    call.on("error", () => {});
    call.write(Buffer.from("x"));
    await sleep(50);
    call.cancel();
    await wasCancelled;
    expect(GrpcStatus.CANCELLED).toBe(grpc.status.CANCELLED);
  });
});

describe("secretsService", () => {
  const requests = codecFor<{ ID: string; annotations?: Record<string, string> }>("moby.buildkit.secrets.v1.GetSecretRequest");
  const responses = codecFor<{ data: Uint8Array }>("moby.buildkit.secrets.v1.GetSecretResponse");
  const getSecret = "/moby.buildkit.secrets.v1.Secrets/GetSecret";

  it("answers a known id with its bytes, read at request time", async () => {
    const env: NodeJS.ProcessEnv = {};
    const { client } = await serve(secretsService(new SecretStore([{ kind: "env", id: "npm", env: "TOKEN", origin: "test" }], env), new Set(["npm"])));
    env.TOKEN = "s3cr\u00e9t";
    const response = await unary(client, getSecret, requests.encode({ ID: "npm", annotations: { a: "b" } }));
    expect(Buffer.from(responses.decode(response).data).toString("utf8")).toBe("s3cr\u00e9t");
  });

  it("answers an empty value with empty data", async () => {
    const { client } = await serve(secretsService(new SecretStore([{ kind: "env", id: "e", env: "E", origin: "t" }], { E: "" }), new Set(["e"])));
    const response = await unary(client, getSecret, requests.encode({ ID: "e" }));
    // proto3: empty bytes are not written, and read back as absent.
    expect(responses.decode(response).data ?? new Uint8Array()).toHaveLength(0);
  });

  it("answers NOT_FOUND for unknown ids and unset variables", async () => {
    const { client } = await serve(secretsService(new SecretStore([{ kind: "env", id: "unset", env: "NOPE", origin: "t" }], {}), new Set(["unknown", "unset"])));
    for (const id of ["unknown", "unset"]) {
      const err = await unaryError(client, getSecret, requests.encode({ ID: id }));
      expect(err.code).toBe(grpc.status.NOT_FOUND);
      expect(err.details).toBe(`secret "${id}" is not provided by the client`);
    }
  });

  it("serves only the ids the build names: another id answers NOT_FOUND without being read, though the store defines it", async () => {
    const reads: string[] = [];
    const store = new SecretStore(
      [
        { kind: "env", id: "named", env: "NAMED", origin: "t" },
        { kind: "env", id: "defined", env: "DEFINED", origin: "config.json" },
      ],
      { NAMED: "named-value", DEFINED: "defined-value" },
    );
    const reader: SecretReader = { read: (id) => (reads.push(id), store.read(id)) };
    const { client } = await serve(secretsService(reader, new Set(["named"])));
    const err = await unaryError(client, getSecret, requests.encode({ ID: "defined" }));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toBe(`secret "defined" is not named by any target of this build`);
    expect(err.details).not.toContain("defined-value");
    const response = await unary(client, getSecret, requests.encode({ ID: "named" }));
    expect(Buffer.from(responses.decode(response).data).toString()).toBe("named-value");
    expect(reads).toEqual(["named"]);
  });

  it("refuses values over 500 KiB without echoing them", async () => {
    const big = "k".repeat(maxSecretBytes + 1);
    const { client } = await serve(secretsService(new SecretStore([{ kind: "env", id: "big", env: "BIG", origin: "t" }], { BIG: big }), new Set(["big"])));
    const err = await unaryError(client, getSecret, requests.encode({ ID: "big" }));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toContain("larger than 500 KiB");
    expect(err.details).not.toContain("kkkk");

    // The cap holds for any reader, not only SecretStore.
    const reader: SecretReader = { read: async () => Buffer.alloc(maxSecretBytes + 1) };
    const { client: other } = await serve(secretsService(reader, new Set(["x"])));
    expect((await unaryError(other, getSecret, requests.encode({ ID: "x" }))).code).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it("reports a reader failure as INTERNAL", async () => {
    const { client } = await serve(secretsService({ read: async () => Promise.reject(new Error("vault sealed")) }, new Set(["x"])));
    const err = await unaryError(client, getSecret, requests.encode({ ID: "x" }));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe(`secret "x": vault sealed`);
  });

  it("never writes a value to the console or the process streams", async () => {
    const value = `needle-${randomBytes(8).toString("hex")}`;
    const seen: string[] = [];
    const record = (...args: unknown[]) => void seen.push(args.map(String).join(" "));
    const spies = [
      ...(["log", "info", "warn", "error", "debug", "trace"] as const).map((m) => vi.spyOn(console, m).mockImplementation(record)),
      vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (record(chunk), true)),
      vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (record(chunk), true)),
    ];
    try {
      const { client } = await serve(secretsService(new SecretStore([{ kind: "env", id: "s", env: "S", origin: "t" }], { S: value }), new Set(["s", "other"])));
      const response = await unary(client, getSecret, requests.encode({ ID: "s" }));
      expect(Buffer.from(responses.decode(response).data).toString()).toBe(value);
      await unaryError(client, getSecret, requests.encode({ ID: "other" }));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(seen.join("\n")).not.toContain(value);
  });
});

describe("sshService CheckAgent", () => {
  const checkAgent = "/moby.sshforward.v1.SSH/CheckAgent";
  const requests = codecFor<{ ID: string }>("moby.sshforward.v1.CheckAgentRequest");

  it("accepts known ids, reading an empty id as default, and refuses others with NOT_FOUND", async () => {
    const { client } = await serve(sshService(new Map([["default", "/unused"], ["github", "/unused"]])));
    expect(await unary(client, checkAgent, requests.encode({ ID: "github" }))).toHaveLength(0);
    expect(await unary(client, checkAgent, requests.encode({ ID: "" }))).toHaveLength(0);
    const err = await unaryError(client, checkAgent, requests.encode({ ID: "gitlab" }));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toContain(`"gitlab"`);

    const { client: withoutDefault } = await serve(sshService(new Map([["github", "/unused"]])));
    expect((await unaryError(withoutDefault, checkAgent, requests.encode({ ID: "" }))).code).toBe(grpc.status.NOT_FOUND);
  });
});

describe("sshService ForwardAgent (raw)", () => {
  it("pipes bytes both ways intact; daemon EOF half-closes the agent socket, agent EOF ends the stream", async () => {
    const agent = await fakeAgent((socket) => {
      const got: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => {
        got.push(chunk);
        socket.write(chunk); // echo
      });
      socket.on("end", () => socket.end(`\nEOF after ${Buffer.concat(got).length} bytes`)); // still writable: half-closed
    });
    const { client } = await serve(sshService(new Map([["default", agent]]), { raw: true }));
    const stream = forward(client, "default");
    const payload = randomBytes(3 << 20);
    await writeAll(stream.call, payload, 40_000);
    stream.call.end();
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.OK);
    const received = stream.received();
    expect(received.subarray(0, payload.length).equals(payload)).toBe(true);
    expect(received.subarray(payload.length).toString()).toBe(`\nEOF after ${payload.length} bytes`);
  });

  it("ends the stream with OK when the agent closes first", async () => {
    const agent = await fakeAgent((socket) => socket.end("bye"));
    const { client } = await serve(sshService(new Map([["default", agent]]), { raw: true }));
    const stream = forward(client); // no id metadata: default
    expect((await stream.status).code).toBe(grpc.status.OK);
    expect(stream.received().toString()).toBe("bye");
  });

  it("holds the daemon back while the agent does not read", async () => {
    let agentSocket: net.Socket | undefined;
    let agentBytes = 0;
    const agent = await fakeAgent((socket) => {
      agentSocket = socket;
      socket.pause();
      socket.on("data", (chunk: Buffer) => void (agentBytes += chunk.length));
      socket.on("end", () => socket.end());
    });
    const { client } = await serve(sshService(new Map([["default", agent]]), { raw: true }));
    const stream = forward(client);
    const payload = randomBytes(32 << 20);
    let written = 0;
    const writing = writeAll(stream.call, payload, 64 * 1024, (n) => (written = n));
    await sleep(500);
    // Kernel buffers, HTTP/2 windows and stream buffers hold a few MiB at most.
    expect(written).toBeLessThan(12 << 20);
    agentSocket!.resume();
    await writing;
    stream.call.end();
    expect((await stream.status).code).toBe(grpc.status.OK);
    expect(agentBytes).toBe(payload.length);
  });

  it("holds the agent back while the daemon does not read", async () => {
    const payload = randomBytes(32 << 20);
    let flushed = 0;
    let finished!: Promise<void>;
    const agent = await fakeAgent((socket) => {
      finished = (async () => {
        for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
          const chunk = payload.subarray(offset, offset + 64 * 1024);
          if (!socket.write(chunk)) await new Promise((resolve) => socket.once("drain", resolve));
          flushed = offset + chunk.length;
        }
        socket.end();
      })();
    });
    const { socketPath } = await serve(sshService(new Map([["default", agent]]), { raw: true }));
    // grpc-js clients keep reading into memory while paused; a plain HTTP/2 client
    // stops granting flow-control window like the daemon's grpc-go does.
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
    cleanups.push(() => session.destroy());
    const stream = session.request({
      ":method": "POST",
      ":path": "/moby.sshforward.v1.SSH/ForwardAgent",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.pause();
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on("trailers", resolve));
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => stream.on("end", resolve));
    await sleep(500);
    expect(flushed).toBeGreaterThan(0);
    expect(flushed).toBeLessThan(12 << 20);
    stream.resume();
    await finished;
    await ended;
    expect((await trailers)["grpc-status"]).toBe("0");
    expect(grpcMessages(Buffer.concat(chunks)).equals(payload)).toBe(true);
  });

  it("ends with NOT_FOUND for an unknown id", async () => {
    const { client } = await serve(sshService(new Map([["default", "/unused"]]), { raw: true }));
    const status = await forward(client, "gitlab").status;
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(status.details).toContain(`"gitlab"`);
  });

  it("ends with UNAVAILABLE when the agent socket cannot be reached", async () => {
    const missing = path.join(dir, "gone.sock");
    const { client } = await serve(sshService(new Map([["default", missing]]), { raw: true }));
    const status = await forward(client).status;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.details).toContain(`ssh agent "default" at ${missing}`);
  });
});

// ssh-agent wire format: uint32 length, then a type byte and its body.
const frame = (type: number, body: Buffer = Buffer.alloc(0)) => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(body.length + 1);
  header[4] = type;
  return Buffer.concat([header, body]);
};
const REQUEST_IDENTITIES = 11;
const IDENTITIES_ANSWER = 12;
const SIGN_REQUEST = 13;
const ADD_IDENTITY = 17;
const REMOVE_ALL_IDENTITIES = 19;
const LOCK = 22;
const EXTENSION = 27;
const FAILURE = 5;

describe("sshService ForwardAgent (read-only, the default)", () => {
  it("forwards only listing and signing, answering the rest itself in request order", async () => {
    const agentSaw: number[] = [];
    const agent = await fakeAgent((socket) => {
      let pending = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
          const type = pending[4]!;
          pending = pending.subarray(4 + pending.readUInt32BE(0));
          agentSaw.push(type);
          const seq = agentSaw.length;
          // Answer late, so refused requests behind this one must wait for it.
          setTimeout(() => socket.write(frame(type === REQUEST_IDENTITIES ? IDENTITIES_ANSWER : 14, Buffer.from([seq]))), 30);
        }
      });
      socket.on("end", () => setTimeout(() => socket.end(), 100));
    });
    const { client } = await serve(sshService(new Map([["default", agent]])));
    const stream = forward(client);
    const requests = Buffer.concat([
      frame(REQUEST_IDENTITIES),
      frame(REMOVE_ALL_IDENTITIES),
      frame(ADD_IDENTITY, Buffer.from("ssh-ed25519 key material")),
      frame(SIGN_REQUEST, Buffer.from("blob")),
      frame(LOCK, Buffer.from("pw")),
      frame(EXTENSION, Buffer.from("session-bind@openssh.com")),
    ]);
    // Byte by byte: frames split across messages must be reassembled.
    await writeAll(stream.call, requests, 1);
    stream.call.end();
    expect((await stream.status).code).toBe(grpc.status.OK);
    expect(agentSaw).toEqual([REQUEST_IDENTITIES, SIGN_REQUEST]);
    expect(stream.received()).toEqual(
      Buffer.concat([frame(IDENTITIES_ANSWER, Buffer.from([1])), frame(FAILURE), frame(FAILURE), frame(14, Buffer.from([2])), frame(FAILURE), frame(FAILURE)]),
    );
  });

  it("refuses a request larger than an agent accepts", async () => {
    const agent = await fakeAgent(() => {});
    const { client } = await serve(sshService(new Map([["default", agent]])));
    const stream = forward(client);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1 << 20);
    stream.call.write(encodeBytesMessage(header));
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain("exceeds");
  });
});

// ---------------------------------------------------------------------------
// A real OpenSSH agent behind the service.

interface RealAgent {
  socket: string;
  publicKey: string;
  privateKey: string;
}

async function startSshAgent(): Promise<RealAgent> {
  const socket = path.join(dir, "ssh-agent.sock");
  const agent: ChildProcess = spawn("ssh-agent", ["-D", "-a", socket], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<never>((_, reject) => {
    agent.on("error", reject); // ENOENT when ssh-agent is missing: the test fails
    agent.on("exit", (code) => reject(new Error(`ssh-agent exited (${code})`)));
  });
  cleanups.push(() => {
    if (agent.exitCode === null) agent.kill();
  });
  exited.catch(() => {});
  const deadline = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline) throw new Error("ssh-agent did not create its socket");
    await Promise.race([sleep(20), exited]);
  }
  const privateKey = path.join(dir, "id_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "brewkit-test-key", "-f", privateKey]);
  await run("ssh-add", [privateKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
  return { socket, publicKey: `${privateKey}.pub`, privateKey };
}

/**
 * The daemon's side of forwarding (BuildKit's sshforward.Copy): a unix socket whose
 * every connection becomes one ForwardAgent stream, so real ssh tools can use it.
 */
async function forwardedSocket(client: grpc.Client, id: string): Promise<string> {
  const socketPath = path.join(dir, "forwarded.sock");
  const server = net.createServer({ allowHalfOpen: true }, (conn) => {
    const metadata = new grpc.Metadata();
    metadata.set("buildkit.ssh.id", id);
    const call = client.makeBidiStreamRequest("/moby.sshforward.v1.SSH/ForwardAgent", identity, identity, metadata);
    call.on("error", () => conn.destroy());
    call.on("data", (message: Buffer) => {
      if (!conn.write(decodeBytesMessage(message))) call.pause();
    });
    conn.on("drain", () => call.resume());
    call.on("end", () => conn.end());
    conn.on("data", (chunk: Buffer) => {
      if (!call.write(encodeBytesMessage(chunk))) conn.pause();
    });
    call.on("drain", () => conn.resume());
    conn.on("end", () => call.end());
    conn.on("error", () => call.cancel());
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return socketPath;
}

function readString(buffer: Buffer, offset: number): [Buffer, number] {
  const length = buffer.readUInt32BE(offset);
  return [buffer.subarray(offset + 4, offset + 4 + length), offset + 4 + length];
}

describe("sshService with a real ssh-agent", () => {
  it("lists the agent's key through ForwardAgent (REQUEST_IDENTITIES → IDENTITIES_ANSWER)", async () => {
    const agent = await startSshAgent();
    const { client } = await serve(sshService(new Map([["default", agent.socket]])));
    const stream = forward(client, "default");
    stream.call.write(encodeBytesMessage(frame(REQUEST_IDENTITIES)));
    const head = await stream.receivedAtLeast(4);
    const reply = await stream.receivedAtLeast(4 + head.readUInt32BE(0));
    expect(reply[4]).toBe(IDENTITIES_ANSWER);
    expect(reply.readUInt32BE(5)).toBe(1);
    const [blob, next] = readString(reply, 9);
    const [comment] = readString(reply, next);
    expect(readString(blob, 0)[0].toString()).toBe("ssh-ed25519");
    expect(comment.toString()).toBe("brewkit-test-key");
    const publicKey = (await fsp.readFile(agent.publicKey, "utf8")).split(" ")[1];
    expect(blob.toString("base64")).toBe(publicKey);
    stream.call.end();
    expect((await stream.status).code).toBe(grpc.status.OK);
  });

  it("serves ssh-add -l and signing, but refuses ssh-add -D", async () => {
    const agent = await startSshAgent();
    const { client } = await serve(sshService(new Map([["github", agent.socket]])));
    const forwarded = await forwardedSocket(client, "github");
    const env = { ...process.env, SSH_AUTH_SOCK: forwarded };

    const listed = await run("ssh-add", ["-l"], { env });
    expect(listed.stdout).toContain("brewkit-test-key (ED25519)");

    // Sign with only the public key on disk: the private half is in the agent.
    await fsp.rm(agent.privateKey);
    const data = path.join(dir, "data.txt");
    await fsp.writeFile(data, "signed through the forwarded agent\n");
    await run("ssh-keygen", ["-Y", "sign", "-f", agent.publicKey, "-n", "brewkit", data], { env });
    const check = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn("ssh-keygen", ["-Y", "check-novalidate", "-n", "brewkit", "-s", `${data}.sig`], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d));
      child.stderr.on("data", (d: Buffer) => (out += d));
      child.on("error", reject);
      child.on("exit", (code) => resolve({ code, out }));
      child.stdin.end("signed through the forwarded agent\n");
    });
    expect(check.out).toContain(`Good "brewkit" signature`);
    expect(check.code).toBe(0);

    const removal = await run("ssh-add", ["-D"], { env }).then(
      () => "removed",
      (err: { code: number; stderr: string }) => `refused (${err.code}): ${err.stderr.trim()}`,
    );
    expect(removal).toMatch(/^refused \(1\)/);
    const direct = await run("ssh-add", ["-l"], { env: { ...process.env, SSH_AUTH_SOCK: agent.socket } });
    expect(direct.stdout).toContain("brewkit-test-key (ED25519)");
  });
});

// ---------------------------------------------------------------------------

describe("ssh agent sockets for a build", () => {
  const listen = async (name: string) => {
    const socketPath = path.join(dir, name);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return socketPath;
  };

  it("maps each id used to SSH_AUTH_SOCK unless an --ssh flag names its socket", async () => {
    const auth = await listen("auth.sock");
    const other = await listen("other.sock");
    const agents = sshAgentSockets(["", "default", "github"], [`github=${other}`], { SSH_AUTH_SOCK: auth });
    expect([...agents]).toEqual([
      [defaultSshId, auth],
      ["github", other],
    ]);
  });

  it("fails clearly when SSH_AUTH_SOCK is unset", () => {
    const err = (() => {
      try {
        sshAgentSockets(["default"], [], {});
      } catch (e) {
        return e as UserInputError;
      }
      throw new Error("no error");
    })();
    expect(err).toBeInstanceOf(UserInputError);
    expect(err.code).toBe("SSH_AGENT_MISSING");
    expect(err.message).toBe(`the build forwards ssh agent "default", but SSH_AUTH_SOCK is not set`);
    expect(err.hint).toContain("ssh-agent");
    expect(err.hint).toContain("--ssh default=");
  });

  it("fails clearly when the socket is missing or not a socket", async () => {
    const gone = path.join(dir, "gone.sock");
    expect(() => sshAgentSockets(["default"], [], { SSH_AUTH_SOCK: gone })).toThrow(
      `ssh agent "default": socket ${gone} (from SSH_AUTH_SOCK) does not exist`,
    );
    const file = path.join(dir, "id_ed25519");
    await fsp.writeFile(file, "key");
    expect(() => sshAgentSockets(["deploy"], [`deploy=${file}`], {})).toThrow(`ssh agent "deploy": ${file} (from --ssh deploy) is not a socket`);
  });

  it("returns an empty map when the build uses no ssh", () => {
    expect(sshAgentSockets([], [], {}).size).toBe(0);
  });

  it("parses --ssh flags like buildx", () => {
    expect(parseSshFlag("default", { SSH_AUTH_SOCK: "/run/agent.sock" })).toEqual({ id: "default", socket: "/run/agent.sock" });
    expect(parseSshFlag("github=sock", {}, "/home/u")).toEqual({ id: "github", socket: "/home/u/sock" });
    expect(() => parseSshFlag("=x", {})).toThrow(`invalid --ssh "=x": no id given`);
    expect(() => parseSshFlag("default=/a/key,/b/key", {})).toThrow("not key files");
    expect(() => parseSshFlag("default", {})).toThrow("SSH_AUTH_SOCK is not set");
  });
});
