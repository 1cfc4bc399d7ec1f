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
    // A parent that never collects its child: Perl (part of every Debian system) installs no
    // SIGCHLD handler, where a shell may collect a background job before it execs.
    const parent = spawn("perl", ["-e", "my $child = fork; exit 0 unless $child; $| = 1; print \"$child\\n\"; sleep 600"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const [line] = (await once(parent.stdout!, "data")) as [Buffer];
      const zombie = Number(line.toString().trim());
      // The child has exited or is about to: it stays a zombie until its parent ends.
      for (let state = stateOf(zombie); state !== "Z"; state = stateOf(zombie)) {
        if (state === undefined) throw new Error(`process ${zombie} was collected: no zombie to test with`);
        await nextTurn();
      }
      expect(processAlive(zombie)).toBe(false);
      expect(processAlive(parent.pid!)).toBe(true);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
