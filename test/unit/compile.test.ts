import { describe, expect, it } from "vitest";
import { compileTarget, type CompileOptions } from "../../src/compile/index.ts";
import { cache, secret, target, type Target } from "../../src/model/index.ts";
import { createPlan, type PlanInput } from "../../src/plan/index.ts";

function input(targets: Record<string, Target>): PlanInput {
  return { configFile: "/project/brewkit.config.ts", projectDir: "/project", targets: new Map(Object.entries(targets)), groups: new Map(), defaultName: undefined, ignorePatterns: [] };
}

const platform = { OS: "linux", Architecture: "amd64" };

describe("compileTarget across the targets of a plan", () => {
  const base = target({ from: "busybox", copy: "tools", env: { A: "1" }, command: "make tools", cache: [cache("tools", "/root/.cache")] });
  const lib = target({ from: base, copy: "lib", command: "make lib", secrets: [secret("token", { env: "TOKEN" })] });
  const app = target({ from: base, copy: ["src", { from: lib, src: "/out", dest: "/lib" }], command: "make app", network: "host", output: { artifact: "bin", local: "dist" } });
  const test = target({ from: app, command: "make test", ssh: true });
  const targets = { base, lib, app, test };

  it("gives every target the same jobs whether the options object is shared or not", () => {
    const plan = createPlan(input(targets), Object.keys(targets));
    const shared: CompileOptions = { platform, runId: "r" };
    const withShared = plan.requested.map((name) => compileTarget(plan, name, shared));
    const fresh = plan.requested.map((name) => compileTarget(plan, name, { platform, runId: "r" }));
    expect(withShared).toEqual(fresh);
    // Dependencies come with their needs: the secret of lib and the entitlement of app reach test.
    const testJob = withShared[plan.requested.indexOf("test")]!.build[0]!;
    expect([...testJob.localDirs.keys()].length).toBe(3);
    expect(testJob.requirements.secrets.map((s) => s.id)).toEqual(["token"]);
    expect(testJob.requirements.entitlements).toEqual(["network.host"]);
    expect(testJob.requirements.ssh.map((s) => s.id)).toEqual(["default"]);
  });

  it("encodes a base shared by many targets once, to the same bytes", () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, target({ from: base, command: `echo ${i}` })]));
    const plan = createPlan(input({ base, ...many }), Object.keys(many));
    const options: CompileOptions = { platform, runId: "r" };
    const defs = plan.requested.map((name) => compileTarget(plan, name, options).build[0]!.definition);
    const baseOps = defs.map((d) => d.def.slice(0, -2));
    for (const ops of baseOps) expect(ops).toEqual(baseOps[0]);
    // The same bytes, not just equal ones: the base was encoded once.
    expect(baseOps[1]![0]).toBe(baseOps[0]![0]);
  });

  it("with ignoreCache marks every op of every job, and changes nothing else", () => {
    const plan = createPlan(input(targets), Object.keys(targets));
    for (const name of plan.requested) {
      const plain = compileTarget(plan, name, { platform, runId: "r" }).build[0]!.definition;
      const fresh = compileTarget(plan, name, { platform, runId: "r", ignoreCache: true }).build[0]!.definition;
      // The ops themselves (and so their digests) are the same; only the metadata differs.
      expect(fresh.def).toEqual(plain.def);
      for (const digest of fresh.digests.slice(0, -1)) {
        expect(fresh.metadata[digest]?.ignore_cache, `${name} ${digest}`).toBe(true);
        expect(plain.metadata[digest]?.ignore_cache ?? false).toBe(false);
      }
    }
  });
});
