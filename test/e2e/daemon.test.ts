import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { managedHome } from "../support/managed-daemon.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

describe("the managed local daemon", () => {
  const home = managedHome();
  // No BUILDKIT_HOST: brewkit must use (and start) its own daemon.
  const env = { BREWKIT_HOME: home, BUILDKIT_HOST: "" };
  const project = makeProject({
    "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport default target({ from: base, command: "echo managed > /m", output: { artifact: "/m", local: "out" } });\n`,
  });

  afterAll(async () => {
    await brewkit(["daemon", "stop"], { cwd: project, env });
    rmSync(home, { recursive: true, force: true });
  });

  it("is started on first use on a private socket, then reused", async () => {
    const first = await brewkit(["run"], { cwd: project, env });
    expect(first.stderr).toContain(`started buildkitd (unix://${home}/daemon/buildkitd.sock)`);
    expect(first.code).toBe(0);
    expect(readFileSync(path.join(project, "out", "m"), "utf8")).toBe("managed\n");
    const pid = readFileSync(path.join(home, "daemon", "buildkitd.pid"), "utf8");

    const second = await brewkit(["run"], { cwd: project, env });
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain("started buildkitd");
    expect(readFileSync(path.join(home, "daemon", "buildkitd.pid"), "utf8")).toBe(pid);
  });

  it("allows host networking for targets that ask for it", async () => {
    const hostProject = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport default target({ from: base, network: "host", command: "mkdir -p /o && readlink /proc/self/ns/net > /o/netns", output: { artifact: "/o", local: "out" } });\n`,
    });
    const result = await brewkit(["run"], { cwd: hostProject, env });
    expect(result.code).toBe(0);
    // The host's own network namespace (its interface list changes as daemons add bridges and veths).
    expect(readFileSync(path.join(hostProject, "out", "netns"), "utf8").trim()).toBe(readlinkSync("/proc/self/ns/net"));
  });

  it("reports its status and version, and stops", async () => {
    const status = await brewkit(["daemon", "status"], { cwd: project, env });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/running:\s+yes/);
    expect(status.stdout).toMatch(/version:\s+v0\.32\./);
    expect(status.stdout).toContain(`state:     ${home}/daemon/root`);

    const stop = await brewkit(["daemon", "stop"], { cwd: project, env });
    expect(stop.stdout).toContain("stopped buildkitd");
    const after = await brewkit(["daemon", "status"], { cwd: project, env });
    expect(after.stdout).toMatch(/running:\s+no/);
    expect(after.code).toBe(3);
  });

  it("releases the step network namespaces a killed daemon left mounted, so its state dir can be removed", async () => {
    // Steps that run at once each take a namespace; the daemon pools them until it shuts down.
    const parallel = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\n${["a", "b", "c"].map((n) => `export const ${n} = target({ from: base, command: "sleep 1; echo ${n} > /${n}" });`).join("\n")}\n`,
    });
    const run = await brewkit(["run", "a", "b", "c"], { cwd: parallel, env });
    expect(run.code).toBe(0);
    const namespaces = path.join(home, "daemon", "root", "net", "cni");
    const mounted = () => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((line) => line.split(" ")[4]?.startsWith(`${namespaces}/`));
    process.kill(Number(readFileSync(path.join(home, "daemon", "buildkitd.pid"), "utf8")), "SIGKILL");
    expect(mounted().length).toBeGreaterThan(0);

    const stop = await brewkit(["daemon", "stop"], { cwd: parallel, env });
    expect(stop.code).toBe(0);
    expect(stop.stderr).not.toContain("warning");
    expect(mounted()).toEqual([]);
    // With a namespace still mounted in it, this fails with EBUSY.
    rmSync(path.join(home, "daemon"), { recursive: true });
  });

  it("names the install command when buildkitd is missing", async () => {
    const empty = mkdtempSync(path.join(tmpdir(), "bk-empty-"));
    mkdirSync(path.join(empty, "bin"));
    const result = await brewkit(["run"], { cwd: project, env: { BREWKIT_HOME: empty, BUILDKIT_HOST: "", PATH: path.dirname(process.execPath) } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("buildkitd is not installed");
    expect(result.stderr).toContain("brewkit daemon install");
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(path.join(empty, "daemon", "buildkitd.sock"))).toBe(false);
  });
});
