import type { ControlClient } from "../client/control.ts";
import type { Moby_Buildkit_V1_UsageRecord as UsageRecord } from "../proto/generated.ts";

/** Bytes as a short human size (1.5MB). */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)}${units[unit]}`;
}

function row(r: UsageRecord): string {
  const flags = [r.InUse ? "in use" : "", r.Mutable ? "mutable" : "", r.Shared ? "shared" : ""].filter(Boolean).join(",");
  return `${(r.ID ?? "").slice(0, 12).padEnd(12)}  ${humanSize(r.Size ?? 0).padStart(8)}  ${(r.RecordType ?? "").padEnd(20)}  ${flags.padEnd(14)}  ${(r.Description ?? "").slice(0, 80)}`;
}

/** `brewkit cache du`: the daemon's cache records, largest first, and their total. */
export async function printDiskUsage(control: ControlClient, write: (line: string) => void): Promise<void> {
  const records = (await control.diskUsage()).sort((a, b) => (b.Size ?? 0) - (a.Size ?? 0));
  write(`${"ID".padEnd(12)}  ${"SIZE".padStart(8)}  ${"TYPE".padEnd(20)}  ${"FLAGS".padEnd(14)}  DESCRIPTION`);
  for (const r of records) write(row(r));
  const total = records.reduce((n, r) => n + (r.Size ?? 0), 0);
  const reclaimable = records.filter((r) => !r.InUse).reduce((n, r) => n + (r.Size ?? 0), 0);
  write(`total: ${humanSize(total)} in ${records.length} records, ${humanSize(reclaimable)} reclaimable`);
}

/** `brewkit cache prune [--all]`: removes unused records (by default those the daemon would collect first). */
export async function pruneCache(control: ControlClient, all: boolean, write: (line: string) => void): Promise<void> {
  const removed = await control.prune({ all });
  const freed = removed.reduce((n, r) => n + (r.Size ?? 0), 0);
  write(`removed ${removed.length} cache records, freed ${humanSize(freed)}`);
}
