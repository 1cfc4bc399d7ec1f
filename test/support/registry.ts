import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { defaultDaemonPaths } from "../../src/daemon/paths.ts";
import { findOnPath } from "../../src/daemon/which.ts";

/** A `docker-registry` process the suite started, listening on loopback. */
export interface TestRegistry {
  /** `127.0.0.1:<port>`, the registry's host as image references spell it. */
  address: string;
  /** The registry's own log (requests are logged), for diagnosing failures. */
  logFile: string;
  /** Stops the process and waits for it to exit. */
  stop(): Promise<void>;
}

/** Options of `startRegistry`. */
export interface RegistryOptions {
  /** Directory for the registry's config, storage and log; created if missing. */
  dir: string;
  /** Port to listen on; a free one when unset. */
  port?: number;
  /** Require HTTP basic auth (with credentials nobody has), so every pull is unauthorized. */
  requireAuth?: boolean;
  /** Require HTTP basic auth with this login (written with `htpasswd`, bcrypt as the registry needs). */
  login?: { username: string; password: string };
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
}

/** Starts Debian's `docker-registry` with its own config and waits until it answers. */
export async function startRegistry(options: RegistryOptions): Promise<TestRegistry> {
  const binary = findOnPath("docker-registry");
  if (!binary) throw new Error("docker-registry is not installed; the end-to-end tests need it (Debian package docker-registry)");
  mkdirSync(options.dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const configFile = path.join(options.dir, "config.yml");
  if (options.login) writeFileSync(path.join(options.dir, "htpasswd"), await htpasswdLine(options.login.username, options.login.password));
  writeFileSync(configFile, registryConfig(options.dir, address, options.requireAuth === true || options.login !== undefined, options.tls));
  const logFile = path.join(options.dir, "registry.log");
  const logFd = openSync(logFile, "a");
  const child = spawn(binary, ["serve", configFile], { stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let exitCode: number | null | undefined;
  child.once("exit", (code) => (exitCode = code));
  child.once("error", () => (exitCode = -1));
  const stop = async () => {
    if (exitCode !== undefined) return;
    child.kill("SIGTERM");
    const killed = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
    if (!killed) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  try {
    await waitUntilServing(address, child, () => exitCode, logFile, options.tls !== undefined);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, logFile, stop };
}

/** A bcrypt htpasswd line, made by Apache's `htpasswd` (Debian package apache2-utils). */
async function htpasswdLine(username: string, password: string): Promise<string> {
  const binary = findOnPath("htpasswd");
  if (!binary) throw new Error("htpasswd is not installed; the registry login tests need it (Debian package apache2-utils)");
  const { stdout } = await promisify(execFile)(binary, ["-nbB", username, password]);
  return stdout.trim() + "\n";
}

function registryConfig(dir: string, address: string, requireAuth: boolean, tls?: { certFile: string; keyFile: string }): string {
  // An htpasswd file that does not exist yet is created by the registry with a random
  // password it only logs: no request can authenticate, which is the point.
  const auth = requireAuth ? `auth:\n  htpasswd:\n    realm: brewkit-test\n    path: ${JSON.stringify(path.join(dir, "htpasswd"))}\n` : "";
  return `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(path.join(dir, "storage"))}
  delete:
    enabled: true
http:
  addr: ${address}
${tls ? `  tls:\n    certificate: ${JSON.stringify(tls.certFile)}\n    key: ${JSON.stringify(tls.keyFile)}\n` : ""}${auth}health:
  storagedriver:
    enabled: false
`;
}

async function waitUntilServing(address: string, child: ChildProcess, exitCode: () => number | null | undefined, logFile: string, tls: boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (exitCode() !== undefined) throw new Error(`docker-registry exited (code ${exitCode()}) while starting:\n${tail(logFile)}`);
    try {
      // Any HTTP answer (200, or 401 with auth) means the registry is serving; over TLS, an accepted connection.
      if (tls) await accepts(address);
      else await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      await sleep(100);
    }
  }
  child.kill("SIGKILL");
  throw new Error(`docker-registry did not answer on ${address} in time:\n${tail(logFile)}`);
}

function accepts(address: string): Promise<void> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host!, () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
    socket.setTimeout(1_000, () => socket.destroy(new Error("timeout")));
  });
}

function tail(file: string): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-15).join("\n");
}

/**
 * buildkitd.toml for a daemon whose Docker Hub pulls are served by the test registry,
 * so configs can name `busybox` or `debian:bookworm` while tests stay offline.
 */
export function mirrorConfig(registry: string): string {
  return `[registry."docker.io"]
  mirrors = [${JSON.stringify(registry)}]

[registry.${JSON.stringify(registry)}]
  http = true
`;
}

/** The image every test can pull: Debian's static busybox on scratch with a distinctive config. */
export const busyboxDockerfile = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/local/bin:/bin BREWKIT_TEST_IMAGE=1
WORKDIR /home/app
USER 1000:1000
`;

/**
 * Builds the test images on the daemon at `buildkitHost` with buildctl's built-in
 * Dockerfile frontend and pushes them into `registry`. Repository names are those a
 * Docker Hub mirror serves (`library/busybox` for `busybox`).
 */
export async function pushTestImages(buildkitHost: string, registry: string, workDir: string): Promise<void> {
  const busybox = findOnPath("busybox");
  if (!busybox) throw new Error("busybox is not installed; the end-to-end tests need a static busybox (Debian package busybox-static)");
  const context = path.join(workDir, "busybox-image");
  mkdirSync(context, { recursive: true });
  copyFileSync(busybox, path.join(context, "busybox"));
  writeFileSync(path.join(context, "Dockerfile"), busyboxDockerfile);
  await buildctl(buildkitHost, [
    "build",
    "--frontend", "dockerfile.v0",
    "--local", `context=${context}`,
    "--local", `dockerfile=${context}`,
    "--output", `type=image,name=${registry}/library/busybox:latest,push=true,registry.insecure=true`,
  ]);
}

function buildctlBinary(): string {
  const own = path.join(defaultDaemonPaths().binDir, "buildctl");
  if (existsSync(own)) return own;
  const onPath = findOnPath("buildctl");
  if (onPath) return onPath;
  throw new Error("buildctl is not installed; run `brewkit daemon install` (it installs buildkitd and buildctl)");
}

function buildctl(buildkitHost: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(buildctlBinary(), ["--addr", buildkitHost, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`buildctl ${args.join(" ")} failed (code ${code}):\n${output.trimEnd().split("\n").slice(-30).join("\n")}`));
    });
  });
}

/** A loopback TCP port that is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
