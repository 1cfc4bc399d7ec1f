import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { processAlive } from "../../src/processes.ts";

function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}

describe("processAlive", () => {
  it("is true for a running process, false for one that ended and was collected", async () => {
    expect(processAlive(process.pid)).toBe(true);
    const child = spawn("true");
    const pid = child.pid!;
    await once(child, "exit");
    expect(processAlive(pid)).toBe(false);
  });

  it("counts a process that ended but was not collected by its parent (a zombie) as ended", async () => {
    // The shell starts a child that exits at once, then becomes a process that never collects it.
    const parent = spawn("sh", ["-c", "true & echo $!; exec sleep 600"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const [line] = (await once(parent.stdout!, "data")) as [Buffer];
      const zombie = Number(line.toString().trim());
      while (stateOf(zombie) !== "Z") await nextTurn();
      expect(processAlive(zombie)).toBe(false);
      expect(processAlive(parent.pid!)).toBe(true);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
