import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

const read = (project: string, file: string) => readFileSync(path.join(project, file), "utf8");

describe("target directives on a real daemon", () => {
  it("copies an artifact from another target's result", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const compile = target({ from: base, workdir: "/build", command: "mkdir -p bin && echo 'compiled v1' > bin/app" });
export const bundle = target({
  from: base,
  workdir: "/bundle",
  copy: [{ from: compile, src: "bin/app", dest: "app" }, { from: compile, src: "/build/bin", dest: "/bundle/all-bin" }],
  command: "cat app all-bin/app > /bundle/both",
  output: { artifact: "/bundle/both", local: "out" },
});
`,
    });
    const result = await brewkit(["run", "bundle"], { cwd: project });
    expect(result.stderr).toContain("✔ bundle");
    expect(read(project, "out/both")).toBe("compiled v1\ncompiled v1\n");
  });

  it("reports a failing step with its target, command and output", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const who = target({
  from: base,
  workdir: "/work/dir",
  env: { GREETING: "hi there", EMPTY: "" },
  commands: [
    "mkdir -p /out && chmod 777 /out",
    ["/bin/sh", "-c", "echo \\"$(id -u):$(id -g) $(pwd) $GREETING [$EMPTY]\\" > /out/who"],
  ],
  user: "1234:2345",
  output: { artifact: "/out", local: "out" },
});
`,
    });
    // Every command runs as 1234, so the first cannot create /out.
    const failed = await brewkit(["run", "who"], { cwd: project });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/target "who": step "\[who\] mkdir -p \/out && chmod 777 \/out" failed/);
    expect(failed.stderr).toContain("Permission denied");
    expect(failed.stderr).not.toMatch(/^\s+at /m);
  });

  it("runs as a non-root user where it may write", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const prepared = target({ from: base, command: "mkdir -p /out /work/dir && chmod 777 /out /work/dir" });
export const who = target({
  from: prepared,
  workdir: "/work/dir",
  env: { GREETING: "hi there" },
  user: "1234:2345",
  command: ["/bin/sh", "-c", "echo \\"$(id -u):$(id -g) $(pwd) $GREETING\\" > /out/who"],
  output: { artifact: "/out", local: "out" },
});
`,
    });
    const result = await brewkit(["run", "who"], { cwd: project });
    expect(result.stderr).toContain("✔ who");
    expect(read(project, "out/who")).toBe("1234:2345 /work/dir hi there\n");
  });

  it("cuts steps off the network with network: none", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const offline = target({
  from: base,
  network: "none",
  command: "mkdir -p /out && ls /sys/class/net | sort | tr '\\\\n' ' ' > /out/interfaces",
  output: { artifact: "/out", local: "out" },
});
export const online = target({
  from: base,
  command: "mkdir -p /out && ls /sys/class/net | wc -l > /out/count",
  output: { artifact: "/out", local: "out2" },
});
`,
    });
    const result = await brewkit(["run", "offline", "online"], { cwd: project });
    expect(result.code).toBe(0);
    expect(read(project, "out/interfaces").trim()).toBe("lo");
    expect(Number(read(project, "out2/count"))).toBeGreaterThan(1);
  });

  it("records a target's platform on its steps, and the daemon's platform otherwise", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
export const arm = target({ from: scratch, platform: "linux/arm64", copy: "tool", command: ["/tool"] });
export const native = target({ from: scratch, copy: "tool", command: ["/tool"] });
`,
      tool: "#!/bin/true\n",
    });
    const platformsOf = async (name: string) => {
      const result = await brewkit(["definition", name], { cwd: project });
      expect(result.code).toBe(0);
      const ops = (JSON.parse(result.stdout) as { ops: Array<{ op: { exec?: unknown; platform?: { Architecture: string } } }> }).ops;
      return ops.filter((o) => o.op.exec).map((o) => o.op.platform?.Architecture);
    };
    expect(await platformsOf("arm")).toEqual(["arm64"]);
    expect(await platformsOf("native")).toEqual([process.arch === "arm64" ? "arm64" : "amd64"]);
  });

  it("builds a group, and lists targets and groups with their descriptions", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch, group } from "brewkit";
${busyboxBase}
/** A. */
export const a = target({ description: "makes a", from: base, command: "echo a > /a", output: { artifact: "/a", local: "out/a" } });
export const b = target({ description: "makes b", from: base, command: "echo b > /b", output: { artifact: "/b", local: "out/b" } });
export const both = group({ description: "a and b together", targets: [a, b] });
export default both;
`,
    });
    const list = await brewkit(["targets"], { cwd: project });
    expect(list.stdout).toMatch(/^a\s+makes a$/m);
    expect(list.stdout).toMatch(/^both\s+a and b together \(default\)$/m);
    const result = await brewkit(["run"], { cwd: project });
    expect(result.code).toBe(0);
    expect(read(project, "out/a/a") + read(project, "out/b/b")).toBe("a\nb\n");
  });
});
