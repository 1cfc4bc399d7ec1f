import type { BridgeNetwork } from "./bridge-network.ts";

/** What brewkit adds to the daemon's buildkitd.toml. */
export interface DaemonConfigSettings {
  /** The bridge that gives each step its own network (`[worker.oci]`), when steps get one. */
  bridge?: BridgeNetwork;
  /** Where buildkitd serves its OpenTelemetry socket (`[otel]`): a private path of the daemon's own. */
  otelSocket?: string;
}

const anyTableHeader = /^\s*\[/;

/**
 * The buildkitd.toml brewkit starts its daemon with: the user's own (if any) with the
 * daemon's bridge added to its `[worker.oci]` table and its OpenTelemetry socket to `[otel]`.
 * BuildKit takes the bridge's name and subnet only from this file (no flag sets them), and
 * would otherwise put the socket in `/run/buildkit`, shared by every daemon of the machine
 * (and not writable by a rootless one). A setting the user wrote is kept.
 */
export function daemonConfigToml(userToml: string | undefined, settings: DaemonConfigSettings): string {
  let toml = userToml ?? "";
  if (settings.bridge) {
    toml = withTableSettings(toml, "worker.oci", [
      ["bridgeName", settings.bridge.bridgeName],
      ["bridgeSubnet", settings.bridge.subnet],
    ]);
  }
  if (settings.otelSocket) toml = withTableSettings(toml, "otel", [["socketPath", settings.otelSocket]]);
  return toml;
}

/** `toml` with each of `settings` that its table `name` lacks, the table appended when missing. */
function withTableSettings(toml: string, name: string, settings: Array<[string, string]>): string {
  const header = new RegExp(`^\\s*\\[\\s*${name.split(".").join("\\s*\\.\\s*")}\\s*\\]\\s*(#.*)?$`);
  const lines = toml.split("\n");
  const at = lines.findIndex((line) => header.test(line));
  if (at === -1) {
    const body = settings.map(([key, value]) => `  ${key} = ${JSON.stringify(value)}`);
    const prefix = toml.trim() === "" ? "" : `${toml.replace(/\n*$/, "")}\n\n`;
    return `${prefix}[${name}]\n${body.join("\n")}\n`;
  }
  let end = lines.findIndex((line, i) => i > at && anyTableHeader.test(line));
  if (end === -1) end = lines.length;
  const table = lines.slice(at + 1, end);
  const missing = settings.filter(([key]) => !table.some((line) => new RegExp(`^\\s*${key}\\s*=`).test(line)));
  const added = missing.map(([key, value]) => `  ${key} = ${JSON.stringify(value)}`);
  return [...lines.slice(0, at + 1), ...added, ...lines.slice(at + 1)].join("\n");
}
