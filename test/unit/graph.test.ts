import { describe, expect, it } from "vitest";
import { renderMermaidGraph, renderTextGraph, targetEdges } from "../../src/graph/index.ts";
import { scratch, target } from "../../src/model/index.ts";
import { createPlan } from "../../src/plan/index.ts";

describe("target graph", () => {
  const base = target({ from: "busybox" });
  const lint = target({ from: base });
  const build = target({ from: base, dependsOn: [lint] });
  const bundle = target({ from: scratch, copy: { from: build, src: "/out" }, dependsOn: [build] });
  const plan = createPlan(
    { configFile: "/p/brewkit.config.ts", projectDir: "/p", targets: new Map(Object.entries({ base, lint, build, bundle })), groups: new Map(), defaultName: undefined, ignorePatterns: [] },
    ["bundle"],
  );

  it("lists every kind of edge", () => {
    expect(targetEdges(plan)).toEqual(
      expect.arrayContaining([
        { from: "bundle", to: "build", kind: "copy" },
        { from: "bundle", to: "build", kind: "dependsOn" },
        { from: "build", to: "base", kind: "from" },
        { from: "build", to: "lint", kind: "dependsOn" },
        { from: "lint", to: "base", kind: "from" },
      ]),
    );
  });

  it("renders a tree, marking targets already shown", () => {
    expect(renderTextGraph(plan, "bundle")).toBe(
      ["bundle (scratch)", "├─ after build", "│  ├─ from base (image busybox)", "│  └─ after lint", "│     └─ from base (image busybox) …", "└─ copies build …"].join("\n"),
    );
  });

  it("renders Mermaid with one node per target", () => {
    const mermaid = renderMermaidGraph(plan);
    expect(mermaid.split("\n")[0]).toBe("flowchart TD");
    expect(mermaid).toContain('t_bundle["bundle<br/><small>scratch</small>"]');
    expect(mermaid).toContain("t_bundle ==>|copy| t_build");
    expect(mermaid).toContain("t_build -.->|after| t_lint");
  });
});
