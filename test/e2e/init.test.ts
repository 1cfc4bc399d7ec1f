import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { brewkit, makeProject } from "../support/project.ts";

describe("brewkit init", () => {
  it("writes the shell template, which builds offline", async () => {
    const project = makeProject({});
    const init = await brewkit(["init"], { cwd: project });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("created a shell project");
    const run = await brewkit(["run"], { cwd: project });
    expect(run.stderr).toContain("✔ build");
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("tests passed");
    expect(readFileSync(path.join(project, "dist/BUILD_NUMBER"), "utf8").trim()).toMatch(/^\d+$/);
  });

  it("writes the site template, which builds offline (with a build-time variable)", async () => {
    const project = makeProject({});
    expect((await brewkit(["init", "site"], { cwd: project })).code).toBe(0);
    const run = await brewkit(["run"], { cwd: project });
    expect(run.code).toBe(0);
    const html = readFileSync(path.join(project, "site/about.html"), "utf8");
    expect(html).toContain("<title>about</title>");
    expect(html).toContain("<p>About this site.</p>");
    expect(html).toContain("one of 2 pages");
  });

  it("never overwrites a file, and names the templates when one is unknown", async () => {
    const project = makeProject({ "brewkit.config.ts": "// mine\n" });
    const init = await brewkit(["init", "shell"], { cwd: project });
    expect(init.code).toBe(1);
    expect(init.stderr).toContain("already has brewkit.config.ts");
    expect(readFileSync(path.join(project, "brewkit.config.ts"), "utf8")).toBe("// mine\n");
    expect(existsSync(path.join(project, "test.sh"))).toBe(false);
    const unknown = await brewkit(["init", "rust"], { cwd: project });
    expect(unknown.stderr).toContain('unknown template "rust"');
    expect(unknown.stderr).toContain("shell, site");
  });
});
