// brewkit's gRPC client and session server against peers that break the protocol: grpc-js
// where it can play the part, raw HTTP/2 (node:http2) where a peer must do what no gRPC
// library does (an HTML page, a truncated frame, a reset mid-stream, GOAWAY, a second
// unary response, a peer that stops answering). Each failure must come out as the right
// status, promptly, without reading on or keeping anything open.
import grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, promises as fsp, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Duplex } from "node:stream";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseDaemonAddress } from "../../src/client/address.ts";
import { ControlClient } from "../../src/client/control.ts";
import { GrpcCallError, GrpcConnection, type ConnectionOptions } from "../../src/client/grpc-connection.ts";
import { DaemonError } from "../../src/errors.ts";
import { framePrefix, grpcTimeout, GrpcStatus, maxMessageBytes } from "../../src/grpc/wire.ts";
import { SessionGrpcServer, type ServerStreamCall } from "../../src/session/grpc-server.ts";
import { streamMethod, unaryMethod } from "../../src/session/services.ts";
import { maxTunnelDataBytes, sessionTunnel } from "../../src/session/tunnel.ts";
import { makeCertificates } from "../support/tls.ts";

const identity = (b: Buffer) => b;

let dir: string;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "bk-hostile-"));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A message with its gRPC prefix. */
const frame = (message: Buffer) => Buffer.concat([framePrefix(message.length), message]);

/** Resolves with the first value `emitter` emits for `event`. */
function next<T>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}

/** Resolves when `stream` has closed. */
function closed(stream: http2.Http2Stream): Promise<void> {
  return stream.closed ? Promise.resolve() : next(stream, "close");
}

async function callError(promise: Promise<unknown>): Promise<GrpcCallError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GrpcCallError);
  return err as GrpcCallError;
}

// ---------------------------------------------------------------------------
// Peers.

