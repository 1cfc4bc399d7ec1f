import { createHash } from "node:crypto";
import { DaemonError } from "../errors.ts";

/** The bridge and IPv4 subnet that give each step of one daemon a network of its own. */
export interface BridgeNetwork {
  /** Name of the host's bridge interface (at most 15 bytes, as Linux allows). */
  bridgeName: string;
  /** The steps' subnet in CIDR notation, e.g. `172.21.4.0/24`. */
  subnet: string;
}

/** An IPv4 route of the host: the network it reaches and the interface it leaves by. */
export interface HostRoute {
  iface: string;
  /** The network address as an unsigned 32-bit number. */
  network: number;
  /** Prefix length, 0 for the default route. */
  prefix: number;
}

// The subnets brewkit gives its daemons: the /24s of 172.20.0.0/14, away from BuildKit's
// default 10.10.0.0/16 and Docker's first networks (172.17.0.0/16 and up).
const poolBase = ipv4("172.20.0.0");
const poolSize = 1024;
const subnetPrefix = 24;

/** The lines of Linux's `/proc/net/route`: IPv4 routes of the main table. */
export function parseProcNetRoute(text: string): HostRoute[] {
  const routes: HostRoute[] = [];
  for (const line of text.split("\n").slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (!iface || !destination || !mask) continue;
    // The kernel prints addresses as the hex of their bytes in host (little-endian) order.
    const network = swapBytes(Number.parseInt(destination, 16));
    const prefix = countBits(swapBytes(Number.parseInt(mask, 16)));
    if (Number.isNaN(network) || Number.isNaN(prefix)) continue;
    routes.push({ iface, network, prefix });
  }
  return routes;
}

/**
 * The bridge and subnet of the daemon whose files live in `daemonDir`. The name is derived
 * from the directory, so each daemon has its own bridge (and its own IPAM range) and keeps it
 * across restarts; the subnet starts from the same hash and skips every network the host
 * already routes (another daemon's bridge, a VPN, Docker), except through this very bridge.
 */
export function chooseBridgeNetwork(daemonDir: string, routes: readonly HostRoute[]): BridgeNetwork {
  const digest = createHash("sha256").update(daemonDir).digest();
  const bridgeName = `brewkit-${digest.toString("hex").slice(0, 7)}`;
  const taken = routes.filter((r) => r.prefix > 0 && r.iface !== bridgeName);
  // A bridge left behind by a daemon that was killed keeps its address, and BuildKit's
  // bridge plugin refuses to give it another: keep its subnet while it is free.
  const left = routes.find((r) => r.iface === bridgeName && r.prefix === subnetPrefix);
  if (left && !taken.some((r) => overlaps(left.network, subnetPrefix, r.network, r.prefix))) {
    return { bridgeName, subnet: `${formatIpv4(left.network)}/${subnetPrefix}` };
  }
  const first = digest.readUInt32BE(4) % poolSize;
  for (let i = 0; i < poolSize; i++) {
    const network = (poolBase + ((first + i) % poolSize) * 256) >>> 0;
    if (!taken.some((r) => overlaps(network, subnetPrefix, r.network, r.prefix))) {
      return { bridgeName, subnet: `${formatIpv4(network)}/${subnetPrefix}` };
    }
  }
  throw new DaemonError("BRIDGE_SUBNET_UNAVAILABLE", `every /24 of 172.20.0.0/14 is already routed on this host; brewkit's daemon has no free subnet for its steps`, {
    hint: 'set a free subnet in the daemon\'s buildkitd.toml: [worker.oci] bridgeSubnet = "10.123.0.0/24"',
  });
}

function overlaps(a: number, aPrefix: number, b: number, bPrefix: number): boolean {
  const shorter = Math.min(aPrefix, bPrefix);
  const mask = shorter === 0 ? 0 : (0xffffffff << (32 - shorter)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function ipv4(text: string): number {
  return text.split(".").reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join(".");
}

function swapBytes(n: number): number {
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | ((n >>> 24) & 0xff)) >>> 0;
}

function countBits(n: number): number {
  let bits = 0;
  for (let v = n; v; v = (v << 1) >>> 0) bits++;
  return bits;
}
