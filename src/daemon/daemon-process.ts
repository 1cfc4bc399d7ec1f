import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
export { processAlive } from "../processes.ts";

/**
 * True when `argv` is the command line of a buildkitd that listens on `address`, or of the
 * RootlessKit processes that run it: what brewkit checks before it signals a process.
 */
export function isDaemonCommandLine(argv: readonly string[], address: string): boolean {
  const program = argv[0] ?? "";
  // RootlessKit runs its child as /proc/self/exe, with its own command line.
  const underRootlesskit = path.basename(program) === "rootlesskit" || program === "/proc/self/exe";
  const runsBuildkitd = path.basename(program) === "buildkitd" || (underRootlesskit && argv.slice(1).some((arg) => path.basename(arg) === "buildkitd"));
  const listens = argv.some((arg, i) => (arg === "--addr" && argv[i + 1] === address) || arg === `--addr=${address}`);
  return runsBuildkitd && listens;
}

/** The command line of process `pid`, or undefined when it has exited (or cannot be read). */
export function commandLineOf(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return raw ? raw.replace(/\0$/, "").split("\0") : undefined;
  } catch {
    return undefined;
  }
}

/** True when process `pid` is a buildkitd listening on `address`. */
export function isDaemonProcess(pid: number, address: string): boolean {
  const argv = commandLineOf(pid);
  return argv !== undefined && isDaemonCommandLine(argv, address);
}

/** Every running buildkitd that listens on `address`, found by their command lines. */
export function findDaemonProcesses(address: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && isDaemonProcess(pid, address));
}

