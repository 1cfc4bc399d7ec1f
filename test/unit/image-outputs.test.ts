import path from "node:path";
import { describe, expect, it } from "vitest";
import { compileTarget } from "../../src/compile/index.ts";
import { BrewkitError } from "../../src/errors.ts";
import { cache, fmt, target, variable, type Target } from "../../src/model/index.ts";
import { createPlan, type PlanInput } from "../../src/plan/index.ts";

const projectDir = "/project";
const amd64 = { OS: "linux", Architecture: "amd64" };

function input(targets: Record<string, Target>): PlanInput {
  return { configFile: path.join(projectDir, "brewkit.config.ts"), projectDir, targets: new Map(Object.entries(targets)), groups: new Map(), defaultName: undefined, ignorePatterns: [] };
}

function errorOf(fn: () => unknown): BrewkitError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BrewkitError) return err;
    throw err;
  }
  throw new Error("expected an error, nothing was thrown");
}

const baseConfig = {
  env: [["PATH", "/usr/bin:/bin"], ["FROM_BASE", "1"]] as Array<[string, string]>,
  workdir: "/base",
  user: "base",
  raw: {
    architecture: "amd64",
    os: "linux",
    created: "2020-01-01T00:00:00Z",
    rootfs: { type: "layers", diff_ids: ["sha256:aa"] },
    history: [{ created_by: "base layer" }],
    config: { Env: ["PATH=/usr/bin:/bin", "FROM_BASE=1"], WorkingDir: "/base", User: "base", Entrypoint: ["/base-entry"], Cmd: ["base-cmd"], Labels: { a: "base", b: "base" }, ExposedPorts: { "80/tcp": {} }, StopSignal: "SIGQUIT" },
  },
};

/** The image config a target's image is exported with, compiled from the plan. */
function exportedConfig(targets: Record<string, Target>, name: string, variables = new Map()) {
  const plan = createPlan(input(targets), [name]);
  const compiled = compileTarget(plan, name, { platform: amd64, imageConfigs: new Map([["debian:bookworm", baseConfig]]), variables, runId: "r" });
  const job = compiled.build.find((j) => j.image)!;
  return { job, config: JSON.parse(job.image!.attrs["containerimage.config"]!) };
}

describe("the config of an image made of a target", () => {
  it("carries the base's config and history over, with env, workdir and user as the steps saw them", () => {
    const app = target({ from: "debian:bookworm", workdir: "/srv", env: { MODE: "prod" }, labels: { b: "app", c: "app" }, expose: [8080, "53/udp"], output: { image: "reg.example.com/app:1", push: true } });
    const { job, config } = exportedConfig({ app }, "app");
    expect(job.image).toMatchObject({ type: "image", names: ["reg.example.com/app:1"], push: true });
    expect(job.image!.attrs).toMatchObject({ name: "reg.example.com/app:1", push: "true" });
    expect(config.config).toEqual({
      Env: ["PATH=/usr/bin:/bin", "FROM_BASE=1", "MODE=prod"],
      WorkingDir: "/srv",
      User: "base",
      Entrypoint: ["/base-entry"],
      Cmd: ["base-cmd"],
      Labels: { a: "base", b: "app", c: "app" },
      ExposedPorts: { "80/tcp": {}, "8080/tcp": {}, "53/udp": {} },
      StopSignal: "SIGQUIT",
    });
    expect(config.history).toEqual([{ created_by: "base layer" }]);
    expect(config.rootfs).toBeUndefined();
    expect(config.created).toBeUndefined();
    expect(config.architecture).toBe("amd64");
  });

  it("an entrypoint clears the inherited command, as in a Dockerfile; a shell string runs with /bin/sh -c; through a chain of targets", () => {
    const mid = target({ from: "debian:bookworm", entrypoint: "exec /app/run", user: "1000" });
    const app = target({ from: mid, labels: { v: fmt`v${variable({ from: "debian:bookworm", command: "cat VERSION" })}` }, output: { image: "reg.example.com/app:1" } });
    const plan = createPlan(input({ mid, app }), ["app"]);
    const version = [...plan.variables.keys()][0]!;
    const { config, job } = exportedConfig({ mid, app }, "app", new Map([[version, "1.2"]]));
    expect(config.config.Entrypoint).toEqual(["/bin/sh", "-c", "exec /app/run"]);
    expect(config.config.Cmd).toBeUndefined();
    expect(config.config.User).toBe("1000");
    expect(config.config.Labels).toEqual({ a: "base", b: "base", v: "v1.2" });
    expect(job.image!.attrs.push).toBeUndefined();
  });
});

