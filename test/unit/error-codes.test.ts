// The registry of error codes: every code has a summary and a hint, every code is used,
// every code constructed is registered, and every code has a test that names it. A
// table of triggers here produces many codes from the functions that raise them.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { parseDaemonAddress } from "../../src/client/address.ts";
import { ControlClient } from "../../src/client/control.ts";
import { GatewayClient } from "../../src/client/gateway.ts";
import { framePrefix, GrpcStatus } from "../../src/grpc/wire.ts";
import { codecFor } from "../../src/proto/registry.ts";
import { cacheCommand } from "../../src/cli/cache-command.ts";
import { daemonCommand } from "../../src/cli/daemon-command.ts";
import { definitionCommand } from "../../src/cli/definition-command.ts";
import { graphCommand } from "../../src/cli/graph-command.ts";
import { progressOutput } from "../../src/cli/progress-mode.ts";
import { requireTerminal, shellArgv } from "../../src/cli/terminal.ts";
import { BrewkitError, errorCodes, isGatewayFailure, type ErrorCode } from "../../src/errors.ts";
import { image, marshal, mkfile, parsePlatform, scratch } from "../../src/llb/index.ts";
import { cache, group, secret, target, variable, type Target } from "../../src/model/index.ts";
import { createPlan, resolveHostPaths, type HostFs, type PlanInput } from "../../src/plan/index.ts";
import { parseSshFlag } from "../../src/session/ssh-service.ts";
import { imageExportFailure } from "../../src/build/failures.ts";
import { loadConfig } from "../../src/config/index.ts";
import { assertDaemonPrivate } from "../../src/daemon/privacy.ts";
import { daemonPaths } from "../../src/daemon/paths.ts";
import { helperLogin, readDockerConfig } from "../../src/registry/docker-config.ts";
import { describeRegistryFailure, parseImageConfig } from "../../src/resolve/index.ts";
import { missingArtifact } from "../../src/build/failures.ts";
import { hostBusybox } from "../../src/cli/host-busybox.ts";
import { initCommand } from "../../src/cli/init-command.ts";
import { compileTarget } from "../../src/compile/index.ts";
import { findConfigFile } from "../../src/config/find.ts";
import { acquireDaemonLock } from "../../src/daemon/daemon-lock.ts";
import { findGo, installDaemon, pinnedBuildkitVersion } from "../../src/daemon/install.ts";
import { LocalDaemon, requireStepNetwork, workerNetworkLabel } from "../../src/daemon/local-daemon.ts";
import { PacketType, encodePacket, receiveDirectory, type Stat } from "../../src/filesync/index.ts";
import { Staging } from "../../src/filesync/staging.ts";
import { EntryValidator } from "../../src/filesync/validator.ts";
import type { Moby_Buildkit_V1_Frontend_SolveResponse as SolveResponse, Moby_Buildkit_V1_Types_WorkerRecord as WorkerRecord } from "../../src/proto/generated.ts";
import { exportWriteError } from "../../src/solve/export-failure.ts";
import { makeProject } from "../support/project.ts";

const root = path.resolve(import.meta.dirname, "../..");
const codes = Object.keys(errorCodes) as ErrorCode[];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : /\.ts$/.test(name) ? [file] : [];
  });
}

const sources = filesUnder(path.join(root, "src")).filter((f) => !f.endsWith("error-codes.ts") && !f.endsWith("generated.ts"));
const sourceText = sources.map((f) => readFileSync(f, "utf8")).join("\n");
const tests = filesUnder(path.join(root, "test")).filter((f) => !f.endsWith("error-codes.test.ts"));
const testText = tests.map((f) => readFileSync(f, "utf8")).join("\n");

// ---- triggers: each raises its code from the function that raises it for users.

function plan(targets: Record<string, unknown>, names: string[], extra: Partial<PlanInput> = {}) {
  return createPlan(
    { configFile: "/p/brewkit.config.ts", projectDir: "/p", targets: new Map(Object.entries(targets)) as PlanInput["targets"], groups: new Map(), defaultName: undefined, ignorePatterns: [], ...extra },
    names,
  );
}

