import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalDaemon } from "../../src/daemon/local-daemon.ts";
import { daemonPaths, defaultDaemonPaths } from "../../src/daemon/paths.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

describe("a cache mirrored to a host folder", () => {
  const id = `mirror-${Date.now()}`;
  const project = makeProject({
    "brewkit.config.ts": `import { target, scratch, cache } from "brewkit";
${busyboxBase}
const modules = cache("${id}", "/cache", { hostDir: ".cache/modules" });
export const build = target({
  from: base,
  copy: "input.txt",
  cache: [modules],
  command: "[ -f /cache/big.bin ] || head -c 200000 /dev/zero > /cache/big.bin; echo \\"run $(cat /input.txt)\\" >> /cache/log && mkdir -p /out && cp /cache/log /out/log",
  output: { artifact: "/out", local: "out" },
});
`,
    "input.txt": "1",
  });
  const hostLog = () => readFileSync(path.join(project, ".cache/modules/log"), "utf8");
  const run = (env: Record<string, string> = {}) => brewkit(["run", "build", "--metadata-file", "meta.json"], { cwd: project, env });
  const transfer = () => JSON.parse(readFileSync(path.join(project, "meta.json"), "utf8")).targets[0].transfer as { filesReceived: number; filesReused: number };

  const freshDir = mkdtempSync("/tmp/bk-fresh-");
  const fresh = new LocalDaemon(daemonPaths(freshDir, defaultDaemonPaths().binDir));
  afterAll(async () => {
    await fresh.stop();
    rmSync(freshDir, { recursive: true, force: true });
  });

  it("writes what a step put into the cache back to the host folder", async () => {
    const result = await run();
    expect(result.stderr).toContain("✔ build");
    expect(hostLog()).toBe("run 1\n");
    expect(readFileSync(path.join(project, ".cache/modules/big.bin")).length).toBe(200_000);
    expect(readFileSync(path.join(project, "out/log"), "utf8")).toBe("run 1\n");
  });

  it("writes back incrementally: unchanged files are not transferred again", async () => {
    writeFileSync(path.join(project, "input.txt"), "2");
    expect((await run()).code).toBe(0);
    expect(hostLog()).toBe("run 1\nrun 2\n");
    expect(transfer()).toMatchObject({ filesReused: 1 });
    expect(transfer().filesReceived).toBeGreaterThanOrEqual(1);
  });

  it("seeds the empty cache of a new daemon state from the host folder", async () => {
    await fresh.start({ timeoutMs: 60_000 });
    writeFileSync(path.join(project, "input.txt"), "3");
    const result = await run({ BUILDKIT_HOST: fresh.address });
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(project, "out/log"), "utf8")).toBe("run 1\nrun 2\nrun 3\n");
    expect(hostLog()).toBe("run 1\nrun 2\nrun 3\n");
  });
});

describe("brewkit cache export / import", () => {
  it("moves a cache's content to a host folder and into another cache", async () => {
    const id = `transfer-${Date.now()}`;
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch, cache } from "brewkit";
${busyboxBase}
export const fill = target({ from: base, cache: [cache("${id}", "/c")], command: "mkdir -p /c/sub && echo one > /c/sub/file # ${id}" });
export const show = target({ from: base, cache: [cache("${id}-copy", "/c")], command: "mkdir -p /o && cat /c/sub/file /c/extra > /o/seen # ${id}", output: { artifact: "/o", local: "out" } });
`,
    });
    expect((await brewkit(["run", "fill"], { cwd: project })).code).toBe(0);
    const exported = await brewkit(["cache", "export", id, "exported"], { cwd: project });
    expect(exported.stderr).toContain(`✔ exported cache ${id} to exported`);
    expect(readFileSync(path.join(project, "exported/sub/file"), "utf8")).toBe("one\n");

    writeFileSync(path.join(project, "exported/extra"), "two\n");
    const imported = await brewkit(["cache", "import", `${id}-copy`, "exported", "--target", "base"], { cwd: project });
    expect(imported.stderr).toContain(`✔ imported exported into cache ${id}-copy`);
    expect((await brewkit(["run", "show"], { cwd: project })).code).toBe(0);
    expect(readFileSync(path.join(project, "out/seen"), "utf8")).toBe("one\ntwo\n");
  });

  it("runs the copy in an image given with --image", async () => {
    const id = `image-${Date.now()}`;
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch, cache } from "brewkit";
${busyboxBase}
export const fill = target({ from: base, cache: [cache("${id}", "/c")], command: "echo one > /c/file # ${id}" });
`,
    });
    expect((await brewkit(["run", "fill"], { cwd: project })).code).toBe(0);
    const exported = await brewkit(["cache", "export", id, "exported", "--image", "busybox", "--progress", "plain"], { cwd: project });
    expect(exported.stderr).toContain("docker-image://docker.io/library/busybox:latest");
    expect(exported.code).toBe(0);
    expect(readFileSync(path.join(project, "exported/file"), "utf8")).toBe("one\n");
  });

  it("explains what it needs", async () => {
    const project = makeProject({ "brewkit.config.ts": `export {};\n` });
    const missing = await brewkit(["cache", "import", "x", "no-such-dir"], { cwd: project });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no-such-dir is not a folder");
    const bad = await brewkit(["cache", "copy", "x", "y"], { cwd: project });
    expect(bad.stderr).toContain('unknown cache action "copy"');
  });
});
