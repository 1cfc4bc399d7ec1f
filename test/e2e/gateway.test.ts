import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseDaemonAddress } from "../../src/client/address.ts";
import { ControlClient } from "../../src/client/control.ts";
import { GatewayClient } from "../../src/client/gateway.ts";
import { BrewkitError } from "../../src/errors.ts";
import { image, local, marshal, normalizePlatform, type Platform, type State } from "../../src/llb/index.ts";
import { readFileFromDefinition, readFilesFromDefinitions, readFilesWith, resolveImageConfigs, resolveImageConfigsWith } from "../../src/resolve/index.ts";
import type { ProgressEvent } from "../../src/progress/index.ts";
import { withGatewayBuild } from "../../src/solve/gateway-build.ts";
import { freePort } from "../support/registry.ts";

const control = new ControlClient(parseDaemonAddress(inject("buildkitHost")));
const registry = inject("registry");
const sharedKey = "brewkit-gateway-test";
let platform: Platform;

beforeAll(async () => {
  const [worker] = await control.listWorkers(10_000);
  const [first] = worker?.platforms ?? [];
  if (!first) throw new Error("the daemon reported no worker platform");
  platform = normalizePlatform({ OS: first.OS ?? "", Architecture: first.Architecture ?? "", Variant: first.Variant });
});

afterAll(() => control.close());

/** The error `promise` rejects with; fails the test if it resolves. */
async function failure(promise: Promise<unknown>): Promise<BrewkitError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(BrewkitError);
  return outcome.error as BrewkitError;
}

const def = (state: State) => marshal(state, { platform });
const sh = (script: string) => image("busybox").run({ args: ["/bin/sh", "-c", script] }).root();