/** A raw HTTP/2 server on loopback TCP; `onStream` plays the hostile part. Every stream it sees is kept. */
async function rawServer(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void, onSession: (session: http2.ServerHttp2Session) => void = () => undefined) {
  const server = http2.createServer();
  const streams: http2.ServerHttp2Stream[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("error", () => undefined);
    onSession(session);
  });
  server.on("stream", (stream, headers) => {
    streams.push(stream);
    stream.on("error", () => undefined);
    onStream(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const session of sessions) session.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { address: `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, streams, sessions };
}

/** Answers a gRPC call with `messages`, then an OK status in trailers. */
function answer(stream: http2.ServerHttp2Stream, messages: Buffer[], status = "0"): void {
  stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": status }));
  for (const m of messages) stream.write(frame(m));
  stream.end();
}

function connection(address: string, options: ConnectionOptions = {}): GrpcConnection {
  const c = new GrpcConnection(parseDaemonAddress(address), options);
  cleanups.push(() => c.close());
  return c;
}

/** A grpc-js server with raw-bytes methods on loopback TCP. */
async function grpcServer(handlers: grpc.UntypedServiceImplementation, options: grpc.ServerOptions = {}): Promise<string> {
  const server = new grpc.Server(options);
  const method = (name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
    path: `/test.Peer/${name}`,
    requestStream,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  });
  server.addService({ Echo: method("Echo", false, false), Fail: method("Fail", false, false), Hold: method("Hold", false, false), Pipe: method("Pipe", true, true) }, handlers);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  cleanups.push(() => server.forceShutdown());
  return `tcp://127.0.0.1:${port}`;
}

/**
 * A TCP proxy in front of `port` that can be frozen: it then stops passing bytes either
 * way and keeps the sockets open, as a daemon (or a network) that vanished would.
 */
async function freezableProxy(port: number) {
  const pairs: [net.Socket, net.Socket][] = [];
  let frozen = false;
  const proxy = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    pairs.push([client, upstream]);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on("data", (chunk) => {
        if (!frozen) to.write(chunk);
      });
      from.on("error", () => to.destroy());
      from.on("close", () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const [a, b] of pairs) a.destroy(), b.destroy();
    return new Promise((resolve) => proxy.close(resolve));
  });
  return {
    address: `tcp://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    freeze: () => {
      frozen = true;
    },
  };
}

// ---------------------------------------------------------------------------

describe("the client against a hostile server", () => {
  it("reports an HTML page answered with 200 as not gRPC, naming its content-type", async () => {
    const server = await rawServer((stream) => {
      stream.respond({ ":status": 200, "content-type": "text/html; charset=utf-8" });
      stream.end("<html><body>Welcome to nginx!</body></html>");
    });
    const err = await callError(connection(server.address).unary("/test.Peer/Echo", Buffer.from("x")));
    expect(err.code).toBe(GrpcStatus.UNKNOWN);
    expect(err.details).toBe('received content-type "text/html; charset=utf-8", not a gRPC response');
  });

  it("reports another HTTP status with its gRPC code, without reading the page as messages", async () => {
    const server = await rawServer((stream) => {
      stream.respond({ ":status": 503, "content-type": "text/html" });
      stream.end(Buffer.concat([Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(100)]));
    });
    const err = await callError(connection(server.address).unary("/test.Peer/Echo", Buffer.from("x")));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.details).toBe("received HTTP status 503 (text/html), not a gRPC response");
  });

  it("fails a response stream that ends inside a message, even when the server then says OK", async () => {
    const server = await rawServer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.write(frame(Buffer.from("whole")));
      // A prefix announcing 10 bytes, and 3 of them.
      stream.end(Buffer.concat([framePrefix(10), Buffer.from("abc")]));
    });
    const got: string[] = [];
    const err = await callError(
      (async () => {
        for await (const m of connection(server.address).serverStream("/test.Peer/Count", Buffer.alloc(0))) got.push(String(m));
      })(),
    );
    expect(got).toEqual(["whole"]);
    expect(err.code).toBe(GrpcStatus.INTERNAL);
    expect(err.details).toBe("the stream ended inside a message (3 of a message's 10 bytes)");
  });

  it("fails a unary call at the second response message, without waiting for the server to finish", async () => {
    const server = await rawServer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      // Two messages, and the stream left open: a client that reads on never returns.
      stream.write(Buffer.concat([frame(Buffer.from("one")), frame(Buffer.from("two"))]));
    });
    const err = await callError(connection(server.address).unary("/test.Peer/Echo", Buffer.from("x")));
    expect(err.code).toBe(GrpcStatus.INTERNAL);
    expect(err.details).toBe("the daemon sent more than one response message for a unary call");
    // And the server hears that the call is over.
    await closed(server.streams[0]!);
    expect(server.streams[0]!.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  });

  it("refuses a message larger than the limit as soon as its prefix arrives", async () => {
    const server = await rawServer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.write(framePrefix(maxMessageBytes + 1));
    });
    const err = await callError(connection(server.address).unary("/test.Peer/Echo", Buffer.from("x")));
    expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(`message of ${maxMessageBytes + 1} bytes exceeds ${maxMessageBytes}`);
  });

  it("reports a stream reset mid-response with the code gRPC gives the reset's error code", async () => {
    for (const [rst, code] of [
      [http2.constants.NGHTTP2_INTERNAL_ERROR, GrpcStatus.INTERNAL],
      [http2.constants.NGHTTP2_REFUSED_STREAM, GrpcStatus.UNAVAILABLE],
      [http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, GrpcStatus.RESOURCE_EXHAUSTED],
    ] as const) {
      const server = await rawServer((stream) => {
        stream.respond({ ":status": 200, "content-type": "application/grpc" });
        stream.write(frame(Buffer.from("first")));
        // At once: closing later would end the stream cleanly first.
        stream.close(rst);
      });
      const got: string[] = [];
      const err = await callError(
        (async () => {
          for await (const m of connection(server.address).serverStream("/test.Peer/Count", Buffer.alloc(0))) got.push(String(m));
        })(),
      );
      expect(err.code, err.details).toBe(code);
      expect(got.length).toBeLessThanOrEqual(1);
    }
  });

  it("reports a stream the server cancels while the call still sends as CANCELLED", async () => {
    const server = await rawServer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    // A bidirectional call (like the session's) whose request side is still open.
    const call = connection(server.address).startCall("/test.Peer/Pipe");
    call.stream.write(frame(Buffer.from("more to come")));
    const err = await callError(call.done);
    expect(err.code).toBe(GrpcStatus.CANCELLED);
    expect(err.details).toBe(`the daemon reset the stream (HTTP/2 error code ${http2.constants.NGHTTP2_CANCEL})`);
  });

  it("reports a connection the server drops mid-call as UNAVAILABLE", async () => {
    const server = await rawServer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.write(frame(Buffer.from("first")), () => stream.session!.destroy());
    });
    const err = await callError(connection(server.address).unary("/test.Peer/Echo", Buffer.from("x")));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it("after GOAWAY, finishes the calls the server kept, fails the refused one as UNAVAILABLE, and connects again", async () => {
    const server = await rawServer((stream) => {
      const first = server.streams[0]!;
      if (server.streams.length === 2) {
        // Only the first stream will be served on this connection.
        stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, first.id!);
        answer(first, [Buffer.from("kept")]);
      } else if (server.streams.length === 3) answer(stream, [Buffer.from("new connection")]);
    });
    const c = connection(server.address);
    const kept = c.unary("/test.Peer/Echo", Buffer.from("a"));
    const refused = callError(c.unary("/test.Peer/Echo", Buffer.from("b")));
    expect(String(await kept)).toBe("kept");
    expect((await refused).code).toBe(GrpcStatus.UNAVAILABLE);
    expect(String(await c.unary("/test.Peer/Echo", Buffer.from("c")))).toBe("new connection");
    expect(server.sessions.size).toBe(2);
  });

  it("keeps the process alive for a call on a new connection while the old one, sent GOAWAY, closes", async () => {
    // The first connection serves the stream it has and takes no more; the call made after
    // GOAWAY goes to a second connection, answered only once the process has been seen
    // alive after the first connection closed (it says so on a timer that does not keep
    // it alive: a process that nothing keeps alive exits instead).
    let aliveAfterFirstClosed: () => void = () => undefined;
    const seenAlive = new Promise<void>((resolve) => (aliveAfterFirstClosed = resolve));
    const server = await rawServer((stream) => {
      if (server.streams.length === 1) {
        stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id!);
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.write(frame(Buffer.from("first")));
      } else {
        server.streams[0]!.end();
        void seenAlive.then(() => answer(stream, [Buffer.from("second")]));
      }
    });
    const script = `
      import { parseDaemonAddress } from ${JSON.stringify(path.resolve("src/client/address.ts"))};
      import { GrpcConnection } from ${JSON.stringify(path.resolve("src/client/grpc-connection.ts"))};
      const c = new GrpcConnection(parseDaemonAddress(${JSON.stringify(server.address)}));
      const first = c.serverStream("/test.Peer/Count", Buffer.alloc(0));
      console.log(String((await first.next()).value));
      c["session"].once("close", () => setInterval(() => console.log("alive"), 20).unref());
      const second = c.unary("/test.Peer/Echo", Buffer.alloc(0));
      for await (const m of first) console.log(String(m));
      console.log(String(await second));
      c.close();
    `;
    const file = path.join(dir, "goaway-child.mts");
    await fsp.writeFile(file, script);
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
      if (/alive/.test(String(d))) aliveAfterFirstClosed();
    });
    child.stderr.on("data", (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(output.split("\n").filter((line) => line && line !== "alive")).toEqual(["first", "second"]);
    expect(code).toBe(0);
  });

  it("reads a trailers-only error, with its binary status details exactly as sent", async () => {
    const details = Buffer.from([0x08, 0x05, 0x12, 0x02, 0xff, 0xfe, 0x00, 0xc3]);
    const server = await rawServer((stream) => {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "no such job: 100%25", "grpc-status-details-bin": details.toString("base64").replace(/=+$/, "") },
        { endStream: true },
      );
    });
    const err = await callError(connection(server.address).unary("/test.Peer/Echo", Buffer.from("x")));
    expect(err.code).toBe(GrpcStatus.NOT_FOUND);
    expect(err.details).toBe("no such job: 100%");
    expect(err.statusDetails?.toString("hex")).toBe(details.toString("hex"));
  });

  it("carries grpc-js's binary status details exactly", async () => {
    const details = randomBytes(64);
    const address = await grpcServer({
      Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const metadata = new grpc.Metadata();
        metadata.set("grpc-status-details-bin", details);
        callback({ code: grpc.status.FAILED_PRECONDITION, details: "failed", metadata });
      },
    });
    const err = await callError(connection(address).unary("/test.Peer/Fail", Buffer.alloc(0)));
    expect(err.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(err.statusDetails?.toString("hex")).toBe(details.toString("hex"));
  });

  it("refuses an oversized request before opening a stream for it", async () => {
    const server = await rawServer((stream) => answer(stream, [Buffer.from("fine")]));
    const c = connection(server.address);
    const err = await callError(c.unary("/test.Peer/Echo", Buffer.alloc(maxMessageBytes + 1)));
    expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(err.method).toBe("/test.Peer/Echo");
    const streamErr = await callError((async () => {
      for await (const _ of c.serverStream("/test.Peer/Count", Buffer.alloc(maxMessageBytes + 1))) void _;
    })());
    expect(streamErr.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    // The next call is the first stream the server sees.
    expect(String(await c.unary("/test.Peer/Echo", Buffer.from("x")))).toBe("fine");
    expect(server.streams).toHaveLength(1);
  });

  it("sends deadlines of at most 8 digits, and keeps deadlines beyond Node's longest timer", async () => {
    expect(grpcTimeout(1)).toBe("1m");
    expect(grpcTimeout(99_999_999)).toBe("99999999m");
    expect(grpcTimeout(100_000_000)).toBe("100000S");
    expect(grpcTimeout(30 * 24 * 3600 * 1000)).toBe("2592000S");
    expect(grpcTimeout(Number.MAX_SAFE_INTEGER)).toBe("99999999H");
    expect(grpcTimeout(0.2)).toBe("1m");
    const seen: string[] = [];
    const server = await rawServer((stream, headers) => {
      seen.push(String(headers["grpc-timeout"]));
      answer(stream, [Buffer.from("in time")]);
    });
    // 30 days: past 2^31-1 ms, which Node's setTimeout would turn into 1 ms.
    const answerOf = await connection(server.address).unary("/test.Peer/Echo", Buffer.from("x"), { timeoutMs: 30 * 24 * 3600 * 1000 });
    expect(String(answerOf)).toBe("in time");
    expect(seen).toEqual(["2592000S"]);
  });
});

describe("connecting", () => {
  // One CA for the describe: the peers never get as far as checking a certificate.
  let caFile: string;
  const certDir = mkdtempSync(path.join(os.tmpdir(), "bk-hostile-ca-"));
  beforeAll(async () => {
    caFile = (await makeCertificates(certDir)).caFile;
  });
  afterAll(() => rmSync(certDir, { recursive: true, force: true }));

  /** A TCP listener that accepts connections and never says a word. */
  async function silentListener(): Promise<string> {
    const sockets: net.Socket[] = [];
    const listener = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => listener.close(resolve));
    });
    return `tcp://127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
  }

  it("ends a call at its deadline while the TLS handshake hangs, saying so", async () => {
    const address = await silentListener();
    const c = new GrpcConnection(parseDaemonAddress(address, { caCert: caFile }));
    cleanups.push(() => c.close());
    const err = await callError(c.unary("/test.Peer/Echo", Buffer.alloc(0), { timeoutMs: 200 }));
    expect(err.code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(err.details).toBe(`deadline exceeded: no TLS handshake with ${address.slice("tcp://".length)}`);
  });

  it("gives up a connection whose TLS handshake never completes, failing calls without a deadline", async () => {
    const address = await silentListener();
    const c = new GrpcConnection(parseDaemonAddress(address, { caCert: caFile }), { connectTimeoutMs: 200 });
    cleanups.push(() => c.close());
    const err = await callError(c.unary("/test.Peer/Echo", Buffer.alloc(0)));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.details).toBe(`connection failed: no TLS handshake with ${address.slice("tcp://".length)} within 200 ms`);
  });

  it("reports a daemon behind a silent TLS listener as unreachable, naming the address, within the first call's bound", async () => {
    const address = await silentListener();
    const control = new ControlClient(parseDaemonAddress(address, { caCert: caFile }));
    cleanups.push(() => control.close());
    const err = await control.listWorkers(300).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe("DAEMON_UNREACHABLE");
    expect((err as DaemonError).message).toContain(`cannot reach the BuildKit daemon at ${address}: deadline exceeded: no TLS handshake`);
    expect((err as DaemonError).hint).toMatch(/--addr/);
  });
});