/** A host file system of `exists` paths, symlinks (`links`) and their resolutions (`real`). */
function hostFs(fs: { exists?: string[]; links?: Record<string, string>; real?: Record<string, string> }): HostFs {
  return {
    exists: (p) => fs.exists?.includes(p) ?? false,
    list: () => [],
    realPath: (p) => fs.real?.[p] ?? (fs.exists?.includes(p) || p === "/p" ? p : undefined),
    readLink: (p) => fs.links?.[p],
  };
}

const base = target({ from: "busybox" });
const cycleDeps: Target[] = [];
const cycleA = target({ from: "busybox", dependsOn: cycleDeps });
cycleDeps.push(cycleA);

const scratchDir = () => mkdtempSync(path.join(os.tmpdir(), "bk-codes-"));
const twoPlatforms = ["linux/amd64", "linux/386"];
const amd64 = { OS: "linux", Architecture: "amd64" };

/** An error as Node's fs raises it for a failed system call. */
function errno(code: string, message: string, syscall: string, file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}, ${syscall} '${file}'`), { code, syscall, path: file });
}

/** An export to /p/dist that the host failed to write with `error`. */
const exportFailure = (error: unknown) => exportWriteError("app", { dest: "/p/dist", error });

/** A directory of shell scripts standing in for the programs brewkit runs. */
function fakePrograms(scripts: Record<string, string>): string {
  const dir = scratchDir();
  for (const [name, body] of Object.entries(scripts)) writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

// BuildKit's own copies of the CNI plugins, which brewkit's daemon prefers on its PATH.
const cniPlugins = Object.fromEntries(["bridge", "loopback", "host-local", "firewall"].map((name) => [`buildkit-cni-${name}`, "exit 0"]));

/** Runs `fn` with PATH set to `dirs`, as on a machine whose programs are only those. */
async function withPath<T>(dirs: string, fn: () => T | Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = dirs;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

/** A STAT of a regular file at `p`, as the daemon lists an export. */
const fileStat = (p: string): Stat => ({ path: p, mode: 0o644, uid: 0, gid: 0, size: 1n, modTime: 0n, linkname: "", devmajor: 0, devminor: 0 });

/** The daemon's end of an export stream that fails at once with `message`. */
function failingSender(message: string): Duplex {
  const stream = new Duplex({ objectMode: true, read() {}, write: (_chunk, _encoding, done) => done() });
  stream.push(encodePacket({ type: PacketType.ERR, id: 0, data: Buffer.from(message) }));
  return stream;
}

/** A daemon's answer to every call: one message, or a failed status. */
type FakeAnswer = { message: Uint8Array } | { status: number; details: string };

/**
 * Runs `fn` with a client of a fake daemon on loopback TCP that gives every call `answer`:
 * for what no real daemon does on demand (a result of another shape, a stream broken off).
 */
async function withFakeDaemon<T>(answer: FakeAnswer, fn: (control: ControlClient) => Promise<T>): Promise<T> {
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.on("error", () => undefined);
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers("message" in answer ? { "grpc-status": "0" } : { "grpc-status": String(answer.status), "grpc-message": encodeURIComponent(answer.details) }));
    stream.end("message" in answer ? Buffer.concat([framePrefix(answer.message.length), answer.message]) : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const control = new ControlClient(parseDaemonAddress(`tcp://127.0.0.1:${(server.address() as AddressInfo).port}`));
  try {
    return await fn(control);
  } finally {
    control.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** A code, a call of the function that raises it for users, and (where given) the message it must give. */
type Trigger = [ErrorCode, () => unknown, RegExp?];

const triggers: Trigger[] = [
  ["IMAGE_NAME", () => plan({ bad: target({ from: base, output: { image: [] } }) }, ["bad"])],
  ["TARBALL_FORMAT", () => plan({ bad: target({ from: base, output: { tarball: "app.tar", format: "zip" as never } }) }, ["bad"])],
  ["LABEL_NAME", () => plan({ bad: target({ from: base, labels: { "": "x" } }) }, ["bad"])],
  ["EXPOSE_INVALID", () => plan({ bad: target({ from: base, expose: [70_000] }) }, ["bad"])],
  ["PLATFORM_TWICE", () => plan({ bad: target({ from: base, platform: ["linux/amd64", "linux/amd64"] }) }, ["bad"])],
  ["PLATFORMS_ARTIFACT", () => plan({ bad: target({ from: base, platform: twoPlatforms, output: { artifact: "/o", local: "dist" } }) }, ["bad"])],
  ["PLATFORMS_DOCKER_ARCHIVE", () => plan({ bad: target({ from: base, platform: twoPlatforms, output: { tarball: "app.tar", format: "docker" } }) }, ["bad"])],
  ["CONFIG_BUILD_CACHE_TWICE", () => {
    const dir = makeProject({ "package.json": '{ "type": "module" }\n', "brewkit.config.ts": 'import { buildCache } from "brewkit";\nexport const one = buildCache({ from: "type=local,src=a" });\nexport const two = buildCache({ from: "type=local,src=b" });\n' });
    return loadConfig(path.join(dir, "brewkit.config.ts"));
  }],
  ["DOCKER_CONFIG_UNREADABLE", () => readDockerConfig(scratchDir())],
  ["DOCKER_CONFIG_INVALID", () => {
    const file = path.join(scratchDir(), "config.json");
    writeFileSync(file, "{ not json");
    return readDockerConfig(file);
  }],
  ["CREDENTIAL_HELPER_FAILED", () => helperLogin("brewkit-test-absent", "https://registry.example.com", { PATH: scratchDir() })],
  ["DAEMON_NOT_PRIVATE", () => {
    const paths = daemonPaths(scratchDir(), "/nonexistent");
    mkdirSync(paths.root, { recursive: true });
    chmodSync(paths.dir, 0o777);
    assertDaemonPrivate(paths);
  }],
  ["REGISTRY_TLS", () => {
    throw describeRegistryFailure("127.0.0.1:5443/team/base:1", "linux/amd64", new Error("failed to resolve source metadata for x: tls: failed to verify certificate: x509: certificate signed by unknown authority"));
  }],
  ["REGISTRY_UNAUTHORIZED", () => {
    const failed = { error: "failed to push 127.0.0.1:5443/team/app:1: unexpected status from HEAD request: 401 Unauthorized" } as Parameters<ReturnType<typeof imageExportFailure>>[0];
    throw imageExportFailure("app", { type: "image", index: 0, names: ["127.0.0.1:5443/team/app:1"], push: true, attrs: {} })(failed);
  }],
  ["SHELL_NEEDS_TTY", () => requireTerminal("brewkit shell", { stdin: { isTTY: false }, stdout: { isTTY: true } })],
  ["SHELL_INVALID", () => shellArgv("   ")],
  ["PROGRESS_MODE", () => progressOutput("fancy")],
  ["ADDR_SCHEME", () => parseDaemonAddress("http://127.0.0.1:1234")],
  ["ADDR_INVALID", () => parseDaemonAddress("tcp://")],
  ["GRAPH_FORMAT", () => graphCommand(undefined, { format: "svg" })],
  ["DEFINITION_FORMAT", () => definitionCommand("x", { format: "xml" })],
  ["UNKNOWN_DAEMON_ACTION", () => daemonCommand("fly", {})],
  ["UNKNOWN_CACHE_ACTION", () => cacheCommand("sweep", undefined, undefined, {})],
  ["CACHE_ARGS", () => cacheCommand("export", undefined, undefined, {})],
  ["SSH_FLAG_INVALID", () => parseSshFlag("=", {})],
  ["LLB_INVALID_PLATFORM", () => parsePlatform("not a platform")],
  ["LLB_INVALID_RUN", () => scratch().run({})],
  ["LLB_INVALID_IMAGE_REF", () => image("Not A Reference!")],
  ["LLB_INVALID_TIMESTAMP", () => marshal(scratch().file(mkfile("/f", 0o644, "", { timestamp: new Date(Number.NaN) })), { platform: { OS: "linux", Architecture: "amd64" } })],
  ["UNKNOWN_TARGET", () => plan({ base }, ["bsae"])],
  ["NO_DEFAULT_TARGET", () => plan({ base }, [])],
  ["GROUP_MEMBER", () => plan({}, [], { groups: new Map([["all", group(...([base, "nope"] as never[]))]]), defaultName: "all" })],
  ["NOT_A_TARGET", () => plan({ bad: {} }, ["bad"])],
  ["FROM_INVALID", () => plan({ bad: target({ from: 42 as never }) }, ["bad"])],
  ["FROM_EMPTY", () => plan({ bad: target({ from: " " }) }, ["bad"])],
  ["VARIABLE_COMMAND", () => plan({ v: target({ from: base, env: { V: variable({ from: base } as never) } }) }, ["v"])],
  ["PATH_TILDE", () => plan({ out: target({ from: base, output: { artifact: "/o", local: "~/dist" } }) }, ["out"])],
  ["DEPENDENCY_CYCLE", () => plan({ cycleA }, ["cycleA"])],
  ["FIELD_TYPE", () => plan({ bad: target({ from: base, env: "A=1" as never }) }, ["bad"])],
  ["COMMAND_EMPTY", () => plan({ bad: target({ from: base, command: "  " }) }, ["bad"])],
  ["COMMAND_INVALID", () => plan({ bad: target({ from: base, command: 42 as never }) }, ["bad"])],
  ["COMMAND_TWICE", () => plan({ bad: target({ from: base, command: "a", commands: ["b"] }) }, ["bad"])],
  ["ENV_NAME", () => plan({ bad: target({ from: base, env: { "A=B": "c" } }) }, ["bad"])],
  ["PLATFORM_INVALID", () => plan({ bad: target({ from: base, platform: "linux" }) }, ["bad"])],
  ["NETWORK_INVALID", () => plan({ bad: target({ from: base, network: "bridge" as never }) }, ["bad"])],
  ["COPY_SRC", () => plan({ bad: target({ from: base, copy: { src: "" } }) }, ["bad"])],
  ["COPY_FROM", () => plan({ bad: target({ from: base, copy: { src: "/x", from: "base" as never } }) }, ["bad"])],
  ["CACHE_INVALID", () => plan({ bad: target({ from: base, cache: [cache("", "/c")] }) }, ["bad"])],
  ["CACHE_ID_PATHS", () => plan({ bad: target({ from: base, cache: [cache("c", "/a"), cache("c", "/b")] }) }, ["bad"])],
  ["CACHE_HOSTDIR_OUTSIDE", () => plan({ bad: target({ from: base, cache: [cache("c", "/a", { hostDir: "../elsewhere" })] }) }, ["bad"])],
  ["SECRET_ID", () => plan({ bad: target({ from: base, secrets: [secret("", "/s")] }) }, ["bad"])],
  ["SECRET_TARGET", () => plan({ bad: target({ from: base, secrets: [secret("s", {} as never)] }) }, ["bad"])],
  ["OUTPUT_INVALID", () => plan({ bad: target({ from: base, output: { artifact: "", local: "dist" } }) }, ["bad"])],
  ["OUTPUT_OUTSIDE_PROJECT", () => plan({ bad: target({ from: base, output: { artifact: "/o", local: "../dist" } }) }, ["bad"])],
  ["OUTPUT_IS_PROJECT", () => plan({ bad: target({ from: base, output: { artifact: "/o", local: "." } }) }, ["bad"])],
  ["COPY_SOURCE_MISSING", () => resolveHostPaths(plan({ bad: target({ from: base, copy: "src" }) }, ["bad"]), hostFs({}))],
  ["COPY_SOURCE_DANGLING", () => resolveHostPaths(plan({ bad: target({ from: base, copy: "src" }) }, ["bad"]), hostFs({ links: { "/p/src": "gone" } }))],
  ["COPY_SOURCE_OUTSIDE", () => resolveHostPaths(plan({ bad: target({ from: base, copy: "src" }) }, ["bad"]), hostFs({ exists: ["/p/src"], links: { "/p/src": "/etc" }, real: { "/p/src": "/etc" } }))],

  // Outputs this machine cannot write, from the errno of the failed system call.
  ["EXPORT_ENOSPC", () => { throw exportFailure(errno("ENOSPC", "no space left on device", "write", "/p/dist/app")); }, /^target "app": cannot write its output to \/p\/dist: the file system is full/],
  ["EXPORT_EDQUOT", () => { throw exportFailure(errno("EDQUOT", "disk quota exceeded", "write", "/p/dist/app")); }, /: your disk quota is used up$/],
  ["EXPORT_EACCES", () => { throw exportFailure(errno("EACCES", "permission denied", "mkdir", "/p/dist")); }, /: permission denied on \/p\/dist$/],
  ["EXPORT_EPERM", () => { throw exportFailure(errno("EPERM", "operation not permitted", "rename", "/p/dist/app")); }, /: operation not permitted on \/p\/dist\/app$/],
  ["EXPORT_EROFS", () => { throw exportFailure(errno("EROFS", "read-only file system", "open", "/p/dist/app")); }, /: the file system is read-only$/],
  ["EXPORT_FAILED", () => { throw exportFailure(errno("EIO", "i/o error", "write", "/p/dist/app")); }, /^target "app": cannot write its output to \/p\/dist: EIO: i\/o error/],

  // File transfers.
  ["FILESYNC_PROTOCOL", () => {
    const validator = new EntryValidator();
    validator.check(fileStat("b"));
    validator.check(fileStat("a"));
  }, /^changes out of order: "a" after "b"$/],
  ["FILESYNC_UNSAFE_PATH", () => new EntryValidator().check(fileStat("../evil")), /^refusing "\.\.\/evil": path contains \.\.$/],
  ["FILESYNC_PEER", () => receiveDirectory(failingSender("no space left on device"), { dest: path.join(scratchDir(), "out") }), /^error from sender: no space left on device$/],
  ["FILESYNC_PATH", () => {
    const dest = path.join(scratchDir(), "out");
    writeFileSync(dest, "a file where the output's directory goes");
    return Staging.create(dest);
  }, /^the export destination exists and is not a directory: /],
  ["FILESYNC_IO", async () => {
    const staging = await Staging.create(path.join(scratchDir(), "out"));
    // Removed behind brewkit's back, e.g. by a cleaner of temporary files.
    rmSync(staging.root, { recursive: true });
    return staging.commit();
  }, /^cannot move the export into \S+out: ENOENT/],
  ["FILESYNC_ABORTED", () => Staging.create(path.join(scratchDir(), "out"), { signal: AbortSignal.abort(new Error("interrupted")) }), /^file transfer aborted: interrupted$/],

  // The daemon address and its TLS files.
  ["TLS_FILE", () => parseDaemonAddress("tcp://127.0.0.1:1234", { caCert: path.join(scratchDir(), "missing-ca.pem") }), /^cannot read the TLS CA certificate \S+missing-ca\.pem: ENOENT/],
  ["TLS_INCOMPLETE", () => parseDaemonAddress("tcp://127.0.0.1:1234", { cert: path.join(scratchDir(), "client.pem") }), /needs its key/],

  // brewkit's own daemon.
  ["DAEMON_NOT_INSTALLED", () => withPath(scratchDir(), () => new LocalDaemon(daemonPaths(scratchDir(), scratchDir())).findBinary()), /^buildkitd is not installed \(looked in \S+ and on PATH\)$/],
  ["SOCKET_PATH_TOO_LONG", () => new LocalDaemon(daemonPaths(path.join(scratchDir(), "d".repeat(100)), fakePrograms({ buildkitd: "exit 1" }))).start(), /^the daemon socket path \S+ is too long for a unix socket$/],
  ["DAEMON_LOCK_NAME", () => {
    const nameFile = path.join(scratchDir(), "lock-name");
    writeFileSync(nameFile, "");
    return acquireDaemonLock(nameFile, { deadline: Date.now() });
  }, /lock-name does not hold a lock name$/],
  ["DAEMON_HOST_NETWORK", () => {
    const worker: WorkerRecord = { ID: "w", Labels: { [workerNetworkLabel]: "host" } };
    requireStepNetwork(worker, new LocalDaemon(daemonPaths(scratchDir(), "/nonexistent")));
  }, /gives steps the host network, not one of their own/],
  // As root (as the suite runs), the daemon is buildkitd itself: here a script in its place.
  ["DAEMON_START_FAILED", () => {
    const bin = fakePrograms({ ...cniPlugins, buildkitd: `echo 'time="2026-01-01T00:00:00Z" level=fatal msg="cannot listen" error="bind: address in use"' >&2; exit 1` });
    return new LocalDaemon(daemonPaths(scratchDir(), bin)).start();
  }, /^buildkitd exited \(code 1\) while starting: cannot listen: bind: address in use$/],
  ["DAEMON_START_TIMEOUT", async () => {
    const daemon = new LocalDaemon(daemonPaths(scratchDir(), fakePrograms({ ...cniPlugins, buildkitd: "exec sleep 300" })));
    try {
      // It never answers: the start ends when its time is up.
      await daemon.start({ timeoutMs: 500 });
    } finally {
      if (existsSync(daemon.paths.pidFile)) process.kill(Number(readFileSync(daemon.paths.pidFile, "utf8")), "SIGKILL");
    }
  }, /^buildkitd did not answer on unix:\/\/\S+ in time/],
  ["GO_MISSING", () => {
    const machine = scratchDir();
    return findGo(machine, path.join(machine, "go", "bin", "go"));
  }, /needs Go/],
  ["GO_MOD_PIN", () => {
    const root = scratchDir();
    writeFileSync(path.join(root, "go.mod"), "module example.com/tools\n\ngo 1.26\n");
    return pinnedBuildkitVersion(root);
  }, /^go\.mod in \S+ does not pin github\.com\/moby\/buildkit$/],
  ["INSTALL_FAILED", () => withPath(fakePrograms({ go: "exit 2" }), () => installDaemon(path.join(scratchDir(), "bin"), () => undefined)), /\/go build -trimpath .* exited with 2$/],

  // Images.
  ["IMAGE_RESOLVE_FAILED", () => {
    throw describeRegistryFailure("registry.example.com/team/base:1", "linux/amd64", new Error("failed to resolve source metadata for registry.example.com/team/base:1: unexpected media type text/html"));
  }, /^cannot resolve image "registry\.example\.com\/team\/base:1" for linux\/amd64: unexpected media type text\/html$/],
  ["IMAGE_CONFIG_INVALID", () => parseImageConfig("busybox", "sha256:0", '{ "config": '), /^the config of image "busybox" is not valid JSON: /],

  // Builds.
  ["ARTIFACT_MISSING", () => {
    const planned = plan({ app: target({ from: base, command: "true", output: { artifact: "/out/app", local: "bin" } }) }, ["app"]);
    const output = compileTarget(planned, "app", { platform: amd64, runId: "r" }).build[0]!.output!;
    // What the daemon reports for the step that collects the artifact.
    throw missingArtifact(planned, "app", output)({ digest: "sha256:0", number: 2, name: output.step, inputs: [], cached: false, logTail: [], error: 'failed to calculate checksum of ref x::y: "/out/app": not found' });
  }, /target "app", field "output\[0\]\.artifact": \/out\/app does not exist in the target's result$/],

  // The daemon's gateway, played by a fake daemon.
  ["GATEWAY_UNEXPECTED_RESULT", () => {
    const perPlatform = codecFor<SolveResponse>("moby.buildkit.v1.frontend.SolveResponse").encode({ result: { refs: { refs: { "linux/amd64": { id: "r1" }, "linux/arm64": { id: "r2" } } } } });
    return withFakeDaemon({ message: perPlatform }, (control) => new GatewayClient(control, "build").solve(marshal(scratch(), { platform: amd64 })));
  }, /multi-platform result for a single definition/],
  ["SHELL_FAILED", () => withFakeDaemon({ status: GrpcStatus.INTERNAL, details: "the container went away" }, (control) =>
    new GatewayClient(control, "build").startProcess({ ContainerID: "failed-step", Meta: { args: ["/bin/sh"] }, Tty: true }, { stdout: () => undefined, stderr: () => undefined }).exited), /^the shell's process stream failed: .*the container went away/],

  // The CLI's commands.
  ["CONFIG_NOT_FOUND", () => findConfigFile(scratchDir()), /^no brewkit\.config\.ts, .* in \S+ or any parent directory$/],
  ["UNKNOWN_TEMPLATE", () => initCommand("cobol", { dir: scratchDir() }), /^unknown template "cobol"$/],
  ["INIT_WOULD_OVERWRITE", () => {
    const dir = scratchDir();
    writeFileSync(path.join(dir, "brewkit.config.ts"), "// mine\n");
    return initCommand(undefined, { dir });
  }, /already has brewkit\.config\.ts$/],
  ["CACHE_IMPORT_DIR", () => cacheCommand("import", "go-mod", path.join(scratchDir(), "missing"), {}), /missing is not a folder$/],
  ["BUSYBOX_UNUSABLE", () => hostBusybox(amd64, "cache export", [path.join(fakePrograms({ busybox: "exit 0" }), "busybox")]), /busybox is not an executable brewkit can run in a container \(not an ELF binary\)$/],
];

/**
 * Codes no test names yet. The list may only shrink: a code that gets a test must leave
 * it, and a new code must come with a test.
 */
const awaitingTests: ErrorCode[] = [
  // Raised when a daemon has not registered a gateway build after 30 s: a real daemon
  // registers it within milliseconds, and a test that waits out the deadline is too slow.
  "GATEWAY_NOT_REGISTERED",
];

describe("the error code registry", () => {
  it("gives every code a summary and a hint", () => {
    expect(codes.length).toBeGreaterThan(100);
    for (const code of codes) {
      expect(code, code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(errorCodes[code].summary.length, `${code} summary`).toBeGreaterThan(10);
      expect(errorCodes[code].summary, `${code} summary`).not.toMatch(/\.$/);
      expect(errorCodes[code].hint.length, `${code} hint`).toBeGreaterThan(5);
    }
  });

  it("holds only codes that brewkit's sources raise, and every code they raise", () => {
    const unused = codes.filter((code) => !sourceText.includes(`"${code}"`));
    expect(unused).toEqual([]);
    // ERR_* are Node's own codes, which brewkit's import.meta.resolve raises as Node does.
    const raised = new Set([...sourceText.matchAll(/Error\(\s*"([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!).filter((code) => !code.startsWith("ERR_")));
    expect([...raised].filter((code) => !(code in errorCodes))).toEqual([]);
  });

  it("marks the gateway's codes, which no code matches by prefix any more", () => {
    expect(codes.filter(isGatewayFailure).every((code) => code.startsWith("GATEWAY_"))).toBe(true);
    expect(codes.filter((code) => code.startsWith("GATEWAY_")).every(isGatewayFailure)).toBe(true);
    expect(sourceText).not.toMatch(/code\.startsWith\(/);
  });

  it("has a test that names each code (the list of codes still awaiting one only shrinks)", () => {
    const triggered = new Set(triggers.map(([code]) => code));
    const untested = codes.filter((code) => !triggered.has(code) && !testText.includes(code));
    expect(untested.filter((code) => !awaitingTests.includes(code)).join(" "), "codes without a test").toEqual("");
    expect(awaitingTests.filter((code) => !untested.includes(code)), "codes that have a test now: remove them from awaitingTests").toEqual([]);
  });

  it("gives an error without a hint of its own its code's hint", () => {
    const error = new BrewkitError("DAEMON_LOCKED", "another brewkit is starting the daemon");
    expect(error.hint).toBe(errorCodes.DAEMON_LOCKED.hint);
    expect(new BrewkitError("DAEMON_LOCKED", "x", { hint: "wait" }).hint).toBe("wait");
  });
});

describe("errors raised for users", () => {
  for (const [code, trigger, message] of triggers) {
    it(`${code}: a message and a hint`, async () => {
      let caught: unknown;
      try {
        await trigger();
      } catch (err) {
        caught = err;
      }
      expect(caught, `${code} was not raised`).toBeInstanceOf(BrewkitError);
      const error = caught as BrewkitError;
      expect(error.code).toBe(code);
      expect(error.message.length).toBeGreaterThan(5);
      if (message) expect(error.message).toMatch(message);
      expect(error.hint?.length ?? 0).toBeGreaterThan(5);
    });
  }
});
