// Images out, private registries in: a docker-registry on loopback that wants a login over
// TLS (a CA made here, trusted through brewkit's own daemon's buildkitd.toml), pushed to
// and pulled from by brewkit's own daemon, started in a home of its own.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { managedEnv, managedHome } from "../support/managed-daemon.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";
import { fetchJsonBlob, fetchManifest, type RegistryAccess } from "../support/registry-client.ts";
import { freePort, startRegistry, type TestRegistry } from "../support/registry.ts";
import { makeLoopbackCertificate } from "../support/tls.ts";

const login = { username: "ci", password: `pw-${randomBytes(6).toString("hex")}` };
const token = () => randomBytes(6).toString("hex");

describe("images pushed to and pulled from a registry that wants a login, over TLS", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "brewkit-images-"));
  const home = managedHome();
  const dockerConfigDir = path.join(dir, "docker");
  let registry: TestRegistry;
  let access: RegistryAccess;
  let addr: string;
  let caFile: string;
  /** The user config: the registry's CA for the daemon, and (unless `withLogin` is false) the login, from $REGISTRY_PASSWORD. */
  const writeUserConfig = (withLogin: boolean) =>
    writeFileSync(path.join(home, "config.json"), JSON.stringify({ registries: { [addr]: { ca: caFile, ...(withLogin ? { username: login.username, password: { env: "REGISTRY_PASSWORD" } } : {}) } } }));
  const writeDockerConfig = (auths: Record<string, { auth: string }>) => {
    mkdirSync(dockerConfigDir, { recursive: true });
    writeFileSync(path.join(dockerConfigDir, "config.json"), JSON.stringify({ auths }));
  };
  const env = (password = login.password) => ({ ...managedEnv(home), REGISTRY_PASSWORD: password, DOCKER_CONFIG: dockerConfigDir });

  beforeAll(async () => {
    const certs = await makeLoopbackCertificate(path.join(dir, "certs"));
    caFile = certs.caFile;
    registry = await startRegistry({ dir: path.join(dir, "registry"), login, tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
    addr = registry.address;
    access = { address: addr, caFile, login };
    writeUserConfig(true);
    writeDockerConfig({});
  }, 60_000);

  afterAll(async () => {
    await brewkit(["daemon", "stop"], { cwd: home, env: managedEnv(home) });
    await registry?.stop();
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it("pushes an image with the target's config, builds on it as a private base, and pulls the result back by digest", async () => {
    // 1. A base pushed with the login of brewkit's user config.
    const baseProject = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";
${busyboxBase}
export const pushed = target({
  from: base,
  env: { BASE_ONLY: "from-base", PATH: "/bin" },
  workdir: "/opt",
  command: "echo ${token()} > /opt/base-marker",
  labels: { "org.example.base": "yes" },
  expose: ["53/udp"],
  output: { image: "${addr}/team/base:1", push: true },
});
export default pushed;
`,
    });
    const pushedBase = await brewkit(["run"], { cwd: baseProject, env: env() });
    expect(pushedBase.stderr).toContain("started buildkitd");
    expect(pushedBase.code, pushedBase.stderr).toBe(0);
    const baseDigest = new RegExp(`^${addr}/team/base:1@(sha256:[0-9a-f]{64})$`, "m").exec(pushedBase.stdout)?.[1];
    expect(baseDigest, pushedBase.stdout).toBeDefined();

    // 2. An app on that private base, pushed under two tags, with the login of Docker's config only.
    writeUserConfig(false);
    writeDockerConfig({ [addr]: { auth: Buffer.from(`${login.username}:${login.password}`).toString("base64") } });
    const appProject = makeProject({
      "hello.sh": 'echo "$GREETING, $1 from $(pwd) as $(id -u)"\n',
      "brewkit.config.ts": `import { target } from "brewkit";
export const app = target({
  from: "${addr}/team/base:1",
  workdir: "/srv",
  env: { GREETING: "hello" },
  user: "1000:1000",
  copy: { src: "hello.sh", dest: "/srv/hello.sh" },
  // The base's config applies to the steps: its env, and its files.
  command: 'test "$BASE_ONLY" = from-base && test -f /opt/base-marker && echo ${token()}',
  entrypoint: ["/bin/sh", "/srv/hello.sh"],
  cmd: ["world"],
  labels: { "org.example.app": "app" },
  expose: [8080],
  output: { image: ["${addr}/team/app:1.2", "${addr}/team/app:latest"], push: true },
});
export default app;
`,
    });
    const pushedApp = await brewkit(["run", "--progress", "rawjson"], { cwd: appProject, env: env() });
    expect(pushedApp.code, pushedApp.stderr).toBe(0);
    const digest = new RegExp(`^${addr}/team/app:1\\.2@(sha256:[0-9a-f]{64})$`, "m").exec(pushedApp.stdout)?.[1];
    expect(digest, pushedApp.stdout).toBeDefined();
    expect(pushedApp.stdout).toContain(`${addr}/team/app:latest@${digest}`);
    // rawjson reports the image too.
    const reported = pushedApp.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).find((m) => m.image);
    expect(reported).toEqual({ job: "app", image: { type: "image", names: [`${addr}/team/app:1.2`, `${addr}/team/app:latest`], digest, pushed: true } });

    // The registry holds that manifest under both tags, with the target's config.
    const manifest = await fetchManifest(access, "team/app", digest!);
    expect((await fetchManifest(access, "team/app", "latest")).json).toEqual(manifest.json);
    const config = await fetchJsonBlob(access, "team/app", manifest.json.config.digest);
    expect(config.config.Env).toEqual(["BASE_ONLY=from-base", "PATH=/bin", "GREETING=hello"]);
    expect(config.config.WorkingDir).toBe("/srv");
    expect(config.config.User).toBe("1000:1000");
    expect(config.config.Entrypoint).toEqual(["/bin/sh", "/srv/hello.sh"]);
    expect(config.config.Cmd).toEqual(["world"]);
    expect(config.config.Labels).toEqual({ "org.example.base": "yes", "org.example.app": "app" });
    expect(config.config.ExposedPorts).toEqual({ "53/udp": {}, "8080/tcp": {} });
    expect(config.architecture).toBe("amd64");
    // The base's history carries over, one entry per layer after it.
    const baseManifest = await fetchManifest(access, "team/base", baseDigest!);
    const baseConfig = await fetchJsonBlob(access, "team/base", baseManifest.json.config.digest);
    expect(config.history.slice(0, baseConfig.history.length)).toEqual(baseConfig.history);
    expect(config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer)).toHaveLength(manifest.json.layers.length);
    expect(config.rootfs.diff_ids.slice(0, baseConfig.rootfs.diff_ids.length)).toEqual(baseConfig.rootfs.diff_ids);

    // 3. Pulled back by digest: its files run as its config says.
    const checkProject = makeProject({
      "brewkit.config.ts": `import { target } from "brewkit";
export const check = target({
  from: "${addr}/team/app@${digest}",
  // Root, to write the greeting outside the image's read-only places for its own user.
  user: "0:0",
  command: ["/bin/sh", "-c", 'mkdir -p /tmp/out && "$@" > /tmp/out/greeting', "run", "/bin/sh", "/srv/hello.sh", "world"],
  output: { artifact: "/tmp/out/greeting", local: "result" },
});
export default check;
`,
    });
    const checked = await brewkit(["run"], { cwd: checkProject, env: env() });
    expect(checked.code, checked.stderr).toBe(0);
    expect(readFileSync(path.join(checkProject, "result", "greeting"), "utf8")).toBe("hello, world from /srv as 0\n");
  }, 240_000);

  it("a wrong password stops the build with an error naming the registry and the fix, and leaves no partial archive", async () => {
    writeUserConfig(true);
    writeDockerConfig({});
    const project = makeProject({
      "brewkit.config.ts": `import { target } from "brewkit";
export const app = target({
  from: "${addr}/team/base:1",
  command: "echo ${token()}",
  output: [
    { tarball: "dist/app.tar", format: "docker", image: "app:1" },
    { image: "${addr}/team/other:1", push: true },
  ],
});
export default app;
`,
    });
    mkdirSync(path.join(project, "dist"));
    const pulled = await brewkit(["run"], { cwd: project, env: env("wrong-password") });
    expect(pulled.code).toBe(1);
    expect(pulled.stderr).toContain(`error: `);
    expect(pulled.stderr).toMatch(new RegExp(`registry ${addr} .*(refused|rejected)`));
    expect(pulled.stderr).toMatch(/hint: .*(docker login|config\.json)/);
    expect(pulled.stderr).not.toContain("wrong-password");
    expect(readdirSync(path.join(project, "dist"))).toEqual([]);
  }, 120_000);

  it("a push with a wrong password is refused with the same error", async () => {
    writeUserConfig(true);
    const project = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";
${busyboxBase}
export const app = target({ from: base, command: "echo ${token()}", output: { image: "${addr}/team/refused:1", push: true } });
export default app;
`,
    });
    const pushed = await brewkit(["run"], { cwd: project, env: env("wrong-password") });
    expect(pushed.code).toBe(1);
    expect(pushed.stderr).toMatch(new RegExp(`registry ${addr} .*(refused|rejected)`));
    expect(pushed.stderr).toMatch(/hint: .*(docker login|config\.json)/);
  }, 120_000);
});

