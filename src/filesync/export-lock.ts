import { randomBytes } from "node:crypto";
import { promises as fsp, readFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { processAlive } from "../processes.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { FileSyncIOError, TransferAbortedError } from "./errors.ts";

/** The lock file in a directory that brewkit moves exports into. */
export const exportLockName = ".brewkit-export.lock";

/** Who holds a lock: enough to tell, on this machine, whether it is still alive. */
interface Holder {
  pid: number;
  host: string;
  boot: string | undefined;
  token: string;
}

let bootId: string | undefined | null = null;

// Changes with every boot: a pid in a lock written before the last reboot is meaningless.
function currentBoot(): string | undefined {
  if (bootId === null) {
    try {
      bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      bootId = undefined;
    }
  }
  return bootId;
}

/** True when the process named by `holder` cannot hold the lock any more. */
function isStale(holder: Holder | undefined): boolean {
  if (!holder) return true;
  if (holder.host !== hostname()) return false;
  if (holder.boot !== undefined && currentBoot() !== undefined && holder.boot !== currentBoot()) return true;
  return !processAlive(holder.pid);
}

async function readHolder(file: string): Promise<Holder | undefined | "gone"> {
  try {
    const parsed = JSON.parse(await fsp.readFile(file, "utf8")) as Partial<Holder>;
    return typeof parsed.pid === "number" && typeof parsed.host === "string" && typeof parsed.token === "string" ? (parsed as Holder) : undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "gone" : undefined;
  }
}

// Several exports of one run share a directory: they queue here rather than poll the file.
const queues = new Map<string, Promise<unknown>>();

/** Options of `withExportLock`. */
export interface ExportLockOptions {
  /** Stops waiting (the lock is not taken). */
  signal?: AbortSignal;
  /** Told once when another process holds the lock and this one waits. */
  onWait?: (pid: number) => void;
}

/**
 * Runs `fn` while holding the export lock of `dir`, so that exports of concurrent runs
 * into one project are moved into place one at a time: each lands whole, never
 * interleaved with another. The lock is a file created atomically with its holder's
 * pid; a lock whose process died (or was left by an earlier boot) is taken over.
 */
export async function withExportLock<T>(dir: string, fn: () => Promise<T>, options: ExportLockOptions = {}): Promise<T> {
  const file = path.join(dir, exportLockName);
  const before = queues.get(file) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const queued = before.then(() => mine);
  queues.set(file, queued);
  try {
    await before;
    const token = await acquire(file, options);
    try {
      return await fn();
    } finally {
      await releaseFile(file, token);
    }
  } finally {
    release();
    if (queues.get(file) === queued) queues.delete(file);
  }
}

async function acquire(file: string, options: ExportLockOptions): Promise<string> {
  const holder: Holder = { pid: process.pid, host: hostname(), boot: currentBoot(), token: randomBytes(8).toString("hex") };
  // Written whole first, then linked into place: the lock never exists half-written.
  const draft = `${file}.${process.pid}-${holder.token}`;
  try {
    await fsp.writeFile(draft, JSON.stringify(holder), { mode: 0o600 });
  } catch (err) {
    throw new FileSyncIOError("cannot create the export lock", file, err);
  }
  let waitMs = 10;
  let told = false;
  try {
    for (;;) {
      if (options.signal?.aborted) throw new TransferAbortedError(options.signal.reason);
      try {
        await fsp.link(draft, file);
        await removeDeadDrafts(file);
        return holder.token;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new FileSyncIOError("cannot create the export lock", file, err);
      }
      const current = await readHolder(file);
      if (current === "gone") continue;
      if (isStale(current)) {
        // Removed only if it is still the stale one: another waiter may have taken over already.
        const again = await readHolder(file);
        if (again !== "gone" && again?.token === current?.token) await fsp.rm(file, { force: true });
        continue;
      }
      if (!told && current) {
        told = true;
        options.onWait?.(current.pid);
      }
      await sleep(waitMs, undefined, { signal: options.signal }).catch(() => undefined);
      waitMs = Math.min(waitMs * 2, 250);
    }
  } finally {
    await fsp.rm(draft, { force: true });
  }
}

// A run killed while it waited leaves its draft behind; the pid in its name tells.
async function removeDeadDrafts(file: string): Promise<void> {
  const prefix = `${path.basename(file)}.`;
  for (const name of await fsp.readdir(path.dirname(file)).catch(() => [] as string[])) {
    const pid = name.startsWith(prefix) ? Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]) : NaN;
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) await fsp.rm(path.join(path.dirname(file), name), { force: true });
  }
}

async function releaseFile(file: string, token: string): Promise<void> {
  const current = await readHolder(file);
  if (current !== "gone" && current?.token === token) await fsp.rm(file, { force: true });
}
