import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { DaemonError } from "../errors.ts";

/** Held by the one process that starts or stops a daemon; `release` lets the next one in. */
export interface DaemonLock {
  release(): void;
}

/** Options of `acquireDaemonLock`. */
export interface AcquireOptions {
  /** Give up at this time (ms since the epoch). */
  deadline: number;
  /** Asked between attempts; true stops waiting (e.g. the daemon another process started answers). */
  satisfied?: () => Promise<boolean>;
}

/**
 * Takes the lock of the daemon whose lock name is kept in `nameFile`, waiting while another
 * process holds it. Undefined when `satisfied` said waiting is no longer needed.
 *
 * The lock is a listening socket in Linux's abstract namespace: binding a name is atomic,
 * and the kernel frees the name when its holder exits, however it exits, so a crashed
 * start never leaves a stale lock behind. The name is random and kept in the daemon's
 * private directory, so another user cannot take it first.
 */
export async function acquireDaemonLock(nameFile: string, options: AcquireOptions): Promise<DaemonLock | undefined> {
  const name = `\0brewkit-daemon-${lockName(nameFile)}`;
  for (;;) {
    const server = await listenOn(name);
    if (server) return { release: () => void server.close() };
    if (await options.satisfied?.()) return undefined;
    if (Date.now() > options.deadline) {
      throw new DaemonError("DAEMON_LOCKED", "another brewkit is still starting or stopping the daemon", {
        hint: "wait for it to finish and try again",
      });
    }
    await sleep(100);
  }
}

function listenOn(name: string): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" ? resolve(undefined) : reject(err)));
    server.listen({ path: name }, () => {
      // Holding the lock must not keep the process alive by itself.
      server.unref();
      resolve(server);
    });
  });
}

/** The lock's name, made once per daemon directory; concurrent first callers agree on one. */
function lockName(file: string): string {
  const existing = readName(file);
  if (existing) return existing;
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(draft, `${randomBytes(16).toString("hex")}\n`, { mode: 0o600 });
  try {
    // link() never replaces a file, so the first complete name wins.
    linkSync(draft, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    rmSync(draft, { force: true });
  }
  const name = readName(file);
  if (!name) throw new DaemonError("DAEMON_LOCK_NAME", `${file} does not hold a lock name`, { hint: `remove ${file}` });
  return name;
}

function readName(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
