import { describe, expect, it } from "vitest";
import { cache, target, type Target } from "../../src/model/index.ts";
import { resolveHostPaths, createPlan, type PlanInput } from "../../src/plan/index.ts";

function plan(targets: Record<string, Target>, names: string[]) {
  const input: PlanInput = { configFile: "/p/brewkit.config.ts", projectDir: "/p", targets: new Map(Object.entries(targets)), groups: new Map(), defaultName: undefined, ignorePatterns: [] };
  return createPlan(input, names);
}

/** The error thrown by `fn`, for asserting on its parts. */
function errorOf(fn: () => unknown): { message: string; hint?: string; context: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as { message: string; hint?: string; context: Record<string, unknown> };
  }
  throw new Error("expected an error");
}

const here = /plan-errors\.test\.ts:\d+: /;

describe("plan errors name the file:line, target, field and the fix", () => {
  it("a copy source that does not exist, with a near name", () => {
    const app = target({ from: "busybox", copy: "scr" });
    const p = plan({ app }, ["app"]);
    const err = errorOf(() => resolveHostPaths(p, { exists: (f: string) => f === "/p/src", list: () => ["src", "README.md"], realPath: (f: string) => f, readLink: () => undefined }));
    expect(err.message).toMatch(here);
    expect(err.message).toContain('target "app", field "copy[0].src": copy source scr does not exist (did you mean "src"?)');
    expect(err.hint).toContain("relative to the project directory");
    expect(err.context).toMatchObject({ target: "app", field: "copy[0].src" });
  });

  it("duplicate cache ids with different paths", () => {
    const a = target({ from: "busybox", cache: [cache("deps", "/deps")] });
    const b = target({ from: a, cache: [cache("deps", "/other")] });
    const err = errorOf(() => plan({ a, b }, ["b"]));
    expect(err.message).toMatch(here);
    expect(err.message).toMatch(/target "(a|b)", field "cache\[0\]": cache "deps" is mounted at \/(deps|other) here but at \/(deps|other) in target "(a|b)"/);
    expect(err.hint).toContain("one path per cache id");
  });

  it("invalid platforms", () => {
    for (const [platform, problem] of [
      ["linux", 'is not of the form os/arch'],
      ["linux/mips99", 'unknown architecture "mips99"'],
      ["plan10/amd64", 'unknown operating system "plan10"'],
    ] as const) {
      const t = target({ from: "busybox", platform });
      const err = errorOf(() => plan({ t }, ["t"]));
      expect(err.message).toMatch(here);
      expect(err.message).toContain(`target "t", field "platform": `);
      expect(err.message).toContain(problem);
      expect(err.hint).toContain("linux/arm64");
    }
  });

  it("values of the wrong type, as plain JavaScript can write them", () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ from: 42 }, "from", "must be an image reference string"],
      [{}, "from", "is missing"],
      [{ from: "x", env: "A=1" }, "env", "must be an object"],
      [{ from: "x", env: { A: 1 } }, "env.A", "must be a string, a variable"],
      [{ from: "x", command: 7 }, "command", "must be a shell string or a non-empty array"],
      [{ from: "x", commands: "make" }, "commands", "must be a list of commands"],
      [{ from: "x", copy: [{}] }, "copy[0].src", "must be a non-empty path"],
      [{ from: "x", copy: [{ src: "a", exclude: "b" }] }, "copy[0].exclude", "must be a list of strings"],
      [{ from: "x", workdir: 5 }, "workdir", "must be a string, got number 5"],
      [{ from: "x", network: "bridge" }, "network", 'unknown network mode "bridge"'],
      [{ from: "x", output: { artifact: "/o" } }, "output[0]", "needs `artifact`"],
      [{ from: "x", cache: ["go"] }, "cache[0]", "must be made by cache()"],
      [{ from: "x", secrets: [{ id: "x" }] }, "secrets[0]", "must be made by secret()"],
      [{ from: "x", dependsOn: ["lint"] }, "dependsOn[0]", "must be a target"],
    ];
    for (const [spec, field, problem] of cases) {
      const t = target(spec as never);
      const err = errorOf(() => plan({ t }, ["t"]));
      expect(err.message, JSON.stringify(spec)).toContain(`target "t", field "${field}": ${problem}`);
      expect(err.message).toMatch(here);
      expect(err.hint, JSON.stringify(spec)).toBeTruthy();
    }
  });
});
