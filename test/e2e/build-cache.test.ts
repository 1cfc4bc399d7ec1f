// A build cache shared across daemons: daemon A (the suite's) builds and exports its cache
// to the suite's registry, or into a directory of this machine; daemon B, started here
// with its own empty state, imports it and reports the expensive step CACHED without
// running it.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LocalDaemon } from "../../src/daemon/local-daemon.ts";
import { daemonPaths, defaultDaemonPaths } from "../../src/daemon/paths.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";
import { mirrorConfig } from "../support/registry.ts";

interface RunRecord {
  targets: Array<{ name: string; steps: Array<{ name: string; cached: boolean }> }>;
}

const stepsOf = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as RunRecord).targets.flatMap((t) => t.steps);

describe("a build cache shared by two daemons", () => {
  const dir = mkdtempSync("/tmp/bk-cache-");
  const daemonB = new LocalDaemon(daemonPaths(path.join(dir, "daemon"), defaultDaemonPaths().binDir), [], false);

  beforeAll(async () => {
    mkdirSync(daemonB.paths.dir, { recursive: true });
    writeFileSync(daemonB.paths.configFile, mirrorConfig(inject("registry")));
    await daemonB.start({ timeoutMs: 60_000 });
  }, 90_000);

  afterAll(async () => {
    await daemonB.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("through a registry: daemon B, cold, imports what daemon A exported and reports the expensive step CACHED", async () => {
    const token = randomBytes(6).toString("hex");
    const ref = `${inject("registry")}/cache/app:${token}`;
    const expensive = `sleep 2 && echo ${token} > /result`;
    const project = makeProject({
      "brewkit.config.ts": `import { buildCache, scratch, target } from "brewkit";
${busyboxBase}
export const app = target({ from: base, command: "${expensive}", output: { artifact: "/result", local: "out" } });
export default app;
/** Every run imports the project's cache. */
export const cache = buildCache({ from: "type=registry,ref=${ref}" });
`,
    });
    const onA = await brewkit(["run", "--cache-to", `type=registry,ref=${ref},mode=max`, "--metadata-file", "a.json", "--progress", "plain"], { cwd: project });
    expect(onA.code, onA.stderr).toBe(0);
    expect(stepsOf(path.join(project, "a.json")).find((s) => s.name === `[app] ${expensive}`)?.cached).toBe(false);

    rmSync(path.join(project, "out"), { recursive: true });
    const onB = await brewkit(["run", "--metadata-file", "b.json", "--progress", "plain"], { cwd: project, env: { BUILDKIT_HOST: daemonB.address } });
    expect(onB.code, onB.stderr).toBe(0);
    const step = stepsOf(path.join(project, "b.json")).find((s) => s.name === `[app] ${expensive}`);
    expect(step?.cached, onB.stderr).toBe(true);
    expect(onB.stderr).toMatch(new RegExp(`#\\d+ \\[app\\] ${expensive.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n#\\d+ CACHED`));
    expect(readFileSync(path.join(project, "out", "result"), "utf8")).toBe(`${token}\n`);
  }, 180_000);

  it("through a directory (type=local): daemon A writes an OCI layout on the host; daemon B, cold, imports it and reports the step CACHED", async () => {
    const token = randomBytes(6).toString("hex");
    const expensive = `sleep 2 && echo ${token} > /result`;
    const project = makeProject({
      "brewkit.config.ts": `import { buildCache, scratch, target } from "brewkit";
${busyboxBase}
export const app = target({ from: base, command: "${expensive}", output: { artifact: "/result", local: "out" } });
export default app;
export const cache = buildCache({ to: "type=local,dest=.cache/build,mode=max", from: "type=local,src=.cache/build" });
`,
    });
    // Nothing to import yet: said, not an error.
    const onA = await brewkit(["run", "--metadata-file", "a.json"], { cwd: project });
    expect(onA.code, onA.stderr).toBe(0);
    expect(onA.stderr).toContain("has no latest entry in its index.json yet");
    const index = JSON.parse(readFileSync(path.join(project, ".cache/build/index.json"), "utf8"));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("latest");
    const [, hex] = index.manifests[0].digest.split(":");
    expect(readFileSync(path.join(project, ".cache/build/blobs/sha256", hex)).length).toBe(index.manifests[0].size);
    expect(existsSync(path.join(project, ".cache/build/ingest")) ? readdirSync(path.join(project, ".cache/build/ingest")) : []).toEqual([]);

    rmSync(path.join(project, "out"), { recursive: true });
    const onB = await brewkit(["run", "--metadata-file", "b.json", "--progress", "plain"], { cwd: project, env: { BUILDKIT_HOST: daemonB.address } });
    expect(onB.code, onB.stderr).toBe(0);
    expect(stepsOf(path.join(project, "b.json")).find((s) => s.name === `[app] ${expensive}`)?.cached, onB.stderr).toBe(true);
    expect(readFileSync(path.join(project, "out", "result"), "utf8")).toBe(`${token}\n`);
  }, 180_000);
});

describe("a build cache setting the daemon refuses", () => {
  it("fails the run with the daemon's reason, as data in rawjson mode too", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";\n${busyboxBase}\nexport default target({ from: base, command: "echo ${randomBytes(6).toString("hex")}" });\n`,
    });
    const result = await brewkit(["run", "--cache-to", "type=local,dest=.cache/build,compression=bogus", "--progress", "rawjson"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: target "default" failed: failed to configure local cache exporter: unsupported compression type bogus\nhint: ');
    const last = JSON.parse(result.stderr.split("\n").filter((l) => l.startsWith("{")).at(-1)!) as { error: { code: string; context: { target: string } } };
    expect(last.error.code).toBe("BUILD_FAILED");
    expect(last.error.context.target).toBe("default");
  });
});
