import { describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

const noStackTrace = /^\s+at /m;
// A daemon that is not there: none of these commands may need one.
const offline = { BUILDKIT_HOST: "unix:///nonexistent/brewkit/buildkitd.sock" };

describe("errors found before anything reaches the daemon", () => {
  it("name the config file and the line of the target, the field and the fix", async () => {
    const project = makeProject({
      "brewkit.config.ts": [
        'import { target, scratch } from "brewkit";',
        "",
        "export const ok = target({ from: scratch });",
        "",
        'export const app = target({',
        '  from: "busybox",',
        '  copy: "sorce",',
        "});",
      ].join("\n"),
      "source/main.c": "",
    });
    const result = await brewkit(["run", "app"], { cwd: project, env: offline });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${project}/brewkit.config.ts:5: target "app", field "copy[0].src": copy source sorce does not exist (did you mean "source"?)`);
    expect(result.stderr).toContain("hint:");
    expect(result.stderr).not.toContain("cannot reach the BuildKit daemon");
    expect(result.stderr).not.toMatch(noStackTrace);
  });

  it("print a dependency cycle", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target } from "brewkit";
const later = [];
export const a = target({ from: "busybox", dependsOn: later });
export const b = target({ from: a });
later.push(b);
`,
    });
    const result = await brewkit(["run", "a"], { cwd: project, env: offline });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("brewkit.config.ts:3: ");
    expect(result.stderr).toContain("dependency cycle: a → b → a");
  });

  it("name wrong types in a plain JavaScript config by field", async () => {
    const project = makeProject({
      "brewkit.config.mjs": `import { target } from "brewkit";
export const a = target({ from: 42 });
export const b = target({ from: "busybox", env: "A=1" });
export const c = target({ from: "busybox", platform: "linux/mips99" });
export const d = target({ from: "busybox", output: { artifact: "/o", local: "../outside" } });
`,
    });
    const expectations: Array<[string, string]> = [
      ["a", 'brewkit.config.mjs:2: target "a", field "from": must be an image reference string'],
      ["b", 'brewkit.config.mjs:3: target "b", field "env": must be an object'],
      ["c", 'brewkit.config.mjs:4: target "c", field "platform": unknown architecture "mips99"'],
      ["d", 'brewkit.config.mjs:5: target "d", field "output[0].local": ../outside is outside the project directory'],
    ];
    for (const [name, message] of expectations) {
      const result = await brewkit(["run", name], { cwd: project, env: offline });
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toContain(message);
      expect(result.stderr, name).not.toMatch(noStackTrace);
    }
  });
});

describe("brewkit check", () => {
  it("passes a good config, typechecked with TypeScript, without a daemon", async () => {
    const project = makeProject({ "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport const app = target({ from: base, command: "true" });\n` });
    const result = await brewkit(["check"], { cwd: project, env: offline });
    expect(result.stderr).toMatch(/✔ .*brewkit\.config\.ts: 2 targets, 0 groups checked \(TypeScript \d+\.\d+/);
    expect(result.code).toBe(0);
  });

  it("reports type errors with file:line:col and every broken target, without a daemon", async () => {
    const project = makeProject({
      "brewkit.config.ts": [
        'import { target } from "brewkit";',
        'export const a = target({ from: "busybox", workdir: 5 });',
        'export const b = target({ from: "busybox", copy: "missing-dir" });',
        'export const c = target({ from: "busybox", network: "bridge" as "host" });',
      ].join("\n"),
    });
    const result = await brewkit(["check"], { cwd: project, env: offline });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/brewkit\.config\.ts:2:\d+: Type 'number' is not assignable to type 'string'/);
    expect(result.stderr).toContain('target "b", field "copy[0].src": copy source missing-dir does not exist');
    expect(result.stderr).toContain('target "c", field "network": unknown network mode "bridge"');
    expect(result.stderr).toMatch(/✖ .*brewkit\.config\.ts: \d+ problems/);
    expect(result.stderr).not.toContain("cannot reach the BuildKit daemon");
    expect(result.stderr).not.toMatch(noStackTrace);
  });

  it("checks the project's buildCache() specs as a run does, naming the line", async () => {
    const project = makeProject({
      "brewkit.config.ts": [
        'import { target, scratch, buildCache } from "brewkit";',
        "export const a = target({ from: scratch });",
        'export const cache = buildCache({ to: "type=bogus,ref=x" });',
      ].join("\n"),
    });
    const result = await brewkit(["check"], { cwd: project, env: offline });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${project}/brewkit.config.ts:3: buildCache.to "type=bogus,ref=x": type "bogus" is not supported`);
    expect(result.stderr).toMatch(/✖ .*brewkit\.config\.ts: 1 problem\n/);
  });
});
