import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { networkInterfaces } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { daemonPaths } from "../../src/daemon/paths.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";
import { freePort } from "../support/registry.ts";
import { managedEnv, managedHome, statusNetwork } from "../support/managed-daemon.ts";

/** A listener on the host's loopback, as a developer's local database or dev server would be. */
async function loopbackListener(): Promise<{ port: number; accepted: () => number; firstConnection: Promise<void>; close: () => void }> {
  let count = 0;
  let connected!: () => void;
  const firstConnection = new Promise<void>((resolve) => (connected = resolve));
  const server = net.createServer((socket) => {
    count++;
    connected();
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return { port: (server.address() as net.AddressInfo).port, accepted: () => count, firstConnection, close: () => server.close() };
}

/**
 * A project whose targets record, from inside a step, its network namespace, its interfaces,
 * the IPv4 address of its eth0, and whether the host's loopback listener on `port` answers.
 * The nonce keeps the steps out of the daemon's cache.
 */
function probeProject(port: number): string {
  const probe = [
    `echo ${randomUUID()} > /dev/null`,
    "mkdir -p /o",
    "readlink /proc/self/ns/net > /o/netns",
    "ls /sys/class/net > /o/interfaces",
    "(ip -4 addr show dev eth0 2>/dev/null | grep -o 'inet [0-9./]*' | cut -d ' ' -f 2 > /o/eth0 || true)",
    `if nc -w 5 127.0.0.1 ${port} </dev/null; then echo connected; else echo refused; fi > /o/loopback`,
  ].join(" && ");
  return makeProject({
    "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
const probe = ${JSON.stringify(probe)};
export const isolated = target({ from: base, command: probe, output: { artifact: "/o", local: "isolated" } });
export const hostnet = target({ from: base, network: "host", command: probe, output: { artifact: "/o", local: "hostnet" } });
`,
  });
}

function read(project: string, file: string): string {
  return readFileSync(path.join(project, file), "utf8");
}

function ipv4(text: string): number {
  return text.split(".").reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function inSubnet(address: string, cidr: string): boolean {
  const [network, prefix] = cidr.split("/");
  const mask = (0xffffffff << (32 - Number(prefix))) >>> 0;
  return ((ipv4(address) & mask) >>> 0) === ((ipv4(network!) & mask) >>> 0);
}

const hostNetns = readlinkSync("/proc/self/ns/net");
const hostAddresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));

describe("a step's network", () => {
  it("is its own by default: its own eth0, and a listener on the host's loopback is out of reach", async () => {
    const listener = await loopbackListener();
    try {
      const project = probeProject(listener.port);
      const result = await brewkit(["run", "isolated"], { cwd: project });
      expect(result.stderr).not.toContain("error:");
      expect(result.code).toBe(0);
      expect(read(project, "isolated/loopback")).toBe("refused\n");
      expect(listener.accepted()).toBe(0);
      expect(read(project, "isolated/netns").trim()).not.toBe(hostNetns);
      expect(read(project, "isolated/interfaces").split("\n").filter(Boolean).sort()).toEqual(["eth0", "lo"]);
      const address = read(project, "isolated/eth0").trim();
      expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
      expect(hostAddresses).not.toContain(address.split("/")[0]);
    } finally {
      listener.close();
    }
  });
});

describe("brewkit's own daemon", () => {
  const homes = [managedHome(), managedHome()];
  const [home, otherHome] = homes as [string, string];

  afterAll(async () => {
    for (const h of homes) {
      await brewkit(["daemon", "stop"], { cwd: h, env: managedEnv(h) });
      rmSync(h, { recursive: true, force: true });
    }
  });

  it("runs default steps on its own bridge and subnet, and host steps on the host's network", async () => {
    const listener = await loopbackListener();
    try {
      const project = probeProject(listener.port);
      const result = await brewkit(["run", "isolated", "hostnet"], { cwd: project, env: managedEnv(home) });
      expect(result.stderr).not.toContain("error:");
      expect(result.code).toBe(0);
      const status = await brewkit(["daemon", "status"], { cwd: project, env: managedEnv(home) });
      const network = statusNetwork(status.stdout);
      expect(existsSync(`/sys/class/net/${network.bridgeName}`)).toBe(true);

      expect(read(project, "isolated/loopback")).toBe("refused\n");
      expect(read(project, "isolated/netns").trim()).not.toBe(hostNetns);
      const address = read(project, "isolated/eth0").trim().split("/")[0]!;
      expect(inSubnet(address, network.subnet)).toBe(true);

      expect(read(project, "hostnet/loopback")).toBe("connected\n");
      await listener.firstConnection;
      expect(read(project, "hostnet/netns").trim()).toBe(hostNetns);
    } finally {
      listener.close();
    }
  });

  it("gives another daemon another bridge and subnet, and removes its bridge when it stops", async () => {
    const env = managedEnv(otherHome);
    const start = await brewkit(["daemon", "start"], { cwd: otherHome, env });
    expect(start.stderr).toBe("");
    expect(start.code).toBe(0);
    const mine = statusNetwork((await brewkit(["daemon", "status"], { cwd: home, env: managedEnv(home) })).stdout);
    const other = statusNetwork((await brewkit(["daemon", "status"], { cwd: otherHome, env })).stdout);
    expect(other.bridgeName).not.toBe(mine.bridgeName);
    expect(inSubnet(other.subnet.split("/")[0]!, mine.subnet) || inSubnet(mine.subnet.split("/")[0]!, other.subnet)).toBe(false);
    expect(existsSync(`/sys/class/net/${other.bridgeName}`)).toBe(true);

    const stop = await brewkit(["daemon", "stop"], { cwd: otherHome, env });
    expect(stop.stdout).toContain("stopped buildkitd");
    expect(existsSync(`/sys/class/net/${other.bridgeName}`)).toBe(false);
    expect(existsSync(`/sys/class/net/${mine.bridgeName}`)).toBe(true);
  });

  it("refuses a daemon an earlier brewkit started on the host's network, and says to restart it", async () => {
    const legacyHome = managedHome();
    homes.push(legacyHome);
    const env = managedEnv(legacyHome);
    const paths = daemonPaths(path.join(legacyHome, "daemon"), path.join(legacyHome, "bin"));
    // As the earlier brewkit made it: the user's alone (else brewkit refuses it for that first).
    mkdirSync(paths.dir, { mode: 0o700 });
    // The command line an earlier brewkit started its daemon with: BuildKit's default network.
    const legacy = spawn(path.join(paths.binDir, "buildkitd"), ["--addr", `unix://${paths.socket}`, "--root", paths.root, "--oci-worker=true", "--containerd-worker=false", "--allow-insecure-entitlement", "network.host"], { stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise((resolve) => legacy.on("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      let log = "";
      legacy.stderr!.on("data", (d) => {
        log += d;
        if (log.includes("running server on")) resolve();
      });
      legacy.on("exit", (code) => reject(new Error(`buildkitd exited (${code}):\n${log}`)));
    });
    writeFileSync(paths.pidFile, `${legacy.pid}\n`);

    const project = probeProject(await freePort());
    const refused = await brewkit(["run", "isolated"], { cwd: project, env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("gives steps the host network, not one of their own");
    expect(refused.stderr).toContain("brewkit daemon stop");
    expect(existsSync(path.join(project, "isolated"))).toBe(false);
    expect((await brewkit(["daemon", "status"], { cwd: project, env })).stdout).toMatch(/^network:\s+host /m);

    expect((await brewkit(["daemon", "stop"], { cwd: project, env })).stdout).toContain("stopped buildkitd");
    await exited;
    const again = await brewkit(["run", "isolated"], { cwd: project, env });
    expect(again.stderr).toContain("started buildkitd");
    expect(again.code).toBe(0);
    expect(read(project, "isolated/loopback")).toBe("refused\n");
  });
});
