import { describe, expect, it } from "vitest";
import { cache, group, image, scratch, target, type Target } from "../../src/model/index.ts";
import { createPlan, type PlanInput } from "../../src/plan/index.ts";

function input(targets: Record<string, Target>, extra: Partial<PlanInput> = {}): PlanInput {
  return {
    configFile: "/project/brewkit.config.ts",
    projectDir: "/project",
    targets: new Map(Object.entries(targets)),
    groups: new Map(),
    defaultName: undefined,
    ignorePatterns: [],
    ...extra,
  };
}

describe("createPlan", () => {
  const base = target({ from: "busybox" });
  const app = target({ from: base, workdir: "/src", copy: ["src", { src: "go.mod", dest: "/deps/" }], command: "make", output: { artifact: "out", local: "dist" } });

  it("resolves bases, paths and commands", () => {
    const plan = createPlan(input({ base, app }), ["app"]);
    const planned = plan.targets.get("app")!;
    expect(planned.base).toEqual({ kind: "target", name: "base" });
    expect(plan.targets.get("base")!.base).toEqual({ kind: "image", ref: "busybox" });
    expect(planned.copies).toEqual([
      { kind: "host", hostRoot: "/project", srcPath: "src", dest: undefined, include: ["src"], exclude: [] },
      { kind: "host", hostRoot: "/project", srcPath: "go.mod", dest: "/deps/", include: ["go.mod"], exclude: [] },
    ]);
    expect(planned.commands).toEqual([["/bin/sh", "-c", "make"]]);
    expect(planned.outputs).toEqual([{ artifact: "out", local: "dist", allowOutsideProject: false }]);
    expect(plan.waves).toEqual([["app"]]);
  });

  it("copies a host path outside the project from its own directory", () => {
    const t = target({ from: scratch, copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" } });
    const copy = createPlan(input({ t }), ["t"]).targets.get("t")!.copies[0]!;
    expect(copy).toMatchObject({ kind: "host", hostRoot: "/usr/bin", srcPath: "busybox", include: ["busybox"], dest: "/bin/busybox" });
  });

  it("applies the project's ignore patterns to project copies only, after the copy's own", () => {
    const t = target({ from: scratch, copy: [{ src: "web", exclude: ["*.log"] }, "/etc/hosts"] });
    const [web, hosts] = createPlan(input({ t }, { ignorePatterns: ["node_modules"] }), ["t"]).targets.get("t")!.copies;
    expect(web!.exclude).toEqual(["node_modules", "web/*.log"]);
    expect(hosts!.exclude).toEqual([]);
  });

  it("builds dependsOn targets in earlier waves, including those of the base chain", () => {
    const lint = target({ from: "busybox" });
    const gen = target({ from: "busybox", dependsOn: [lint] });
    const lib = target({ from: "busybox", dependsOn: [gen] });
    const bin = target({ from: lib });
    expect(createPlan(input({ lint, gen, lib, bin }), ["bin"]).waves).toEqual([["lint"], ["gen"], ["bin"]]);
  });

  it("expands groups and builds the default export when no name is given", () => {
    const a = target({ from: "busybox" });
    const b = target({ from: "busybox" });
    const plan = createPlan(input({ a, b }, { groups: new Map([["default", group(a, b)]]), defaultName: "default" }), []);
    expect(plan.requested).toEqual(["a", "b"]);
  });

  it("names an unexported target by its definition site", () => {
    const hidden = target({ from: image("busybox") });
    const shown = target({ from: hidden });
    const plan = createPlan(input({ shown }), ["shown"]);
    const [name] = [...plan.targets.keys()].filter((n) => n !== "shown");
    expect(name).toMatch(/^<target at .*plan\.test\.ts:\d+>$/);
  });

  it("rejects an unknown target, suggesting the nearest name and listing all", () => {
    expect(() => createPlan(input({ build: app, base }), ["biuld"])).toThrow(/unknown target "biuld" \(did you mean "build"\?\); available targets: base, build/);
  });

  it("prints a dependency cycle", () => {
    // Targets are immutable, but a dependsOn list filled in later can still close a loop.
    const later: Target[] = [];
    const a = target({ from: "busybox", dependsOn: later });
    const b = target({ from: a });
    later.push(b);
    expect(() => createPlan(input({ a, b }), ["a"])).toThrow(/dependency cycle: a → b → a/);
  });

  it("refuses outputs outside the project unless allowed", () => {
    const out = target({ from: "busybox", output: { artifact: "/o", local: "../elsewhere" } });
    expect(() => createPlan(input({ out }), ["out"])).toThrow(/target "out", field "output\[0\]\.local".*outside the project/);
    const allowed = target({ from: "busybox", output: { artifact: "/o", local: "../elsewhere", allowOutsideProject: true } });
    expect(createPlan(input({ allowed }), ["allowed"]).targets.get("allowed")!.outputs[0]!.local).toBe("../elsewhere");
  });

  it("keeps cache mounts with absolute paths", () => {
    const t = target({ from: "busybox", workdir: "/w", cache: [cache("c", "tmp", { sharing: "locked" })] });
    expect(createPlan(input({ t }), ["t"]).targets.get("t")!.caches).toEqual([{ id: "c", path: "tmp", sharing: "locked", hostDir: undefined }]);
  });
});
