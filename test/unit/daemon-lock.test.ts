import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireDaemonLock } from "../../src/daemon/daemon-lock.ts";
import { BrewkitError } from "../../src/errors.ts";

let dir: string;
let nameFile: string;
const later = () => Date.now() + 60_000;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "brewkit-lock-"));
  nameFile = path.join(dir, "lock-name");
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("acquireDaemonLock", () => {
  it("makes a second taker wait until the holder releases it", async () => {
    const first = await acquireDaemonLock(nameFile, { deadline: later() });
    let waited!: () => void;
    const waiting = new Promise<void>((resolve) => (waited = resolve));
    const second = acquireDaemonLock(nameFile, {
      deadline: later(),
      satisfied: async () => {
        waited();
        return false;
      },
    });
    await waiting;
    first!.release();
    const lock = await second;
    expect(lock).toBeDefined();
    lock!.release();
  });

  it("stops waiting when the caller is satisfied, and gives up at the deadline", async () => {
    const holder = await acquireDaemonLock(nameFile, { deadline: later() });
    try {
      expect(await acquireDaemonLock(nameFile, { deadline: later(), satisfied: async () => true })).toBeUndefined();
      const error = await acquireDaemonLock(nameFile, { deadline: Date.now() - 1 }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(BrewkitError);
      expect((error as BrewkitError).code).toBe("DAEMON_LOCKED");
    } finally {
      holder!.release();
    }
  });

  it("is freed when its holder is killed: no stale lock is left behind", async () => {
    const module = fileURLToPath(new URL("../../src/daemon/daemon-lock.ts", import.meta.url));
    const script = `const { acquireDaemonLock } = await import(${JSON.stringify(module)});
await acquireDaemonLock(${JSON.stringify(nameFile)}, { deadline: Date.now() + 60000 });
console.log("locked");
setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise((resolve) => holder.on("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      let out = "";
      holder.stdout.on("data", (d) => {
        out += d;
        if (out.includes("locked")) resolve();
      });
      holder.on("exit", (code) => reject(new Error(`the holder exited (${code}) before taking the lock`)));
    });
    let attemptsFailed = 0;
    const blocked = await acquireDaemonLock(nameFile, { deadline: later(), satisfied: async () => ++attemptsFailed > 0 });
    expect(blocked).toBeUndefined();

    holder.kill("SIGKILL");
    await exited;
    attemptsFailed = 0;
    const lock = await acquireDaemonLock(nameFile, { deadline: later(), satisfied: async () => ++attemptsFailed > 0 });
    expect(lock).toBeDefined();
    expect(attemptsFailed).toBe(0);
    lock!.release();
  });
});
