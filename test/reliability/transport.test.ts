// The connection to a daemon over the network, against the suite's real buildkitd: a
// daemon that vanishes mid-Solve ends the run with an error (keepalive), frequent
// keepalive checks do not upset buildkitd's ping policy, and a TLS peer that never
// answers the handshake is given up with an error that names it.
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { BrewkitProcess } from "../support/process.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";
import { makeCertificates } from "../support/tls.ts";

/**
 * A TCP proxy in front of the suite's daemon that can be frozen: it then passes no more
 * bytes either way and keeps every socket open, as a daemon (or a network) that vanished.
 */
async function freezableProxy(target: string) {
  const { hostname, port } = new URL(target);
  const sockets: net.Socket[] = [];
  let frozen = false;
  const proxy = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.push(client, upstream);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on("data", (chunk) => {
        if (!frozen) to.write(chunk);
      });
      from.on("error", () => to.destroy());
      from.on("close", () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    address: `tcp://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    freeze: () => {
      frozen = true;
    },
    // Closing the sockets tells the daemon the session is gone, so it stops the build.
    close: () => {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}

const closers: Array<() => void> = [];
let running: BrewkitProcess | undefined;
afterEach(() => {
  running?.child.kill("SIGKILL");
  running = undefined;
  for (const close of closers.splice(0)) close();
});

describe("a tcp:// daemon", () => {
  const tcp = () => {
    const address = inject("buildkitTcpHost");
    expect(address, "the suite's daemon listens on loopback TCP too").toMatch(/^tcp:\/\//);
    return address!;
  };

  it("that vanishes mid-Solve ends the run with an error instead of a wait without end", async () => {
    const proxy = await freezableProxy(tcp());
    closers.push(proxy.close);
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const long = target({ from: base, command: "echo step-started-${Date.now()} && sleep 600" });
`,
    });
    const run = (running = new BrewkitProcess(["run", "long", "--progress", "plain"], { cwd: project, env: { BUILDKIT_HOST: proxy.address, BREWKIT_KEEPALIVE_MS: "500" } }));
    await run.waitFor(/step-started-\d+/);
    proxy.freeze();
    const { code } = await run.exited;
    expect(code, run.output).toBe(1);
    expect(run.output).toContain(`cannot reach the BuildKit daemon at ${proxy.address}`);
    expect(run.output).toContain("the daemon did not answer a keepalive check within 500 ms");
  });

  it("builds a step that stays silent through many keepalive checks: buildkitd's ping policy holds", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const quiet = target({ from: base, command: "sleep 3 && echo done-${Date.now()} > /done", output: { artifact: "/done", local: "out" } });
`,
    });
    // A check every 50 ms of silence: well over the three PINGs in five minutes that
    // gRPC-Go's default policy allows when the daemon sends nothing between them.
    const result = await brewkit(["run", "quiet", "--progress", "plain"], { cwd: project, env: { BUILDKIT_HOST: tcp(), BREWKIT_KEEPALIVE_MS: "50" } });
    expect(result.stderr).not.toContain("error:");
    expect(result.code).toBe(0);
  });
});

describe("a TLS peer that accepts connections and never answers the handshake", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bk-tls-silent-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is given up like an unreachable daemon, naming its address, with the hint", async () => {
    const tls = await makeCertificates(dir);
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    closers.push(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const address = `tcp://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const project = makeProject({ "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport const app = target({ from: base, command: "true" });\n` });
    const result = await brewkit(["run", "app", "--addr", address, "--tlscacert", tls.caFile, "--tlsservername", "buildkitd.test"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot reach the BuildKit daemon at ${address}: deadline exceeded: no TLS handshake with 127.0.0.1:`);
    expect(result.stderr).toContain("hint:");
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});
