import type { RegistrySettings } from "../registry/user-registries.ts";
import type { BridgeNetwork } from "./bridge-network.ts";

/** What brewkit adds to the daemon's buildkitd.toml. */
export interface DaemonConfigSettings {
  /** The bridge that gives each step its own network (`[worker.oci]`), when steps get one. */
  bridge?: BridgeNetwork;
  /** Where buildkitd serves its OpenTelemetry socket (`[otel]`): a private path of the daemon's own. */
  otelSocket?: string;
  /** Registries of brewkit's user config that set `ca`, `http` or `insecure` (`[registry."<host>"]`). */
  registries?: readonly RegistrySettings[];
}

const anyTableHeader = /^\s*\[/;

/** A TOML table brewkit adds to (or merges into) the user's buildkitd.toml. */
interface TableSettings {
  /** The header's name pattern, e.g. `worker\.oci`. */
  pattern: string;
  /** The header as brewkit writes it, e.g. `[worker.oci]`. */
  header: string;
  /** Keys and their TOML values; a key the user's table already sets is kept as the user wrote it. */
  settings: Array<[string, string]>;
}

/**
 * The buildkitd.toml brewkit starts its daemon with: the user's own (if any) with the
 * daemon's bridge added to its `[worker.oci]` table, its OpenTelemetry socket to `[otel]`,
 * and a `[registry."<host>"]` table for each registry of brewkit's user config that sets
 * `ca`, `http` or `insecure`. BuildKit takes the bridge's name and subnet only from this
 * file (no flag sets them), and would otherwise put the socket in `/run/buildkit`, shared
 * by every daemon of the machine (and not writable by a rootless one). A key the user
 * wrote in the same table is kept.
 */
export function daemonConfigToml(userToml: string | undefined, settings: DaemonConfigSettings): string {
  const tables: TableSettings[] = [];
  if (settings.bridge) {
    const { bridgeName, subnet } = settings.bridge;
    tables.push({ pattern: "worker\\s*\\.\\s*oci", header: "[worker.oci]", settings: [["bridgeName", JSON.stringify(bridgeName)], ["bridgeSubnet", JSON.stringify(subnet)]] });
  }
  if (settings.otelSocket) tables.push({ pattern: "otel", header: "[otel]", settings: [["socketPath", JSON.stringify(settings.otelSocket)]] });
  for (const r of settings.registries ?? []) {
    const values: Array<[string, string]> = [];
    if (r.ca?.length) values.push(["ca", `[${r.ca.map((f) => JSON.stringify(f)).join(", ")}]`]);
    // BuildKit talks plain HTTP to a loopback registry unless told otherwise: one with a CA speaks TLS.
    const http = r.http ?? (r.ca?.length ? false : undefined);
    if (http !== undefined) values.push(["http", String(http)]);
    if (r.insecure !== undefined) values.push(["insecure", String(r.insecure)]);
    if (values.length === 0) continue;
    const quoted = JSON.stringify(r.host);
    tables.push({ pattern: `registry\\s*\\.\\s*(?:${escapeRegExp(quoted)}|${escapeRegExp(r.host)})`, header: `[registry.${quoted}]`, settings: values });
  }
  let text = userToml ?? "";
  for (const table of tables) text = mergeTable(text, table);
  return text;
}

function mergeTable(toml: string, table: TableSettings): string {
  const headerRe = new RegExp(`^\\s*\\[\\s*${table.pattern}\\s*\\]\\s*(#.*)?$`);
  const lines = toml.split("\n");
  const header = lines.findIndex((line) => headerRe.test(line));
  if (header === -1) {
    const body = table.settings.map(([key, value]) => `  ${key} = ${value}`);
    const prefix = toml.trim() === "" ? "" : `${toml.replace(/\n*$/, "")}\n\n`;
    return `${prefix}${table.header}\n${body.join("\n")}\n`;
  }
  let end = lines.findIndex((line, i) => i > header && anyTableHeader.test(line));
  if (end === -1) end = lines.length;
  const existing = lines.slice(header + 1, end);
  const missing = table.settings.filter(([key]) => !existing.some((line) => new RegExp(`^\\s*${key}\\s*=`).test(line)));
  const added = missing.map(([key, value]) => `  ${key} = ${value}`);
  return [...lines.slice(0, header + 1), ...added, ...lines.slice(header + 1)].join("\n");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
