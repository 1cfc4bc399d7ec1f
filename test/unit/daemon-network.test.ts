import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { chooseBridgeNetwork, parseProcNetRoute, type HostRoute } from "../../src/daemon/bridge-network.ts";
import { findCniPlugins } from "../../src/daemon/cni-plugins.ts";
import { daemonConfigToml } from "../../src/daemon/daemon-config.ts";
import { BrewkitError } from "../../src/errors.ts";

function ip(text: string): number {
  return text.split(".").reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function route(iface: string, cidr: string): HostRoute {
  const [network, prefix] = cidr.split("/");
  return { iface, network: ip(network!), prefix: Number(prefix) };
}

function contains(cidr: string, address: string): boolean {
  const [network, prefix] = cidr.split("/");
  const mask = Number(prefix) === 0 ? 0 : (0xffffffff << (32 - Number(prefix))) >>> 0;
  return ((ip(network!) & mask) >>> 0) === ((ip(address) & mask) >>> 0);
}

describe("parseProcNetRoute", () => {
  it("reads the kernel's little-endian hex addresses and masks", () => {
    const table = [
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
      "bkx0\t0007D30A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
      "",
    ].join("\n");
    expect(parseProcNetRoute(table)).toEqual([route("eth0", "0.0.0.0/0"), route("bkx0", "10.211.7.0/24"), route("eth0", "192.0.2.0/24")]);
  });
});

describe("chooseBridgeNetwork", () => {
  it("gives each daemon directory its own bridge, the same one every time, in a private /24", () => {
    const a = chooseBridgeNetwork("/home/a/.brewkit/daemon", []);
    const b = chooseBridgeNetwork("/home/b/.brewkit/daemon", []);
    expect(chooseBridgeNetwork("/home/a/.brewkit/daemon", [])).toEqual(a);
    expect(a.bridgeName).not.toBe(b.bridgeName);
    for (const { bridgeName, subnet } of [a, b]) {
      expect(Buffer.byteLength(bridgeName)).toBeLessThanOrEqual(15);
      expect(subnet).toMatch(/\/24$/);
      expect(contains("172.20.0.0/14", subnet.split("/")[0]!)).toBe(true);
    }
  });

  it("skips subnets the host already routes, except through its own bridge and the default route", () => {
    const dir = "/tmp/bk/daemon";
    const first = chooseBridgeNetwork(dir, []);
    const other = chooseBridgeNetwork(dir, [route("brewkit-other", first.subnet)]);
    expect(other.subnet).not.toBe(first.subnet);
    expect(other.bridgeName).toBe(first.bridgeName);
    // A wider network around it (e.g. a VPN) counts too.
    const wide = first.subnet.replace(/\.\d+\.0\/24$/, ".0.0/16");
    const outside = chooseBridgeNetwork(dir, [route("tun0", wide)]);
    expect(contains(wide, outside.subnet.split("/")[0]!)).toBe(false);
    expect(chooseBridgeNetwork(dir, [route(first.bridgeName, first.subnet), route("eth0", "0.0.0.0/0")])).toEqual(first);
  });

  it("keeps the subnet of its own bridge left behind by a killed daemon, unless another route took it", () => {
    const dir = "/tmp/bk/daemon";
    const first = chooseBridgeNetwork(dir, []);
    const elsewhere = chooseBridgeNetwork(dir, [route("eth1", first.subnet)]);
    expect(chooseBridgeNetwork(dir, [route(first.bridgeName, elsewhere.subnet)])).toEqual(elsewhere);
    expect(chooseBridgeNetwork(dir, [route(first.bridgeName, elsewhere.subnet), route("eth2", elsewhere.subnet)])).toEqual(first);
  });

  it("says how to choose a subnet when the whole pool is routed", () => {
    let error: unknown;
    try {
      chooseBridgeNetwork("/tmp/bk/daemon", [route("tun0", "172.16.0.0/12")]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BrewkitError);
    expect((error as BrewkitError).code).toBe("BRIDGE_SUBNET_UNAVAILABLE");
    expect((error as BrewkitError).hint).toContain("bridgeSubnet");
  });
});

describe("daemonConfigToml", () => {
  const network = { bridgeName: "brewkit-abc1234", subnet: "172.21.3.0/24" };

  it("is the bridge's [worker.oci] table when the user has no buildkitd.toml", () => {
    expect(daemonConfigToml(undefined, { bridge: network })).toBe('[worker.oci]\n  bridgeName = "brewkit-abc1234"\n  bridgeSubnet = "172.21.3.0/24"\n');
  });

  it("keeps the user's settings and appends the table after them", () => {
    const user = '[registry."docker.io"]\n  mirrors = ["127.0.0.1:5000"]\n';
    const merged = daemonConfigToml(user, { bridge: network });
    expect(merged.startsWith(user)).toBe(true);
    expect(merged.slice(user.length)).toBe(`\n${daemonConfigToml(undefined, { bridge: network })}`);
  });

  it("adds the bridge to the user's own [worker.oci] table, before the next table, without a second header", () => {
    const user = '[worker.oci]\n  snapshotter = "native"\n\n[[worker.oci.gcpolicy]]\n  keepBytes = 1000\n';
    const merged = daemonConfigToml(user, { bridge: network });
    expect(merged.match(/^\[worker\.oci\]/gm)).toHaveLength(1);
    const table = merged.slice(0, merged.indexOf("[[worker.oci.gcpolicy]]"));
    expect(table).toContain('bridgeName = "brewkit-abc1234"');
    expect(table).toContain('bridgeSubnet = "172.21.3.0/24"');
    expect(table).toContain('snapshotter = "native"');
    expect(merged.slice(merged.indexOf("[[worker.oci.gcpolicy]]"))).toBe("[[worker.oci.gcpolicy]]\n  keepBytes = 1000\n");
  });

  it("keeps a bridge name or subnet the user chose", () => {
    const merged = daemonConfigToml('[worker.oci]\n  bridgeSubnet = "10.123.0.0/24"\n', { bridge: network });
    expect(merged).toContain('bridgeSubnet = "10.123.0.0/24"');
    expect(merged).not.toContain(network.subnet);
    expect(merged).toContain(`bridgeName = "${network.bridgeName}"`);
  });
});

describe("findCniPlugins", () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function dirWith(names: string[]): string {
    const dir = mkdtempSync(path.join(tmpdir(), "brewkit-cni-"));
    made.push(dir);
    for (const name of names) {
      writeFileSync(path.join(dir, name), "#!/bin/sh\n");
      chmodSync(path.join(dir, name), 0o755);
    }
    return dir;
  }
  const all = ["bridge", "loopback", "host-local", "firewall"];

  it("finds the first directory that has every plugin the bridge network runs", () => {
    const partial = dirWith(["bridge", "loopback"]);
    const complete = dirWith(all);
    expect(findCniPlugins("", [partial, complete])).toEqual({ dir: complete });
  });

  it("leaves the choice to BuildKit when its own buildkit-cni-* plugins are on PATH", () => {
    const bundled = dirWith(all.map((name) => `buildkit-cni-${name}`));
    expect(findCniPlugins(bundled, [dirWith([])])).toEqual({ dir: undefined });
  });

  it("names the package to install when the plugins are missing", () => {
    const empty = dirWith([]);
    let error: unknown;
    try {
      findCniPlugins(empty, [empty, dirWith(["bridge"])]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BrewkitError);
    expect((error as BrewkitError).code).toBe("CNI_PLUGINS_MISSING");
    expect((error as BrewkitError).message).toContain(empty);
    expect((error as BrewkitError).hint).toContain("apt-get install containernetworking-plugins");
  });
});
