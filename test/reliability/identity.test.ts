import { cpSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject, repoRoot, writeFile } from "../support/project.ts";

// A target is its value: targets made at one source line (a factory, a loop, a
// library) are different targets, and every one of them is built.
describe("targets made at one source line", () => {
  it("are kept apart when a factory is called twice", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { group, scratch, target } from "brewkit";
${busyboxBase}
const make = (name: string) => {
  const prep = target({ from: base, command: \`mkdir -p /out && echo \${name} > /out/name\` });
  return target({ from: prep, command: "true", output: { artifact: "/out", local: \`dist/\${name}\` } });
};
export const alpha = make("alpha");
export const beta = make("beta");
export default group(alpha, beta);
`,
    });
    const result = await brewkit(["run", "--progress", "plain"], { cwd: project });
    expect(result.stderr).toContain("✔ alpha");
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(project, "dist/alpha/name"), "utf8")).toBe("alpha\n");
    expect(readFileSync(path.join(project, "dist/beta/name"), "utf8")).toBe("beta\n");
    // Unexported steps are named by the path that reaches them.
    expect(result.stderr).toMatch(/\[alpha>from\] mkdir -p \/out && echo alpha/);
    expect(result.stderr).toMatch(/\[beta>from\] mkdir -p \/out && echo beta/);
  });

  it("are all built when a group is made in a loop", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { group, scratch, target } from "brewkit";
${busyboxBase}
export default group(...Array.from({ length: 5 }, (_, i) => target({ from: base, command: \`mkdir -p /out && echo \${i} > /out/n\`, output: { artifact: "/out", local: \`dist/n\${i}\` } })));
`,
    });
    const result = await brewkit(["run"], { cwd: project });
    expect(result.code).toBe(0);
    for (let i = 0; i < 5; i++) expect(readFileSync(path.join(project, `dist/n${i}/n`), "utf8")).toBe(`${i}\n`);
  });

  it("run a library's unexported test step, so a failing test fails the build", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { shellProject } from "brewkit-shell";\nexport default shellProject({ name: "greet", script: "src/greet.sh", test: "test.sh" }).build;\n`,
      "src/greet.sh": '#!/bin/sh\necho "hello, ${1:-world}"\n',
      "test.sh": 'echo "library test ran"; [ "$(sh src/greet.sh lib)" = "goodbye" ]\n',
    });
    // A real copy, as npm installs it: the library resolves the project's brewkit.
    cpSync(path.join(repoRoot, "packages/brewkit-shell"), path.join(project, "node_modules/brewkit-shell"), { recursive: true });
    const failing = await brewkit(["run", "--progress", "plain"], { cwd: project });
    expect(failing.stderr).toContain("library test ran");
    expect(failing.stderr).toMatch(/error: \S+:\d+: target "default>dependsOn\[0\]": step .*sh test\.sh.* failed/);
    expect(failing.code).toBe(1);

    writeFile(project, "test.sh", 'echo "library test ran"; [ "$(sh src/greet.sh lib)" = "hello, lib" ]\n');
    const passing = await brewkit(["run", "--progress", "plain"], { cwd: project });
    expect(passing.stderr).toContain("library test ran");
    expect(passing.code).toBe(0);
    expect(readFileSync(path.join(project, "dist/greet"), "utf8")).toContain("hello");
  });
});
