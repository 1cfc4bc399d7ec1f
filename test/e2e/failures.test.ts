// What a user sees when a build fails on the daemon: the config's file:line of the
// failing target, from the daemon's own error details, the step, its exit code and
// last output lines; the same data as JSON in rawjson mode; the daemon's stack with --debug;
// and outputs marked onFailure, exported from the filesystem a failed command left.
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

/** The 1-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.split("\n").findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`${needle} is not in the config`);
  return index + 1;
}

describe("a failing build points at the config", () => {
  it("prints the file:line of a failing command's target, the step, its exit code and last output", async () => {
    const token = randomUUID();
    const config = `import { target, scratch } from "brewkit";
${busyboxBase}

export const fail = target({
  from: base,
  command: "echo ${token} first; echo ${token} last words; exit 7",
});
`;
    const project = makeProject({ "brewkit.config.ts": config });
    const result = await brewkit(["run", "fail", "--debug"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: brewkit.config.ts:${lineOf(config, "export const fail")}: target "fail": step "[fail] echo ${token} first;`);
    expect(result.stderr).toContain("exit code: 7");
    expect(result.stderr).toMatch(new RegExp(`--- last output of the step ---\\n${token} first\\n${token} last words\\n`));
    // --debug adds the daemon's own stack, decoded from its error details.
    expect(result.stderr).toMatch(/daemon stack \(buildkitd v[\d.]+/);
    expect(result.stderr).toContain("runcexecutor");
  });

  it("prints the file:line of a target defined in another file of the config", async () => {
    const token = randomUUID();
    const lib = `import { target } from "brewkit";

/** A failing target made by a function. */
export function failing(from: ReturnType<typeof target>) {
  return target({
    from,
    command: "exit 3 # ${token}",
  });
}
`;
    const config = `import { target, scratch } from "brewkit";