describe("keepalive", () => {
  let holdStarted: () => void = () => undefined;
  // Holds every call: never answers.
  const holdHandlers: grpc.UntypedServiceImplementation = { Hold: () => holdStarted() };

  it("fails the calls in flight with UNAVAILABLE when the daemon stops answering", async () => {
    const upstream = await grpcServer(holdHandlers);
    const proxy = await freezableProxy(Number(upstream.split(":").at(-1)));
    const c = connection(proxy.address, { keepalive: { intervalMs: 50, timeoutMs: 200 } });
    const started = new Promise<void>((resolve) => (holdStarted = resolve));
    const pending = callError(c.unary("/test.Peer/Hold", Buffer.from("x")));
    await started;
    proxy.freeze();
    const err = await pending;
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(err.details).toBe("the daemon did not answer a keepalive check within 200 ms");
  });

  /**
   * A server with gRPC-Go's default keepalive policy (which buildkitd has): more than two
   * PINGs less than five minutes apart, without the server sending anything between
   * them, and it sends GOAWAY (ENHANCE_YOUR_CALM) and closes the connection. It answers
   * held calls once it was checked `answerAfterChecks` times (PINGs and health checks).
   */
  async function strictServer(answerAfterChecks: number) {
    let strikes = 0;
    let lastPing = 0;
    let wrote = false;
    let checks = 0;
    let wentAway = false;
    const held: http2.ServerHttp2Stream[] = [];
    const checked = () => {
      if (++checks !== answerAfterChecks) return;
      wrote = true;
      for (const s of held) answer(s, [Buffer.from("held")]);
    };
    const server = await rawServer(
      (stream, headers) => {
        if (headers[":path"] !== "/grpc.health.v1.Health/Check") return void held.push(stream);
        wrote = true;
        answer(stream, [], String(GrpcStatus.UNIMPLEMENTED));
        checked();
      },
      (session) =>
        session.on("ping", () => {
          const now = Date.now();
          if (wrote) strikes = 0;
          else if (lastPing !== 0 && now - lastPing < 5 * 60_000) strikes++;
          wrote = false;
          lastPing = now;
          if (strikes > 2) {
            wentAway = true;
            session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
            session.destroy();
            return;
          }
          checked();
        }),
    );
    return { ...server, strikes: () => strikes, wentAway: () => wentAway, checks: () => checks };
  }

  it("checks a call that stays silent over many intervals without breaking a gRPC-Go server's ping policy", async () => {
    const server = await strictServer(12);
    const c = connection(server.address, { keepalive: { intervalMs: 20, timeoutMs: 5_000 } });
    expect(String(await c.unary("/test.Peer/Hold", Buffer.from("x")))).toBe("held");
    expect(server.wentAway()).toBe(false);
    expect(server.checks()).toBeGreaterThanOrEqual(12);
  });
});

