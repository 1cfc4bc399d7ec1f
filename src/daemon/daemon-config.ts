import type { BridgeNetwork } from "./bridge-network.ts";

const ociTableHeader = /^\s*\[\s*worker\s*\.\s*oci\s*\]\s*(#.*)?$/;
const anyTableHeader = /^\s*\[/;

/**
 * The buildkitd.toml brewkit starts its daemon with: the user's own (if any) with the
 * daemon's bridge added to its `[worker.oci]` table. BuildKit takes the bridge's name and
 * subnet only from this file (no flag sets them). A `bridgeName` or `bridgeSubnet` the
 * user wrote is kept.
 */
export function daemonConfigToml(userToml: string | undefined, network: BridgeNetwork): string {
  const settings: Array<[string, string]> = [
    ["bridgeName", network.bridgeName],
    ["bridgeSubnet", network.subnet],
  ];
  const lines = (userToml ?? "").split("\n");
  const header = lines.findIndex((line) => ociTableHeader.test(line));
  if (header === -1) {
    const body = settings.map(([key, value]) => `  ${key} = ${JSON.stringify(value)}`);
    const prefix = userToml === undefined || userToml.trim() === "" ? "" : `${userToml.replace(/\n*$/, "")}\n\n`;
    return `${prefix}[worker.oci]\n${body.join("\n")}\n`;
  }
  let end = lines.findIndex((line, i) => i > header && anyTableHeader.test(line));
  if (end === -1) end = lines.length;
  const table = lines.slice(header + 1, end);
  const missing = settings.filter(([key]) => !table.some((line) => new RegExp(`^\\s*${key}\\s*=`).test(line)));
  const added = missing.map(([key, value]) => `  ${key} = ${JSON.stringify(value)}`);
  return [...lines.slice(0, header + 1), ...added, ...lines.slice(header + 1)].join("\n");
}