describe("image and archive outputs are checked", () => {
  it.each([
    [{ image: "Not A Ref" }, "output[0].image", "is not a valid image name"],
    [{ image: [] }, "output[0].image", "names no image"],
    [{ image: "reg/app:1", push: "yes" }, "output[0].push", "must be true or false"],
    [{ tarball: "dist/app.tar", format: "zip" }, "output[0].format", 'must be "docker" or "oci"'],
    [{ tarball: "dist/app.tar" }, "output[0].format", "is missing"],
    [{ tarball: "dist/", format: "oci" }, "output[0].tarball", "names a directory"],
    [{ tarball: "../app.tar", format: "oci" }, "output[0].tarball", "is outside the project directory"],
    [{ nothing: true }, "output[0]", "needs `artifact` and `local`, `image`, or `tarball` and `format`"],
  ])("%j → %s", (output, field, message) => {
    const t = target({ from: "debian:bookworm", output: output as never });
    const err = errorOf(() => createPlan(input({ t }), ["t"]));
    expect(err.context.field).toBe(field);
    expect(err.message).toContain(message);
    expect(err.hint).toBeTruthy();
  });

  it.each([
    [{ expose: [70000] }, "expose[0]", "is not a port"],
    [{ expose: ["80/http"] }, "expose[0]", "is not a port"],
    [{ entrypoint: "" }, "entrypoint", "is an empty command"],
    [{ cmd: [1] }, "cmd", "must be a list of strings"],
    [{ labels: ["a"] }, "labels", "must be an object"],
    [{ platform: [] }, "platform", "is an empty list"],
    [{ platform: ["linux/amd64", "linux/amd64"] }, "platform", "names linux/amd64 twice"],
    [{ platform: ["linux/amd64", "linux/nope"] }, "platform[1]", 'unknown architecture "nope"'],
    [{ platform: ["linux/amd64", "linux/386"], output: { artifact: "/out", local: "dist" } }, "output[0]", "a target built for several platforms cannot"],
    [{ platform: ["linux/amd64", "linux/386"], output: [{ image: "r/a:1" }, { tarball: "a.tar", format: "docker" }] }, "output[1].format", "whose archives hold one platform"],
  ])("%j → %s", (spec, field, message) => {
    const t = target({ from: "debian:bookworm", ...(spec as object) });
    const err = errorOf(() => createPlan(input({ t }), ["t"]));
    expect(err.context.field).toBe(field);
    expect(err.message).toContain(message);
  });

  it("a target for several platforms cannot mirror a cache to a host folder", () => {
    const app = target({ from: "debian:bookworm", platform: ["linux/amd64", "linux/arm64"], cache: [cache("deps", "/deps", { hostDir: ".cache/deps" })], command: "make", output: { image: "r/a:1" } });
    const plan = createPlan(input({ app }), ["app"]);
    const err = errorOf(() => compileTarget(plan, "app", { platform: amd64, runId: "r" }));
    expect(err.code).toBe("PLATFORMS_CACHE_HOSTDIR");
    expect(err.message).toContain('cache "deps"');
  });

  it("a target for several platforms compiles one job holding each platform's build and config", () => {
    const app = target({ from: "debian:bookworm", platform: ["linux/amd64", "linux/arm64"], command: "make", output: { image: "reg.example.com/app:1", push: true } });
    const plan = createPlan(input({ app }), ["app"]);
    const arm = new Map([["debian:bookworm", { ...baseConfig, raw: { ...baseConfig.raw, architecture: "arm64" } }]]);
    const compiled = compileTarget(plan, "app", { platform: amd64, imageConfigs: new Map([["debian:bookworm", baseConfig]]), imageConfigsByPlatform: new Map([["linux/arm64", arm]]), runId: "r" });
    expect(compiled.build).toHaveLength(1);
    const platforms = compiled.build[0]!.platforms!;
    expect(platforms.map((p) => p.platform.Architecture)).toEqual(["amd64", "arm64"]);
    expect(platforms.map((p) => JSON.parse(p.config).architecture)).toEqual(["amd64", "arm64"]);
    expect(platforms[0]!.definition.digests).not.toEqual(platforms[1]!.definition.digests);
    expect(compiled.build[0]!.image!.attrs["containerimage.config"]).toBeUndefined();
  });
});