describe("image archives written to the host", () => {
  const extract = (file: string): string => {
    const into = mkdtempSync(path.join(tmpdir(), "brewkit-archive-"));
    execFileSync("tar", ["-xf", file, "-C", into]);
    return into;
  };

  it("writes a docker archive (manifest.json, its config and layers) and an OCI layout (index.json), each replacing the file whole", async () => {
    const marker = token();
    const project = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";
${busyboxBase}
export const app = target({
  from: base,
  workdir: "/app",
  command: "echo ${marker} > /app/marker",
  cmd: ["cat", "/app/marker"],
  output: [
    { tarball: "dist/app.tar", format: "docker", image: ["example.com/app:1", "example.com/app:latest"] },
    { tarball: "dist/app-oci.tar", format: "oci", image: "example.com/app:1" },
  ],
});
export default app;
`,
      "dist/app.tar": "an older archive",
      "dist/keep.txt": "not brewkit's",
    });
    const run = await brewkit(["run"], { cwd: project });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/dist\/app\.tar \[docker archive\] \(sha256:[0-9a-f]{64}\)/);
    // Only the archives and the user's file: no staging file left beside them.
    expect(readdirSync(path.join(project, "dist")).sort()).toEqual(["app-oci.tar", "app.tar", "keep.txt"]);

    const docker = extract(path.join(project, "dist", "app.tar"));
    const manifest = JSON.parse(readFileSync(path.join(docker, "manifest.json"), "utf8"));
    expect(manifest).toHaveLength(1);
    expect(manifest[0].RepoTags.sort()).toEqual(["example.com/app:1", "example.com/app:latest"]);
    const config = JSON.parse(readFileSync(path.join(docker, manifest[0].Config), "utf8"));
    expect(config.config.Cmd).toEqual(["cat", "/app/marker"]);
    expect(config.config.WorkingDir).toBe("/app");
    expect(manifest[0].Layers.length).toBeGreaterThan(0);
    expect(manifest[0].Layers).toHaveLength(config.rootfs.diff_ids.length);
    for (const layer of manifest[0].Layers) expect(existsSync(path.join(docker, layer)), layer).toBe(true);
    // The last layer holds the step's file.
    const lastLayer = path.join(docker, manifest[0].Layers.at(-1));
    expect(execFileSync("tar", ["-xOf", lastLayer, "app/marker"]).toString("utf8")).toBe(`${marker}\n`);

    const oci = extract(path.join(project, "dist", "app-oci.tar"));
    expect(JSON.parse(readFileSync(path.join(oci, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(readFileSync(path.join(oci, "index.json"), "utf8"));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("1");
    const [algorithm, hex] = index.manifests[0].digest.split(":");
    const ociManifest = JSON.parse(readFileSync(path.join(oci, "blobs", algorithm, hex), "utf8"));
    expect(ociManifest.layers).toHaveLength(manifest[0].Layers.length);
  }, 120_000);
});

describe("an image for several platforms", () => {
  it("pushes one index with a manifest per platform, each with its platform's config and build", async () => {
    const registry = inject("registry");
    const marker = token();
    const project = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";
${busyboxBase}
export const app = target({
  from: base,
  platform: ["linux/amd64", "linux/386"],
  // Each platform's step runs: the kernel runs the static amd64 busybox for linux/386 too.
  command: "echo ${marker} > /marker",
  cmd: ["cat", "/marker"],
  output: { image: "${registry}/multi/app:${marker}", push: true },
});
export default app;
`,
    });
    const run = await brewkit(["run", "--progress", "plain"], { cwd: project });
    expect(run.code, run.stderr).toBe(0);
    const digest = new RegExp(`^${registry}/multi/app:${marker}@(sha256:[0-9a-f]{64})$`, "m").exec(run.stdout)?.[1];
    expect(digest, run.stdout).toBeDefined();

    const get = async (p: string, accept = "") => {
      const response = await fetch(`http://${registry}${p}`, { headers: { accept } });
      expect(response.status, p).toBe(200);
      return { type: response.headers.get("content-type") ?? "", json: (await response.json()) as Record<string, any> };
    };
    const accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
    const index = await get(`/v2/multi/app/manifests/${digest}`, accept);
    expect(index.json.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    const platforms = index.json.manifests.map((m: { platform: { os: string; architecture: string } }) => `${m.platform.os}/${m.platform.architecture}`).sort();
    expect(platforms).toEqual(["linux/386", "linux/amd64"]);
    const layerDigests = new Set<string>();
    for (const entry of index.json.manifests) {
      const manifest = await get(`/v2/multi/app/manifests/${entry.digest}`, accept);
      const config = await get(`/v2/multi/app/blobs/${manifest.json.config.digest}`);
      expect(config.json.architecture).toBe(entry.platform.architecture);
      expect(config.json.os).toBe("linux");
      expect(config.json.config.Cmd).toEqual(["cat", "/marker"]);
      layerDigests.add(manifest.json.layers.at(-1).digest);
    }
    // Each platform ran its own step: two vertices of the same name.
    expect(new Set(run.stderr.match(new RegExp(`^#\\d+ \\[app\\] echo ${marker}`, "gm"))).size).toBe(2);
    expect(layerDigests.size).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

describe("a push to a registry that is not there", () => {
  it("names the registry and says the daemon could not reach it", async () => {
    const port = await freePort();
    const project = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";
${busyboxBase}
export const app = target({ from: base, command: "echo ${token()}", output: { image: "127.0.0.1:${port}/nowhere/app:1", push: true } });
export default app;
`,
    });
    const run = await brewkit(["run"], { cwd: project });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: target "app": the registry 127.0.0.1:${port} could not be reached to push 127.0.0.1:${port}/nowhere/app:1`);
    expect(run.stderr).toMatch(/hint: check that the registry runs/);
  }, 60_000);

  it("so does a build cache export to it", async () => {
    const port = await freePort();
    const project = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";
${busyboxBase}
export const app = target({ from: base, command: "echo ${token()}" });
export default app;
`,
    });
    const run = await brewkit(["run", "--cache-to", `type=registry,ref=127.0.0.1:${port}/cache/app:1`], { cwd: project });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: target "app": the registry 127.0.0.1:${port} could not be reached to export the build cache to 127.0.0.1:${port}/cache/app:1`);
  }, 60_000);
});