import { failing } from "./lib/targets.ts";
${busyboxBase}
export const fail = failing(base);
`;
    const project = makeProject({ "brewkit.config.ts": config, "lib/targets.ts": lib });
    const result = await brewkit(["run", "fail"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: lib/targets.ts:${lineOf(lib, "return target")}: target "fail": step`);
  });

  it("prints the file:line of a copy whose source the daemon does not find", async () => {
    const token = randomUUID();
    const config = `import { target, scratch } from "brewkit";
${busyboxBase}
export const made = target({ from: base, command: "mkdir -p /out && echo ${token} > /out/file" });

export const gather = target({
  from: base,
  copy: { from: made, src: "/out/missing-${token}", dest: "/here" },
});
`;
    const project = makeProject({ "brewkit.config.ts": config });
    const result = await brewkit(["run", "gather"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: brewkit.config.ts:${lineOf(config, "export const gather")}: target "gather": step "[gather] copy made:/out/missing-${token}`);
    expect(result.stderr).toMatch(/": not found|no such file or directory/);
  });

  it("prints the file:line of a target whose base image does not exist", async () => {
    const config = `import { target } from "brewkit";

export const first = target({ from: "busybox", command: "true" });
export const broken = target({
  from: "brewkit-test/no-such-image-${randomUUID().slice(0, 8)}:1",
  command: "true",
});
`;
    const project = makeProject({ "brewkit.config.ts": config });
    const result = await brewkit(["run", "broken"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: brewkit.config.ts:${lineOf(config, "export const broken")}: target "broken", field "from": `);
    expect(result.stderr).toMatch(/image "docker\.io\/brewkit-test\/no-such-image-\w+:1" was not found|refused access/);
  });

  it("gives the same failure as data in rawjson mode", async () => {
    const token = randomUUID();
    const config = `import { target, scratch } from "brewkit";
${busyboxBase}
export const fail = target({
  from: base,
  command: "echo ${token}; exit 5",
});
`;
    const project = makeProject({ "brewkit.config.ts": config });
    const result = await brewkit(["run", "fail", "--progress", "rawjson"], { cwd: project });
    expect(result.code).toBe(1);
    const lines = result.stderr.split("\n").filter((l) => l.startsWith("{"));
    const last = JSON.parse(lines.at(-1)!) as { error: { code: string; step: Record<string, unknown>; context: Record<string, unknown> } };
    const line = lineOf(config, "export const fail");
    expect(last.error.code).toBe("STEP_FAILED");
    expect(last.error.step).toEqual({
      target: "fail",
      step: `[fail] echo ${token}; exit 5`,
      command: ["/bin/sh", "-c", `echo ${token}; exit 5`],
      exitCode: 5,
      reason: `process "/bin/sh -c echo ${token}; exit 5" did not complete successfully: exit code: 5`,
      lastLines: [token],
      location: { file: "brewkit.config.ts", line, endLine: line + 3 },
    });
    // The text the other modes print says the same.
    expect(result.stderr).toContain(`error: brewkit.config.ts:${line}: target "fail": step "[fail] echo ${token}; exit 5" failed`);
  });
});

describe("outputs marked onFailure", () => {
  it("are exported from the filesystem the failing command left; others are not, and the run fails", async () => {
    const token = randomUUID();
    const config = `import { target, scratch } from "brewkit";
${busyboxBase}
export const test = target({
  from: base,
  workdir: "/src",
  command: "mkdir -p reports/unit && echo '<testsuite failures=\\"1\\">${token}</testsuite>' > reports/junit.xml && echo ${token} > reports/unit/coverage.txt && ln -s junit.xml reports/latest.xml && mkdir -p out && echo built > out/app && echo 1 test failed; exit 1",
  output: [
    { artifact: "/src/reports", local: "reports", onFailure: true },
    { artifact: "/src/out", local: "dist" },
  ],
});
`;
    const project = makeProject({ "brewkit.config.ts": config });
    const result = await brewkit(["run", "test"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: brewkit.config.ts:${lineOf(config, "export const test")}: target "test": step "[test] mkdir -p reports/unit`);
    expect(result.stderr).toContain("1 test failed");
    expect(readFileSync(path.join(project, "reports/junit.xml"), "utf8")).toBe(`<testsuite failures="1">${token}</testsuite>\n`);
    expect(readFileSync(path.join(project, "reports/unit/coverage.txt"), "utf8")).toBe(`${token}\n`);
    expect(readlinkSync(path.join(project, "reports/latest.xml"))).toBe("junit.xml");
    expect(existsSync(path.join(project, "dist"))).toBe(false);
    // Nothing of brewkit's staging is left beside the output.
    expect(readdirSync(project).filter((name) => name.includes("brewkit") && name !== "brewkit.config.ts")).toEqual([]);
  });

  it("are exported as usual when the build succeeds", async () => {
    const token = randomUUID();
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const test = target({
  from: base,
  workdir: "/src",
  command: "mkdir -p reports && echo ${token} > reports/junit.xml",
  output: { artifact: "/src/reports", local: "reports", onFailure: true },
});
`,
    });
    const result = await brewkit(["run", "test"], { cwd: project });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/✔ test: \d+ steps.* → reports/);
    expect(readFileSync(path.join(project, "reports/junit.xml"), "utf8")).toBe(`${token}\n`);
  });

  it("are not exported when the failure is in the target's base, and a missing artifact only warns", async () => {
    const token = randomUUID();
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const broken = target({ from: base, command: "mkdir -p /src/reports && echo base > /src/reports/r.txt && exit 4 # ${token}" });
export const viaBase = target({
  from: broken,
  command: "true",
  output: { artifact: "/src/reports", local: "from-base", onFailure: true },
});
export const early = target({
  from: base,
  command: "echo ${token}; exit 2",
  output: { artifact: "/src/reports", local: "early", onFailure: true },
});
`,
    });
    const viaBase = await brewkit(["run", "viaBase"], { cwd: project });
    expect(viaBase.code).toBe(1);
    expect(viaBase.stderr).toContain('step "[broken] mkdir -p /src/reports');
    expect(existsSync(path.join(project, "from-base"))).toBe(false);

    const early = await brewkit(["run", "early"], { cwd: project });
    expect(early.code).toBe(1);
    expect(early.stderr).toContain(`warning: output[0] of target "early" (onFailure) was not written: /src/reports is not in the failed command's filesystem`);
    expect(early.stderr).toContain('target "early": step');
    expect(existsSync(path.join(project, "early"))).toBe(false);
  });
});
