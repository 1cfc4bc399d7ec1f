import { existsSync, readFileSync } from "node:fs";

/**
 * True while process `pid` runs on this machine (also when it belongs to another user).
 * A process that has ended but whose parent has not yet collected it (a zombie) still
 * answers signals: it counts as ended.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return !ended(pid);
}

// The state field of /proc/<pid>/stat follows the command name, which is in parentheses
// and may itself hold ") ": Z is a zombie, X a process being removed.
function ended(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    // Gone in between, or no /proc here: signals are all there is to go by.
    return existsSync("/proc/self/stat");
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state === "Z" || state === "X";
}
