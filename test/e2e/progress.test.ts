import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { brewkit, busyboxBase, makeProject, repoRoot } from "../support/project.ts";

/** Runs the CLI on a real pseudo-terminal (util-linux `script`) and returns what the terminal received. */
function runOnTerminal(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, path.join(repoRoot, "bin/brewkit.js"), ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd,
      env: { ...process.env, BUILDKIT_HOST: inject("buildkitHost"), TERM: "xterm-256color", COLUMNS: "120", LINES: "40", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

const config = (marker: string) => `import { target, scratch } from "brewkit";
${busyboxBase}
export const slow = target({ from: base, commands: ["echo step-one-${marker}; sleep 1; echo step-two-${marker}", "true"] });
`;

describe("progress output", () => {
  it("draws a live view with timers, logs and a summary on a terminal, in color", async () => {
    const marker = `m${Date.now()}`;
    const project = makeProject({ "brewkit.config.ts": config(marker) });
    const { code, output } = await runOnTerminal(["run", "slow"], project, { NO_COLOR: "" });
    expect(code).toBe(0);
    expect(output).toMatch(/Building \d+\.\ds \(\d+\/\d+ steps/);
    expect(output).toMatch(/Built \d+\.\ds \(\d+\/\d+ steps, \d+ cached\)/);
    expect(output).toContain(`step-one-${marker}`);
    expect(output).toMatch(/⠋|⠙|⠹|⠸|⠼|⠴|⠦|⠧|⠇|⠏/);
    expect(output).toContain("\u001b[2K");
    expect(output).toMatch(/\u001b\[32m✔/);
    expect(output).toContain("✔ slow:");
    const again = await runOnTerminal(["run", "slow"], project, { NO_COLOR: "" });
    expect(again.output).toMatch(/✔\u001b\[0m \[slow\] echo step-one-\S+; sleep 1; echo step-two-\S+ \u001b\[34mCACHED/);
  });

  it("leaves colors out when NO_COLOR is set", async () => {
    const project = makeProject({ "brewkit.config.ts": config(`c${Date.now()}`) });
    const { code, output } = await runOnTerminal(["run", "slow"], project, { NO_COLOR: "1" });
    expect(code).toBe(0);
    expect(output).toContain("Built");
    expect(output).not.toMatch(/\u001b\[3\dm/);
  });

  it("prints one line per event when not on a terminal, and the Status stream as JSON lines with rawjson", async () => {
    const project = makeProject({ "brewkit.config.ts": config(`p${Date.now()}`) });
    const plain = await brewkit(["run", "slow"], { cwd: project });
    expect(plain.stderr).toMatch(/^#\d+ \[slow\] echo step-one/m);
    expect(plain.stderr).not.toContain("\u001b[");
    const raw = await brewkit(["run", "slow", "--progress", "rawjson"], { cwd: project });
    expect(raw.code).toBe(0);
    const lines = raw.stderr.split("\n").filter((l) => l.startsWith("{"));
    expect(lines.length).toBeGreaterThan(0);
    const messages = lines.map((l) => JSON.parse(l) as { job: string; vertexes?: Array<{ name: string; cached?: boolean }> });
    expect(messages.every((m) => m.job === "slow")).toBe(true);
    expect(messages.flatMap((m) => m.vertexes ?? []).some((v) => v.name.includes("echo step-one") && v.cached)).toBe(true);
    const bad = await brewkit(["run", "slow", "--progress", "fancy"], { cwd: project });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown progress mode "fancy"');
  });
});