describe("base-image config resolution through the gateway", () => {
  it("reads env, workdir, user and platform of an image in the registry", async () => {
    const ref = `${registry}/library/busybox:latest`;
    const configs = await resolveImageConfigs(control, [ref], platform, { sharedKey });
    const config = configs.get(ref)!;
    expect(config.ref).toBe(ref);
    expect(config.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(config.env).toEqual([
      ["PATH", "/usr/local/bin:/bin"],
      ["BREWKIT_TEST_IMAGE", "1"],
    ]);
    expect(config.workdir).toBe("/home/app");
    expect(config.user).toBe("1000:1000");
    expect(config.platform).toEqual({ OS: platform.OS, Architecture: platform.Architecture, ...(platform.Variant ? { Variant: platform.Variant } : {}) });
    expect(config.raw.config?.Env).toEqual(["PATH=/usr/local/bin:/bin", "BREWKIT_TEST_IMAGE=1"]);
  });

  it("resolves Docker Hub names through the daemon's mirror, each spelling once, keyed as given", async () => {
    const events: string[] = [];
    const onEvent = (_job: string, e: ProgressEvent) => e.kind === "started" && events.push(e.vertex.name);
    const refs = ["busybox", "docker.io/library/busybox:latest", `${registry}/library/busybox:latest`];
    const configs = await resolveImageConfigs(control, refs, platform, { sharedKey, onEvent });
    expect([...configs.keys()]).toEqual(refs);
    expect(configs.get("busybox")!.ref).toBe("docker.io/library/busybox:latest");
    expect(configs.get("busybox")!.env).toContainEqual(["BREWKIT_TEST_IMAGE", "1"]);
    // The mirror serves the very image pushed to the registry.
    expect(configs.get("busybox")!.digest).toBe(configs.get(`${registry}/library/busybox:latest`)!.digest);
    expect(events.filter((name) => name.includes("load metadata for docker.io/library/busybox:latest"))).toHaveLength(1);
  });

  it("names a missing image and says it was not found", async () => {
    const ref = `${registry}/brewkit/missing:1`;
    const err = await failure(resolveImageConfigs(control, ["busybox", ref], platform, { sharedKey }));
    expect(err.code).toBe("IMAGE_NOT_FOUND");
    expect(err.message).toContain(`image "${ref}" was not found`);
  });

  it("says when the registry cannot be reached", async () => {
    // Nothing listens on a port that was just free.
    const ref = `127.0.0.1:${await freePort()}/brewkit/app:1`;
    const err = await failure(resolveImageConfigs(control, [ref], platform, { sharedKey }));
    expect(err.code).toBe("IMAGE_REGISTRY_UNREACHABLE");
    expect(err.message).toContain(`the registry of image "${ref}" could not be reached`);
    expect(err.message).toContain("connection refused");
  });

  it("says when the registry refuses access", async () => {
    const ref = `${inject("privateRegistry")}/brewkit/app:1`;
    const err = await failure(resolveImageConfigs(control, [ref], platform, { sharedKey }));
    expect(err.code).toBe("IMAGE_UNAUTHORIZED");
    expect(err.message).toContain(`the registry ${inject("privateRegistry")} refused access to image "${ref}": wrong or missing credentials`);
    expect(err.hint).toContain(`docker login ${inject("privateRegistry")}`);
  });

  it("rejects an invalid reference before starting a build", async () => {
    const err = await failure(resolveImageConfigs(control, ["Busybox"], platform, { sharedKey }));
    expect(err.code).toBe("LLB_INVALID_IMAGE_REF");
  });
});

describe("reading files from definitions solved through the gateway", () => {
  it("solves a command on busybox and reads the file it wrote", async () => {
    const content = await readFileFromDefinition(control, def(sh("echo hello > /out.txt")), "/out.txt", { sharedKey });
    expect(content.toString()).toBe("hello\n");
  });

  it("resolves images and reads several files of several definitions in one gateway build", async () => {
    const twoFiles = def(sh("echo one > /a; printf two > /b"));
    const started: string[] = [];
    const result = await withGatewayBuild(
      control,
      { name: "mixed", sharedKey, onEvent: (_job, e) => e.kind === "started" && started.push(e.vertex.name) },
      async (bridge) => {
        const configs = await resolveImageConfigsWith(bridge, ["busybox"], platform);
        // The image's env, applied to the command's state, is what the command sees.
        let withConfig = image("busybox");
        for (const [key, value] of configs.get("busybox")!.env) withConfig = withConfig.env(key, value);
        withConfig = withConfig.dir(configs.get("busybox")!.workdir ?? "/");
        const seesConfig = def(withConfig.run({ args: ["sh", "-c", "echo $BREWKIT_TEST_IMAGE $(pwd) > /env"] }).root());
        const contents = await readFilesWith(bridge, [
          { definition: twoFiles, path: "/a" },
          { definition: twoFiles, path: "b" },
          { definition: seesConfig, path: "/env" },
        ]);
        return contents.map(String);
      },
    );
    expect(result).toEqual(["one\n", "two", "1 /home/app\n"]);
    // Both reads of one definition share its solve: the command ran once.
    expect(started.filter((name) => name.includes("echo one > /a"))).toHaveLength(1);
  });

  it("reads files out of a local source uploaded through the build's session", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "brewkit-gateway-"));
    writeFileSync(path.join(dir, "version.txt"), "1.2.3\n");
    const withLocal = image("busybox").run({
      args: ["/bin/sh", "-c", "cat /ctx/version.txt | tr . - > /out"],
      mounts: [{ type: "bind", dest: "/ctx", source: local("ctx"), readonly: true }],
    });
    const [fromCommand, fromSource] = await readFilesFromDefinitions(
      control,
      [
        { definition: def(withLocal.root()), path: "/out" },
        { definition: def(local("ctx")), path: "version.txt" },
      ],
      { sharedKey, localDirs: new Map([["ctx", { root: dir }]]) },
    );
    expect(fromCommand!.toString()).toBe("1-2-3\n");
    expect(fromSource!.toString()).toBe("1.2.3\n");
  });

  it("reads a file larger than one gRPC message, and refuses one over the limit", async () => {
    const big = def(sh("head -c 20000000 /dev/zero | tr '\\0' x > /big"));
    const [content] = await readFilesFromDefinitions(control, [{ definition: big, path: "/big" }], { sharedKey });
    expect(content!.length).toBe(20_000_000);
    expect(content!.every((byte) => byte === 0x78)).toBe(true);
    const err = await failure(readFilesFromDefinitions(control, [{ definition: big, path: "/big", maxBytes: 1000, label: "variable BIG" }], { sharedKey }));
    expect(err.code).toBe("RESULT_FILE_TOO_LARGE");
    expect(err.message).toBe("variable BIG (/big) is larger than 1000 bytes");
  });

  it("reports a failing command with its output", async () => {
    const failing = def(sh("echo the reason >&2; exit 3"));
    const err = await failure(readFileFromDefinition(control, failing, "/out", { sharedKey, name: "variables" }));
    expect(err.code).toBe("STEP_FAILED");
    expect(err.message).toContain("variables: step");
    expect(err.message).toContain("exit code: 3");
    expect(err.message).toContain("the reason");
  });

  it("reports a file the result does not have", async () => {
    const err = await failure(readFilesFromDefinitions(control, [{ definition: def(sh("true")), path: "/nope", label: "variable X" }], { sharedKey }));
    expect(err.code).toBe("RESULT_FILE_MISSING");
    expect(err.message).toBe("cannot read variable X (/nope): no such file in the result");
  });

  it("reports a path that is a directory, and passes on the daemon's reason for a path it cannot open", async () => {
    const tree = def(sh(`mkdir -p /dir && echo ${Date.now()} > /file`));
    const directory = await failure(readFilesFromDefinitions(control, [{ definition: tree, path: "/dir", label: "variable D" }], { sharedKey }));
    expect(directory.code).toBe("RESULT_NOT_A_FILE");
    expect(directory.message).toBe("cannot read variable D (/dir): not a regular file");
    const throughFile = await failure(readFilesFromDefinitions(control, [{ definition: tree, path: "/file/below" }], { sharedKey }));
    expect(throughFile.code).toBe("GATEWAY_READ_FAILED");
    expect(throughFile.message).toMatch(/\/file\/below: not a directory$/);
  });

  it("ends the build with the callback's error and reports that error", async () => {
    const thrown = new Error("the callback gave up");
    const outcome = await withGatewayBuild(control, { name: "gives up", sharedKey }, async () => {
      throw thrown;
    }).catch((err: unknown) => err);
    expect(outcome).toBe(thrown);
    // The daemon is fine afterwards.
    const value = await withGatewayBuild(control, { name: "after", sharedKey }, async (bridge) => bridge.pong?.Workers?.length);
    expect(value).toBeGreaterThan(0);
  });

  it("is cancelled with its signal, calls in flight included", async () => {
    const abort = new AbortController();
    const started = Date.now();
    const build = withGatewayBuild(control, { name: "slow", sharedKey, signal: abort.signal }, (bridge) =>
      readFilesWith(bridge, [{ definition: def(sh(`sleep 60; echo ${started} > /late`)), path: "/late" }]),
    );
    setTimeout(() => abort.abort(), 1_000);
    const err = await failure(build);
    expect(err.code).toBe("CANCELLED");
    expect(err.message).toBe("slow was cancelled");
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe("calls the daemon refuses", () => {
  it("fail with the code of the gateway call, and the daemon's reason", async () => {
    const missing = `${registry}/brewkit/missing-${Date.now()}:1`;
    const errors = await withGatewayBuild(control, { name: "refused calls", sharedKey }, async (bridge) => ({
      solve: await failure(bridge.solve(def(image(missing)), { evaluate: true })),
      resolve: await failure(bridge.resolveImageConfig(missing, platform)),
      release: await failure(bridge.releaseContainer("no-such-container")),
      read: await failure(bridge.readFile("no-such-result", "/file")),
      // A result naming nothing this build made: refused, and the build still ends normally.
      return: await failure(bridge.return({ result: { ref: { id: "no-such-result" } } })),
    }));
    expect([errors.solve.code, errors.solve.message]).toEqual(["GATEWAY_SOLVE_FAILED", expect.stringContaining(`${missing}: not found`)]);
    expect([errors.resolve.code, errors.resolve.message]).toEqual(["GATEWAY_RESOLVE_FAILED", expect.stringContaining(`${missing}: not found`)]);
    expect([errors.release.code, errors.release.message]).toEqual(["GATEWAY_CONTAINER_FAILED", expect.stringContaining("no-such-container not found")]);
    expect([errors.read.code, errors.read.message]).toEqual(["GATEWAY_READ_FAILED", expect.stringContaining("no such ref: no-such-result")]);
    expect([errors.return.code, errors.return.message]).toEqual(["GATEWAY_RETURN_FAILED", expect.stringContaining("no-such-result not found")]);
    for (const error of Object.values(errors)) expect(error.hint?.length).toBeGreaterThan(5);
  });

  it("fail with GATEWAY_UNAVAILABLE when the gateway does not know the build", async () => {
    const err = await failure(new GatewayClient(control, `no-such-build-${Date.now()}`).ping());
    expect(err.code).toBe("GATEWAY_UNAVAILABLE");
    expect(err.message).toMatch(/no such job no-such-build-\d+$/);
  });

  it("fail with DAEMON_ERROR when the daemon refuses a Control call", async () => {
    const err = await failure(control.diskUsage({ filter: ["=="] }));
    expect(err.code).toBe("DAEMON_ERROR");
    expect(err.message).toContain("failed to parse diskusage filters");
  });
});
