import { spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../", import.meta.url));

/** What one measured process did. */
export interface Measured {
  ms: number;
  /** Peak resident memory in KiB (GNU time's %M). */
  rssKiB: number;
  stdout: string;
  /** stdout as bytes, for binary output. */
  stdoutBytes: Buffer;
  stderr: string;
}

/** A measured command that did not finish in time and was killed. */
export class HungError extends Error {
  constructor(command: string, timeoutMs: number) {
    super(`${command} did not finish within ${timeoutMs / 1000} s and was killed`);
    this.name = "HungError";
  }
}

// Several times the slowest transfer seen on a slow disk (~40 s); a run past it has hung.
const defaultTimeoutMs = 4 * 60_000;

/** Runs a command under GNU time; fails loudly on a non-zero exit, and with HungError when it hangs. */
export function measure(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; stdinFile?: string; timeoutMs?: number; user?: { uid: number; gid: number } }): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const stdin = options.stdinFile ? openSync(options.stdinFile, "r") : "ignore";
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    // Its own process group, so a hung command is killed together with GNU time.
    const child = spawn("/usr/bin/time", ["-f", "brewkit-bench-rss=%M", command, ...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: [stdin, "pipe", "pipe"], detached: true, ...options.user });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    if (typeof stdin === "number") closeSync(stdin);
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => chunks.push(d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (hung) return reject(new HungError(command, timeoutMs));
      const ms = performance.now() - started;
      const rss = /brewkit-bench-rss=(\d+)/.exec(stderr);
      if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${stderr.slice(-2000)}`));
      const stdoutBytes = Buffer.concat(chunks);
      resolve({ ms, rssKiB: rss ? Number(rss[1]) : NaN, stdout: stdoutBytes.toString("utf8"), stdoutBytes, stderr });
    });
  });
}

/** The brewkit CLI of this repository. */
export const brewkitBin = path.join(repoRoot, "bin/brewkit.js");