describe("the session server against a hostile caller", () => {
  async function serve(methods: Record<string, ReturnType<typeof unaryMethod> | ReturnType<typeof streamMethod>>) {
    const server = new SessionGrpcServer(new Map(Object.entries(methods)));
    const socketPath = path.join(dir, `s-${randomBytes(3).toString("hex")}.sock`);
    const listener = net.createServer((socket) => server.serve(socket));
    await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
    session.on("error", () => undefined);
    cleanups.push(() => {
      session.destroy();
      server.close();
      return new Promise((resolve) => listener.close(resolve));
    });
    return { session, socketPath, server };
  }

  /** A raw call: the response headers, the data, the trailers. */
  function rawCall(session: http2.ClientHttp2Session, method: string, headers: http2.OutgoingHttpHeaders = {}) {
    const stream = session.request({ ":method": "POST", ":path": method, "content-type": "application/grpc", te: "trailers", ...headers });
    const response = next<http2.IncomingHttpHeaders>(stream, "response");
    const data: Buffer[] = [];
    stream.on("data", (d: Buffer) => data.push(d));
    stream.on("error", () => undefined);
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
      stream.on("trailers", resolve);
      // Trailers-only responses carry the status in the headers.
      void response.then((h) => h["grpc-status"] !== undefined && resolve(h));
    });
    return { stream, response, trailers, data };
  }

  const echo = { "/t.T/Echo": unaryMethod(async (request) => Buffer.concat([Buffer.from("echo:"), request])) };

  it("survives calls that end, reset or with their connection, in the same read as their headers", async () => {
    const { session, server } = await serve(echo);
    // Raw frames, so that a call's HEADERS and its end arrive in one read: the server
    // learns of the stream only after it is gone.
    const frameOf = (type: number, flags: number, streamId: number, payload: Buffer) => {
      const header = Buffer.alloc(9);
      header.writeUIntBE(payload.length, 0, 3);
      header[3] = type;
      header[4] = flags;
      header.writeUInt32BE(streamId, 5);
      return Buffer.concat([header, payload]);
    };
    // HPACK literal fields without indexing, names and values under 127 bytes.
    const headerBlock = (fields: Array<[string, string]>) =>
      Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]));
    const requestHeaders = (streamId: number, method: string, contentType: string) =>
      frameOf(1, 0x4, streamId, headerBlock([[":method", "POST"], [":scheme", "http"], [":path", method], [":authority", "localhost"], ["content-type", contentType], ["te", "trailers"]]));
    const preface = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frameOf(4, 0, 0, Buffer.alloc(0))]);
    const rstCancel = (streamId: number) => frameOf(3, 0, streamId, Buffer.from([0, 0, 0, 8]));
    // Each connection's bytes arrive as one chunk of the tunnel that carries it.
    const send = (bytes: Buffer) => {
      const tunnel = new Duplex({ read() {}, write: (_chunk, _encoding, done) => done() });
      tunnel.on("error", () => undefined);
      server.serve(tunnel);
      tunnel.push(bytes);
      return tunnel;
    };
    const tunnels: Duplex[] = [];
    for (const [method, contentType] of [["/t.T/Echo", "application/grpc"], ["/t.T/Nope", "application/grpc"], ["/t.T/Echo", "text/plain"]] as const) {
      // Reset in the same read as its headers.
      tunnels.push(send(Buffer.concat([preface, requestHeaders(1, method, contentType), rstCancel(1)])));
      // GOAWAY in the same read: the session ends with the stream in it.
      tunnels.push(send(Buffer.concat([preface, requestHeaders(1, method, contentType), frameOf(7, 0, 0, Buffer.from([0, 0, 0, 0, 0, 0, 0, 2]))])));
    }
    // The server (and this process) still serve the next call.
    const call = rawCall(session, "/t.T/Echo");
    call.stream.end(frame(Buffer.from("after")));
    expect((await call.trailers)["grpc-status"]).toBe("0");
    expect(Buffer.concat(call.data).subarray(5).toString()).toBe("echo:after");
    for (const tunnel of tunnels) tunnel.destroy();
  });

  it("answers a request that is not gRPC with HTTP 415", async () => {
    const { session } = await serve(echo);
    const call = rawCall(session, "/t.T/Echo", { "content-type": "text/plain" });
    call.stream.end("hello");
    const headers = await call.response;
    expect(headers[":status"]).toBe(415);
  });

  it("ends a unary call at the second request message, before the caller half-closes", async () => {
    const { session } = await serve(echo);
    const call = rawCall(session, "/t.T/Echo");
    call.stream.write(Buffer.concat([frame(Buffer.from("one")), frame(Buffer.from("two"))]));
    const trailers = await call.trailers;
    expect(trailers["grpc-status"]).toBe(String(GrpcStatus.INTERNAL));
    expect(decodeURIComponent(String(trailers["grpc-message"]))).toBe("more than one request message for a unary call");
    expect(call.data).toEqual([]);
  });

  it("fails a request that ends inside a message: unary and streaming", async () => {
    const ended: string[] = [];
    const { session } = await serve({
      ...echo,
      "/t.T/Stream": streamMethod((call: ServerStreamCall) => {
        call.on("data", () => undefined);
        call.on("end", () => {
          ended.push("end");
          call.end();
        });
      }),
    });
    for (const method of ["/t.T/Echo", "/t.T/Stream"]) {
      const call = rawCall(session, method);
      call.stream.end(Buffer.concat([framePrefix(10), Buffer.from("abc")]));
      const trailers = await call.trailers;
      expect(trailers["grpc-status"], method).toBe(String(GrpcStatus.INTERNAL));
      expect(decodeURIComponent(String(trailers["grpc-message"]))).toBe("the stream ended inside a message (3 of a message's 10 bytes)");
    }
    // The handler never saw a clean end of its input.
    expect(ended).toEqual([]);
  });

  it("refuses an oversized request frame and reads nothing more of that call", async () => {
    const { session } = await serve(echo);
    const call = rawCall(session, "/t.T/Echo");
    call.stream.write(framePrefix(maxMessageBytes + 1));
    const trailers = await call.trailers;
    expect(trailers["grpc-status"]).toBe(String(GrpcStatus.RESOURCE_EXHAUSTED));
    // More bytes of the refused call change nothing; the connection still serves others.
    call.stream.write(Buffer.alloc(64 * 1024));
    const other = rawCall(session, "/t.T/Echo");
    other.stream.end(frame(Buffer.from("ok")));
    expect((await other.trailers)["grpc-status"]).toBe("0");
    expect(Buffer.concat(other.data).subarray(5).toString()).toBe("echo:ok");
  });

  it("refuses a grpc-js caller's request over the limit with RESOURCE_EXHAUSTED", async () => {
    const { socketPath } = await serve(echo);
    const client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const err = await new Promise<grpc.ServiceError>((resolve, reject) =>
      client.makeUnaryRequest("/t.T/Echo", identity, identity, Buffer.alloc(maxMessageBytes + 1), (e) => (e ? resolve(e) : reject(new Error("accepted")))),
    );
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(`message of ${maxMessageBytes + 1} bytes exceeds ${maxMessageBytes}`);
  });

  it("survives a caller that resets a call mid-request and one that sends GOAWAY, serving what is in flight", async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { session } = await serve({
      ...echo,
      "/t.T/Slow": unaryMethod(async (request) => {
        await released;
        return request;
      }),
    });
    const reset = rawCall(session, "/t.T/Slow");
    reset.stream.end(frame(Buffer.from("never answered")));
    await reset.response;
    reset.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    const inFlight = rawCall(session, "/t.T/Slow");
    inFlight.stream.end(frame(Buffer.from("answered")));
    await inFlight.response;
    session.goaway(http2.constants.NGHTTP2_NO_ERROR);
    release();
    expect((await inFlight.trailers)["grpc-status"]).toBe("0");
    expect(Buffer.concat(inFlight.data).subarray(5).toString()).toBe("answered");
  });

  it("gives binary metadata exactly as sent, and refuses what is not base64", async () => {
    const seen: (Buffer[] | undefined)[] = [];
    const { session } = await serve({
      "/t.T/Meta": unaryMethod(async (_request, metadata) => {
        seen.push(metadata.getBinary("x-id-bin"));
        return Buffer.alloc(0);
      }),
    });
    const binary = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x80]);
    const call = rawCall(session, "/t.T/Meta", { "x-id-bin": [binary.toString("base64"), Buffer.from("second").toString("base64").replace(/=+$/, "")] });
    call.stream.end(frame(Buffer.alloc(0)));
    expect((await call.trailers)["grpc-status"]).toBe("0");
    const bad = rawCall(session, "/t.T/Meta", { "x-id-bin": "not base64!" });
    bad.stream.end(frame(Buffer.alloc(0)));
    expect((await bad.trailers)["grpc-status"]).toBe("0");
    expect(seen[0]?.map((b) => b.toString("hex"))).toEqual([binary.toString("hex"), Buffer.from("second").toString("hex")]);
    expect(seen[1]).toBeUndefined();
  });
});

