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

/** Runs a command under GNU time; fails loudly on a non-zero exit. */
export function measure(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; stdinFile?: string }): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const stdin = options.stdinFile ? openSync(options.stdinFile, "r") : "ignore";
    const started = performance.now();
    const child = spawn("/usr/bin/time", ["-f", "brewkit-bench-rss=%M", command, ...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: [stdin, "pipe", "pipe"] });
    if (typeof stdin === "number") closeSync(stdin);
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => chunks.push(d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
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
