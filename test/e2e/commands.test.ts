import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

describe("daily commands", () => {
  const project = makeProject({
    "brewkit.config.ts": `import { target, scratch, cache } from "brewkit";
${busyboxBase}
export const app = target({ from: base, cache: [cache("commands-test-${Date.now()}", "/c")], command: "head -c 300000 /dev/zero > /c/blob" });
export default app;
`,
  });

  it("graph prints what the default target is built from", async () => {
    const result = await brewkit(["graph"], { cwd: project });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("app\n└─ from base (scratch)\n");
    const mermaid = await brewkit(["graph", "app", "--format", "mermaid"], { cwd: project });
    expect(mermaid.stdout).toContain("t_app -->|from| t_base");
  });

  it("cache du lists the daemon's records and prune removes unused ones", async () => {
    expect((await brewkit(["run"], { cwd: project })).code).toBe(0);
    const du = await brewkit(["cache", "du"], { cwd: project });
    expect(du.code).toBe(0);
    expect(du.stdout).toMatch(/^ID\s+SIZE\s+TYPE/);
    expect(du.stdout).toMatch(/exec\.cachemount/);
    expect(du.stdout).toMatch(/total: \S+ in \d+ records/);
    const prune = await brewkit(["cache", "prune", "--all"], { cwd: project });
    expect(prune.code).toBe(0);
    expect(prune.stdout).toMatch(/removed [1-9]\d* cache records, freed \S+/);
    const after = await brewkit(["cache", "du"], { cwd: project });
    expect(after.stdout).not.toMatch(/exec\.cachemount/);
  });

  it("run --no-cache runs every step anew, and what it makes is cached for the next run", async () => {
    const random = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport default target({ from: base, command: "mkdir -p /r && head -c 16 /dev/urandom | od -An -tx1 > /r/value", output: { artifact: "/r", local: "out" } });\n`,
    });
    const value = () => readFileSync(path.join(random, "out", "value"), "utf8");
    const first = await brewkit(["run"], { cwd: random });
    expect(first.code).toBe(0);
    const made = value();
    expect((await brewkit(["run"], { cwd: random })).stderr).toMatch(/ [1-9]\d* cached/);
    expect(value()).toBe(made);

    const fresh = await brewkit(["run", "--no-cache"], { cwd: random });
    expect(fresh.code).toBe(0);
    expect(fresh.stderr).toMatch(/, 0 cached,/);
    const remade = value();
    expect(remade).not.toBe(made);

    const after = await brewkit(["run"], { cwd: random });
    expect(after.stderr).toMatch(/ [1-9]\d* cached/);
    expect(value()).toBe(remade);
  });

  it("every command has --help", async () => {
    for (const command of ["run", "targets", "definition", "graph", "cache", "daemon", "init"]) {
      const help = await brewkit([command, "--help"], { cwd: project });
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toContain(`brewkit ${command}`);
    }
  });
});