describe("the session tunnel", () => {
  it("never sends a BytesMessage over the daemon's limit, however much is written at once", async () => {
    const sizes: number[] = [];
    const received: Buffer[] = [];
    const address = await grpcServer(
      {
        Pipe: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          call.on("data", (m: Buffer) => {
            sizes.push(m.length);
            received.push(m);
          });
          call.on("end", () => call.end());
        },
      },
      // The daemon's limit: a larger message fails the call with RESOURCE_EXHAUSTED.
      { "grpc.max_receive_message_length": maxMessageBytes },
    );
    const c = connection(address);
    const call = c.startCall("/test.Peer/Pipe");
    const tunnel = sessionTunnel(call);
    tunnel.resume();
    const sent = Array.from({ length: 20 }, () => randomBytes(1024 * 1024));
    // Corked: the writes reach the tunnel as one batch of 20 MiB.
    tunnel.cork();
    for (const part of sent) tunnel.write(part);
    tunnel.uncork();
    tunnel.end();
    await call.done;
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxMessageBytes);
    expect(sizes).toEqual([maxMessageBytes, 20 * 1024 * 1024 - maxTunnelDataBytes + 5]);
    // Each message is a BytesMessage header and data; together, the bytes as written.
    const data = Buffer.concat(received.map((m) => m.subarray(m[1]! & 0x80 ? (m[2]! & 0x80 ? (m[3]! & 0x80 ? 5 : 4) : 3) : 2)));
    expect(data.equals(Buffer.concat(sent))).toBe(true);
  });
});
