import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

describe("what gets uploaded", () => {
  it("leaves out what the project's ignore file and the copy's exclude patterns name", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const list = target({
  from: base,
  workdir: "/w",
  copy: [{ src: "src", exclude: ["**/*.tmp"] }],
  command: "mkdir -p /out && cd /w && find . -type f | sort > /out/files",
  output: { artifact: "/out/files", local: "out" },
});
`,
      ".dockerignore": "# build noise\n**/*.log\nsrc/cache/\n!src/cache/keep.txt\n",
      "src/main.c": "int main(){}",
      "src/debug.log": "noise",
      "src/deep/er/trace.log": "noise",
      "src/cache/blob": "noise",
      "src/cache/keep.txt": "kept by exception",
      "src/scratch.tmp": "noise",
    });
    const result = await brewkit(["run", "list"], { cwd: project });
    expect(result.stderr).toContain("✔ list");
    expect(readFileSync(path.join(project, "out", "files"), "utf8").split("\n").filter(Boolean)).toEqual([
      "./src/cache/keep.txt",
      "./src/main.c",
    ]);
  });

  it("prefers .brewkitignore over .dockerignore", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const list = target({ from: base, copy: "src", command: "mkdir -p /out && ls /src > /out/files", output: { artifact: "/out", local: "out" } });
`,
      ".brewkitignore": "src/b\n",
      ".dockerignore": "src/a\n",
      "src/a": "a",
      "src/b": "b",
    });
    expect((await brewkit(["run", "list"], { cwd: project })).code).toBe(0);
    expect(readFileSync(path.join(project, "out", "files"), "utf8")).toBe("a\n");
  });
});

describe("brewkit definition", () => {
  it("prints the LLB of a target as JSON, with its commands and local sources", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const app = target({ from: base, copy: "src", command: "echo built", output: { artifact: "/src", local: "out" } });
`,
      "src/x": "x",
    });
    const result = await brewkit(["definition", "app"], { cwd: project });
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { ops: Array<{ digest: string; op: Record<string, unknown> }> };
    expect(json.ops.length).toBeGreaterThan(4);
    for (const op of json.ops) expect(op.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const text = JSON.stringify(json);
    expect(text).toContain('"echo built"');
    expect(text).toMatch(/local:\/\/src-[0-9a-f]{12}/);
    expect(text).toContain("/usr/bin");
    expect(existsSync(path.join(project, "out"))).toBe(false);
  });
});

describe("a config that fails to load", () => {
  it("is reported with its file and message, without compiled code or a stack trace", async () => {
    const project = makeProject({ "brewkit.config.ts": `import { target } from "brewkit";\nexport const x = target({ from: notDefined });\n` });
    const result = await brewkit(["run", "x"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("brewkit.config.ts failed to load: notDefined is not defined");
    expect(result.stderr).not.toContain("data:");
    expect(result.stderr.length).toBeLessThan(600);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("brewkit definition --format pb", () => {
  it("prints the protobuf bytes a Solve carries, decodable as a pb.Definition", async () => {
    const project = makeProject({ "brewkit.config.ts": `import { target, scratch } from "brewkit";\nexport const up = target({ from: scratch, copy: "data" });\n`, data: "d" });
    const { spawnSync } = await import("node:child_process");
    const { repoRoot } = await import("../support/project.ts");
    const run = spawnSync(process.execPath, [path.join(repoRoot, "bin/brewkit.js"), "definition", "up", "--format", "pb"], { cwd: project, env: { ...process.env, BUILDKIT_HOST: inject("buildkitHost") } });
    expect(run.status).toBe(0);
    const { codecFor } = await import("../../src/proto/registry.ts");
    const definition = codecFor<{ def: Uint8Array[] }>("pb.Definition").decode(run.stdout);
    expect(definition.def.length).toBe(3);
  });
});
