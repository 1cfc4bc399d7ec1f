import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LocalDaemon } from "../../src/daemon/local-daemon.ts";
import { daemonPaths, defaultDaemonPaths } from "../../src/daemon/paths.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";
import { freePort } from "../support/registry.ts";
import { makeCertificates, startTlsDaemon, type Certificates } from "../support/tls.ts";

interface RunMetadata {
  targets: Array<{
    name: string;
    steps: Array<{ name: string; cached: boolean; error: string | null }>;
    transfer: { sentFiles: Record<string, string[]>; filesReceived: number };
  }>;
}

function readMetadata(project: string): RunMetadata {
  return JSON.parse(readFileSync(path.join(project, "meta.json"), "utf8"));
}

const chainConfig = `import { target, scratch } from "brewkit";
${busyboxBase}
/** Joins the sources into one file, owned by another user inside the container. */
export const app = target({
  from: base,
  workdir: "/src",
  copy: "src",
  commands: [
    "mkdir -p /out && cat src/a.txt src/b.txt > /out/joined.txt",
    "chmod 751 /out/joined.txt && chown 1234:1234 /out/joined.txt",
  ],
  output: { artifact: "/out", local: "dist" },
});
`;

describe("a two-target chain on a real buildkitd", () => {
  const project = makeProject({ "brewkit.config.ts": chainConfig, "src/a.txt": "alpha\n", "src/b.txt": "beta\n", "notes.md": "not copied\n" });
  const run = () => brewkit(["run", "app", "--progress", "plain", "--metadata-file", "meta.json"], { cwd: project });

  it("builds the chain and writes the artifact with its content, mode and the user's ownership", async () => {
    const result = await run();
    expect(result.stderr).toContain("✔ app");
    expect(result.code).toBe(0);
    const artifact = path.join(project, "dist", "joined.txt");
    expect(readFileSync(artifact, "utf8")).toBe("alpha\nbeta\n");
    const stat = statSync(artifact);
    expect(stat.mode & 0o7777).toBe(0o751);
    expect(stat.uid).toBe(process.getuid!());
    expect(stat.gid).toBe(process.getgid!());
    const sent = Object.values(readMetadata(project).targets[0]!.transfer.sentFiles).flat();
    expect(sent).toContain("src/a.txt");
    expect(sent).not.toContain("notes.md");
  });

  it("reports every step cached on the second run and leaves the artifact unchanged", async () => {
    const artifact = path.join(project, "dist", "joined.txt");
    const before = statSync(artifact);
    const result = await run();
    expect(result.code).toBe(0);
    const target = readMetadata(project).targets[0]!;
    expect(target.steps.length).toBeGreaterThan(3);
    // Uploads always re-check the host files with the session (that is how changes are
    // found), so the daemon never marks them cached: they must transfer nothing instead.
    const isUpload = (name: string) => / upload /.test(name);
    const notCached = target.steps.filter((s) => !s.cached && !isUpload(s.name) && !s.name.startsWith("exporting"));
    expect(notCached.map((s) => s.name)).toEqual([]);
    expect(target.steps.filter((s) => isUpload(s.name))).toHaveLength(2);
    expect(Object.values(target.transfer.sentFiles).flat()).toEqual([]);
    expect(readFileSync(artifact, "utf8")).toBe("alpha\nbeta\n");
    expect(statSync(artifact).mtimeMs).toBe(before.mtimeMs);
  });

  it("reruns only the dependent steps and transfers only the changed file", async () => {
    writeFileSync(path.join(project, "src", "b.txt"), "beta, changed\n");
    const result = await run();
    expect(result.code).toBe(0);
    const target = readMetadata(project).targets[0]!;
    expect(Object.values(target.transfer.sentFiles).flat()).toEqual(["src/b.txt"]);
    const byName = (fragment: string) => target.steps.find((s) => s.name.includes(fragment));
    expect(byName("--install")?.cached).toBe(true);
    expect(byName("cat src/a.txt")?.cached).toBe(false);
    expect(byName("chmod 751")?.cached).toBe(false);
    expect(readFileSync(path.join(project, "dist", "joined.txt"), "utf8")).toBe("alpha\nbeta, changed\n");
  });
});

