import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { inject } from "vitest";
import { repoRoot, testHome } from "./project.ts";
import { nodeRunnableBy } from "./rootless-user.ts";

/** A brewkit process running in the background, whose output can be awaited as it comes. */
export class BrewkitProcess {
  /** stdout and stderr, interleaved as they arrived. */
  output = "";
  readonly child: ChildProcess;
  /** The exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  /**
   * Runs `brewkit <args>` against the suite's daemon, or, with `as`, as another user: that
   * user's copy of brewkit with exactly `as.env` (plus `env`), on the daemon it chooses.
   */
  constructor(args: string[], options: { cwd: string; env?: Record<string, string>; as?: { uid: number; gid: number; packageDir: string; env: Record<string, string> } }) {
    const as = options.as;
    this.child = spawn(as ? nodeRunnableBy(as.uid, as.gid) : process.execPath, [path.join(as?.packageDir ?? repoRoot, "bin/brewkit.js"), ...args], {
      cwd: options.cwd,
      env: as ? { ...as.env, ...options.env } : { ...process.env, BUILDKIT_HOST: inject("buildkitHost"), BREWKIT_HOME: testHome, NO_COLOR: "1", ...options.env },
      ...(as ? { uid: as.uid, gid: as.gid } : {}),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const take = (d: Buffer) => {
      this.output += d;
      for (const wake of [...this.waiters]) wake();
    };
    this.child.stdout!.on("data", take);
    this.child.stderr!.on("data", take);
    this.exited = new Promise((resolve) => {
      const end = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.closed) return;
        this.closed = true;
        for (const wake of [...this.waiters]) wake();
        resolve({ code, signal });
      };
      this.child.on("close", end);
      // A process that cannot start ends the wait at once, with the reason in its output.
      this.child.on("error", (err: NodeJS.ErrnoException) => {
        if (!err.syscall?.startsWith("spawn")) return;
        take(Buffer.from(`\nbrewkit could not be started: ${err.message}\n`));
        end(null, null);
      });
    });
  }

  /**
   * Waits until the output after `from` matches `pattern`; returns the offset just past the
   * match. Fails when the process ends first, or after `timeoutMs` (a generous bound that
   * only turns a hang into a failure that shows the output).
   */
  waitFor(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${pattern} after ${timeoutMs / 1000} s; output:\n${this.output}`));
      }, timeoutMs);
      const check = () => {
        const match = pattern.exec(this.output.slice(from));
        if (match) {
          this.waiters.delete(check);
          clearTimeout(timer);
          resolve(from + match.index + match[0].length);
        } else if (this.closed) {
          this.waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`brewkit exited before printing ${pattern}; output:\n${this.output}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }
}
