import { describe, expect, it } from "vitest";
import { cache, fmt, group, image, scratch, target, variable, type Target } from "../../src/model/index.ts";
import { PlanNames } from "../../src/plan/names.ts";
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
    expect(planned.outputs).toEqual([{ index: 0, artifact: "out", local: "dist", allowOutsideProject: false, onFailure: false }]);
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

  it("names an unexported target by the path that reaches it", () => {
    const hidden = target({ from: image("busybox") });
    const shown = target({ from: hidden });
    const plan = createPlan(input({ shown }), ["shown"]);
    expect([...plan.targets.keys()].sort()).toEqual(["shown", "shown>from"]);
    expect(plan.targets.get("shown")!.base).toEqual({ kind: "target", name: "shown>from" });
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

  it("takes onFailure on an output as true or false, and nothing else", () => {
    const reports = target({ from: "busybox", output: { artifact: "/r", local: "reports", onFailure: true } });
    expect(createPlan(input({ reports }), ["reports"]).targets.get("reports")!.outputs[0]!.onFailure).toBe(true);
    const typo = target({ from: "busybox", output: { artifact: "/r", local: "reports", onFailure: "yes" as unknown as boolean } });
    expect(() => createPlan(input({ typo }), ["typo"])).toThrow(/target "typo", field "output\[0\]\.onFailure": must be true or false, not "yes"/);
  });

  it("keeps cache mounts with absolute paths", () => {
    const t = target({ from: "busybox", workdir: "/w", cache: [cache("c", "tmp", { sharing: "locked" })] });
    expect(createPlan(input({ t }), ["t"]).targets.get("t")!.caches).toEqual([{ id: "c", path: "tmp", sharing: "locked", hostDir: undefined }]);
  });
});

describe("createPlan: a target is its value, never its name", () => {
  // Every target of a factory is made at the same source lines.
  const project = (name: string) => {
    const prep = target({ from: "busybox", command: `echo ${name} > /name` });
    return target({ from: prep, copy: { from: prep, src: "/name", dest: "/copied" }, output: { artifact: "/name", local: `dist/${name}` } });
  };

  it("keeps the targets of a factory called twice apart", () => {
    const alpha = project("alpha");
    const beta = project("beta");
    const plan = createPlan(input({ alpha, beta }), ["alpha", "beta"]);
    expect([...plan.targets.keys()].sort()).toEqual(["alpha", "alpha>from", "beta", "beta>from"]);
    expect(plan.targets.get("alpha>from")!.commands).toEqual([["/bin/sh", "-c", "echo alpha > /name"]]);
    expect(plan.targets.get("beta>from")!.commands).toEqual([["/bin/sh", "-c", "echo beta > /name"]]);
    // One value reached twice (from and copy.from) is one target.
    expect(plan.targets.get("beta")!.copies[0]).toMatchObject({ kind: "target", from: "beta>from" });
  });

  it("builds every member of a group made in a loop", () => {
    const members = Array.from({ length: 5 }, (_, i) => target({ from: "busybox", command: `echo ${i}` }));
    const plan = createPlan(input({}, { groups: new Map([["default", group(...members)]]), defaultName: "default" }), []);
    expect(plan.requested).toEqual(["default[0]", "default[1]", "default[2]", "default[3]", "default[4]"]);
    expect(plan.requested.map((n) => plan.targets.get(n)!.commands[0]![2])).toEqual(["echo 0", "echo 1", "echo 2", "echo 3", "echo 4"]);
    expect(plan.waves.flat().sort()).toEqual([...plan.requested].sort());
  });

  it("plans a library's unexported steps (a test that a build depends on)", () => {
    const library = (name: string) => {
      const base = target({ from: "busybox" });
      const test = target({ from: base, command: `test ${name}` });
      const build = target({ from: base, command: `build ${name}`, dependsOn: [test] });
      return { base, test, build };
    };
    const one = library("one").build;
    const two = library("two").build;
    const plan = createPlan(input({ one, two }), ["one", "two"]);
    expect(plan.targets.get("one>dependsOn[0]")!.commands[0]![2]).toBe("test one");
    expect(plan.targets.get("two>dependsOn[0]")!.commands[0]![2]).toBe("test two");
    expect(plan.waves).toEqual([["one>dependsOn[0]", "two>dependsOn[0]"], ["one", "two"]]);
  });

  it("names an exported target by its export even when reached first through another", () => {
    const lib = target({ from: "busybox" });
    const app = target({ from: lib });
    const plan = createPlan(input({ app, lib, default: app }), ["app"]);
    expect([...plan.targets.keys()].sort()).toEqual(["app", "lib"]);
  });

  it("keeps variables of a factory apart and names them by export or path", () => {
    const versionOf = (file: string) => variable({ from: "busybox", command: `cat ${file}` });
    const mine = versionOf("A");
    const app = target({ from: "busybox", env: { A: mine, B: versionOf("B") }, command: fmt`echo ${versionOf("C")}` });
    const plan = createPlan(input({ app }, { variables: new Map([["mine", mine]]) }), ["app"]);
    const names = [...plan.variables.values()].map((v) => [v.target.name, v.target.commands[0]![2]]);
    expect(names.sort()).toEqual([["app>command", "cat C"], ["app>env.B", "cat B"], ["mine", "cat A"]]);
  });

  it("never lets one name stand for two values", () => {
    const names = new PlanNames([["a", target({ from: "busybox" })]]);
    const other = target({ from: "busybox" });
    expect(names.nameOf(other, "a")).toBe("a#2");
    expect(names.nameOf(other, "x")).toBe("a#2");
  });
});