describe("cache mounts", () => {
  it("keep their content between runs", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch, cache } from "brewkit";
${busyboxBase}
export const counter = target({
  from: base,
  copy: "input.txt",
  cache: [cache("brewkit-test-counter-${Date.now()}", "/cache")],
  command: "echo \\"run $(cat /input.txt)\\" >> /cache/runs && mkdir -p /out && cp /cache/runs /out/runs",
  output: { artifact: "/out", local: "out" },
});
`,
      "input.txt": "one",
    });
    expect((await brewkit(["run", "counter"], { cwd: project })).code).toBe(0);
    expect(readFileSync(path.join(project, "out", "runs"), "utf8")).toBe("run one\n");
    writeFileSync(path.join(project, "input.txt"), "two");
    const second = await brewkit(["run", "counter"], { cwd: project });
    expect(second.code).toBe(0);
    expect(readFileSync(path.join(project, "out", "runs"), "utf8")).toBe("run one\nrun two\n");
  });
});

describe("other daemons", () => {
  it("builds on a daemon given as tcp:// in BUILDKIT_HOST", async () => {
    const tcp = inject("buildkitTcpHost");
    expect(tcp, "the suite's daemon listens on loopback TCP too").toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport const remote = target({ from: base, command: "echo over-tcp > /r", output: { artifact: "/r", local: "out" } });\n`,
    });
    const result = await brewkit(["run", "remote"], { cwd: project, env: { BUILDKIT_HOST: tcp! } });
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(project, "out", "r"), "utf8")).toBe("over-tcp\n");
  });

  describe("a daemon that requires TLS with a client certificate", () => {
    const dir = mkdtempSync("/tmp/bk-tls-");
    const paths = daemonPaths(path.join(dir, "daemon"), defaultDaemonPaths().binDir);
    let tls: Certificates;
    let address: string;
    let daemon: LocalDaemon;
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport const secure = target({ from: base, command: "echo over-tls > /t", output: { artifact: "/t", local: "out" } });\n`,
    });

    beforeAll(async () => {
      tls = await makeCertificates(dir);
      address = `tcp://127.0.0.1:${await freePort()}`;
      // TLS applies to the TCP address; the daemon's own unix socket stays plain.
      daemon = new LocalDaemon(paths, [address], false);
      await startTlsDaemon(daemon, tls);
    }, 120_000);

    afterAll(async () => {
      await daemon?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("builds with --tlscacert, --tlscert, --tlskey and --tlsservername", async () => {
      const flags = ["--addr", address, "--tlscacert", tls.caFile, "--tlscert", tls.clientCertFile, "--tlskey", tls.clientKeyFile, "--tlsservername", "buildkitd.test"];
      const result = await brewkit(["run", "secure", ...flags], { cwd: project });
      expect(result.stderr).not.toContain("error:");
      expect(result.code).toBe(0);
      expect(readFileSync(path.join(project, "out", "t"), "utf8")).toBe("over-tls\n");
      // The same through the environment, as with buildctl.
      const again = await brewkit(["run", "secure", "--progress", "plain"], {
        cwd: project,
        env: { BUILDKIT_HOST: address, BUILDKIT_TLS_CA_CERT: tls.caFile, BUILDKIT_TLS_CERT: tls.clientCertFile, BUILDKIT_TLS_KEY: tls.clientKeyFile, BUILDKIT_TLS_SERVER_NAME: "buildkitd.test" },
      });
      expect(again.code).toBe(0);
      expect(again.stderr).toMatch(/CACHED/);
    });

    it("explains a refused connection: no client certificate, or a name the certificate does not have", async () => {
      const noCert = await brewkit(["run", "secure", "--addr", address, "--tlscacert", tls.caFile, "--tlsservername", "buildkitd.test"], { cwd: project });
      expect(noCert.code).toBe(1);
      expect(noCert.stderr).toContain(`cannot reach the BuildKit daemon at ${address}`);
      expect(noCert.stderr).toContain("the daemon requires a client certificate, and none was given");
      const wrongName = await brewkit(["run", "secure", "--addr", address, "--tlscacert", tls.caFile, "--tlscert", tls.clientCertFile, "--tlskey", tls.clientKeyFile], { cwd: project });
      expect(wrongName.code).toBe(1);
      expect(wrongName.stderr).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
      const halfPair = await brewkit(["run", "secure", "--addr", address, "--tlscert", tls.clientCertFile], { cwd: project });
      expect(halfPair.code).toBe(1);
      expect(halfPair.stderr).toContain("a client certificate needs its key");
    });
  });
});

describe("errors a user can act on", () => {
  const project = makeProject({ "brewkit.config.ts": chainConfig, "src/a.txt": "a", "src/b.txt": "b" });
  const noStackTrace = /^\s+at /m;

  it("reports an unreachable daemon quickly, without a stack trace", async () => {
    const result = await brewkit(["run", "app", "--addr", "unix:///nonexistent/brewkit/buildkitd.sock"], { cwd: project });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("cannot reach the BuildKit daemon at unix:///nonexistent/brewkit/buildkitd.sock");
    expect(result.stderr).toContain("hint:");
    expect(result.stderr).not.toMatch(noStackTrace);
  });

  it("gives up within 2 s on a daemon that accepts connections but never answers", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      // What the CLI costs before it talks to a daemon (start, config evaluation) on this machine now.
      const baseline = await brewkit(["targets"], { cwd: project });
      expect(baseline.code).toBe(0);
      const result = await brewkit(["run", "app", "--addr", `tcp://127.0.0.1:${port}`], { cwd: project });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`cannot reach the BuildKit daemon at tcp://127.0.0.1:${port}`);
      expect(result.stderr).not.toMatch(noStackTrace);
      // The connect attempt itself is bounded by 2 s; a little slack for planning the target.
      expect(result.durationMs - baseline.durationMs).toBeLessThan(2_000 + 1_000);
    } finally {
      silent.close();
    }
  });

  it("lists the available targets when the target is unknown", async () => {
    const result = await brewkit(["run", "ap"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('unknown target "ap" (did you mean "app"?)');
    expect(result.stderr).toContain("available targets: app, base");
    expect(result.stderr).not.toMatch(noStackTrace);
  });
});
