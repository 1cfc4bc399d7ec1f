import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject, repoRoot } from "../support/project.ts";

const read = (project: string, file: string) => readFileSync(path.join(project, file), "utf8");

describe("registry bases", () => {
  it("bring their image config: env incl. PATH, workdir and user", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target } from "brewkit";
export const probe = target({ from: "busybox", command: 'echo "probe:$BREWKIT_TEST_IMAGE:$(pwd):$(id -u):$(id -g):$PATH"' });
export const override = target({ from: "busybox", workdir: "/tmp", user: "0", env: { BREWKIT_TEST_IMAGE: "changed" }, command: 'echo "override:$BREWKIT_TEST_IMAGE:$(pwd):$(id -u)"' });
`,
    });
    const result = await brewkit(["run", "probe", "override", "--progress", "plain"], { cwd: project });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("probe:1:/home/app:1000:1000:/usr/local/bin:/bin");
    expect(result.stderr).toContain("override:changed:/tmp:0");
  });
});

describe("variables computed at build time", () => {
  const project = makeProject({
    "brewkit.config.ts": `import { target, scratch, variable, fmt } from "brewkit";
${busyboxBase}
/** The version, read from a file in a container. */
export const version = variable({ from: base, copy: "VERSION", command: "cat /VERSION" });
const major = variable({ from: base, env: { V: version }, command: 'echo "\${V%%.*}"' });
/** Fails when evaluated: proves variables are evaluated only when needed. */
const broken = variable({ from: base, command: "echo never >&2; exit 3" });
export const release = target({
  from: base,
  env: { VERSION: version },
  commands: ['mkdir -p /out && echo "env=$VERSION" > /out/info', ["/bin/sh", "-c", fmt\`echo "arg=${'${version}'} major=${'${major}'}" >> /out/info\`]],
  output: { artifact: "/out", local: fmt\`dist/app-${'${version}'}\` },
});
export const unrelated = target({ from: base, env: { X: broken }, command: "true" });
`,
    VERSION: "2.4.1\n",
  });

  it("are evaluated lazily and usable in env, commands and output paths", async () => {
    const result = await brewkit(["run", "release"], { cwd: project });
    expect(result.stderr).toContain("✔ release");
    expect(read(project, "dist/app-2.4.1/info")).toBe("env=2.4.1\narg=2.4.1 major=2\n");
  });

  it("report a failing variable command with its output", async () => {
    const result = await brewkit(["run", "unrelated"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("never");
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("secrets", () => {
  const value = `s3cr3t-${Date.now()}`;
  const fileValue = `from-config-${Date.now()}`;
  const home = mkdtempSync(path.join(tmpdir(), "bk-secrets-"));
  writeFileSync(path.join(home, "netrc"), fileValue);
  writeFileSync(path.join(home, "config.json"), JSON.stringify({ secrets: { netrc: { file: "netrc" } } }));
  const project = makeProject({
    "brewkit.config.ts": `import { target, scratch, secret } from "brewkit";
${busyboxBase}
export const uses = target({
  from: base,
  secrets: [secret("token", { env: "TOKEN" }), secret("netrc", "/root/.netrc")],
  command: 'mkdir -p /out && echo "$TOKEN" > /out/token && cat /root/.netrc > /out/netrc && echo "token has $(printf %s "$TOKEN" | wc -c) chars"',
  output: { artifact: "/out", local: "out" },
});
`,
  });
  const env = { MY_TOKEN: value, BREWKIT_CONFIG: path.join(home, "config.json") };

  it("reach the step from --secret and the user config file, and appear nowhere else", async () => {
    const result = await brewkit(["run", "uses", "--secret", "id=token,env=MY_TOKEN", "--progress", "plain", "--metadata-file", "meta.json"], { cwd: project, env });
    expect(result.stderr).toContain(`token has ${value.length} chars`);
    expect(result.code).toBe(0);
    expect(read(project, "out/token")).toBe(`${value}\n`);
    expect(read(project, "out/netrc")).toBe(fileValue);
    expect(result.stderr + result.stdout).not.toContain(value);
    expect(read(project, "meta.json")).not.toContain(value);
    const definition = await brewkit(["definition", "uses"], { cwd: project, env });
    expect(definition.code).toBe(0);
    expect(definition.stdout).toContain('"token"');
    expect(definition.stdout).not.toContain(value);
    expect(definition.stdout).not.toContain(fileValue);
  });

  it("are checked before the build: a missing one is named with how to provide it", async () => {
    const result = await brewkit(["run", "uses"], { cwd: project, env: { BREWKIT_CONFIG: path.join(home, "none.json") } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("token");
    expect(result.stderr).toContain("netrc");
    expect(result.stderr).toContain("--secret id=");
    expect(result.stderr).not.toContain("#1 ");
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("ssh agent forwarding", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bk-ssh-"));
  const socket = path.join(dir, "agent.sock");
  const agent = spawnSync("ssh-agent", ["-a", socket], { encoding: "utf8" });
  const pid = /SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1];
  afterAll(() => {
    if (pid) process.kill(Number(pid));
  });

  it("lets a step list the host agent's keys", async () => {
    expect(agent.status, agent.stderr).toBe(0);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "brewkit-test-key", "-f", path.join(dir, "id")]);
    execFileSync("ssh-add", [path.join(dir, "id")], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: "ignore" });
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const keys = target({ from: base, copy: { src: "agent-list", dest: "/agent-list" }, ssh: true, command: ["/agent-list"] });
`,
    });
    execFileSync("go", ["build", "-o", path.join(project, "agent-list"), "./test/fixtures/agent-list"], { cwd: repoRoot, env: { ...process.env, CGO_ENABLED: "0" } });
    const result = await brewkit(["run", "keys", "--progress", "plain"], { cwd: project, env: { SSH_AUTH_SOCK: socket } });
    expect(result.stderr).toContain("agent keys: 1");
    expect(result.stderr).toContain("agent key comment: brewkit-test-key");
    expect(result.code).toBe(0);

    const noAgent = await brewkit(["run", "keys"], { cwd: project, env: { SSH_AUTH_SOCK: "" } });
    expect(noAgent.code).toBe(1);
    expect(noAgent.stderr).toContain("SSH_AUTH_SOCK");
  });
});

describe("host networking", () => {
  it("is refused with the entitlement to enable when the daemon does not allow it", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const hostnet = target({ from: base, network: "host", command: "true" });
`,
    });
    const result = await brewkit(["run", "hostnet", "--progress", "rawjson"], { cwd: project });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('target "hostnet" needs the daemon\'s network.host entitlement');
    expect(result.stderr).toContain("--allow-insecure-entitlement network.host");
    expect(result.stderr).not.toMatch(/^\s+at /m);
    const last = JSON.parse(result.stderr.split("\n").filter((l) => l.startsWith("{")).at(-1)!) as { error: { code: string } };
    expect(last.error.code).toBe("ENTITLEMENT_DENIED");
  });
});
