// The daemon's typed error details (grpc-status-details-bin), source locations in the LLB,
// and the structured error of a failed step made from them.
import { describe, expect, it } from "vitest";
import { decodeErrorDetails, errorDetailsOf } from "../../src/client/error-details.ts";
import { GrpcCallError } from "../../src/client/grpc-connection.ts";
import { callLines } from "../../src/compile/call-range.ts";
import { StepFailedError } from "../../src/errors.ts";
import { image, marshal, type SourceMap } from "../../src/llb/index.ts";
import { ProgressTracker } from "../../src/progress/index.ts";
import type { Google_Rpc_Status as RpcStatus } from "../../src/proto/generated.ts";
import { codecFor } from "../../src/proto/registry.ts";
import { failedStep } from "../../src/solve/step-failure.ts";

const platform = { OS: "linux", Architecture: "amd64" };
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

// Details as buildkitd v0.32 sends them for a failed exec of a gateway solve (taken from a real daemon).
const configText = 'import { target } from "brewkit";\n\nexport const fail = target({\n  from: base,\n  command: "exit 7",\n});\n';
const execOp = {
  inputs: [{ digest: "sha256:ec2e" }],
  exec: {
    meta: { args: ["/bin/sh", "-c", "exit 7"], cwd: "/src", removeMountStubsRecursive: true },
    mounts: [{ dest: "/" }, { input: "-1", dest: "/cache", output: "-1", mountType: "CACHE", cacheOpt: { ID: "c1", sharing: "LOCKED" } }],
    network: "NONE",
    secretenv: [{ ID: "token", name: "TOKEN" }],
  },
  platform: { Architecture: "amd64", OS: "linux" },
  constraints: {},
};
function statusBytes(details: Array<{ type_url: string; value: Buffer }>, message = 'process "/bin/sh -c exit 7" did not complete successfully: exit code: 7'): Buffer {
  return codecFor<RpcStatus>("google.rpc.Status").encode({ code: 2, message, details });
}
const realDetails = [
  { type_url: "github.com/moby/buildkit/stack.Stack+json", value: json({ frames: [{ Name: "runcexecutor.exitError", File: "executor/runcexecutor/executor.go", Line: 434 }], pid: 42, version: "v0.32.2" }) },
  { type_url: "github.com/moby/buildkit/errdefs.Source+json", value: json({ info: { filename: "brewkit.config.ts", data: Buffer.from(configText).toString("base64") }, ranges: [{ start: { line: 3 }, end: { line: 6 } }] }) },
  { type_url: "github.com/moby/buildkit/errdefs.Solve+json", value: json({ inputIDs: ["w::in0", ""], mountIDs: ["w::out0", ""], op: execOp, description: { "llb.customname": "[fail] exit 7" } }) },
  { type_url: "github.com/moby/buildkit/errdefs.Vertex+json", value: json({ digest: "sha256:3d81" }) },
  { type_url: "github.com/moby/buildkit/gatewayapi.ExitMessage+json", value: json({ Code: 7 }) },
];

describe("the daemon's error details", () => {
  it("decodes the failed vertex, its config location, the gateway's mounts, the exit code and the daemon's stack", () => {
    const details = decodeErrorDetails(statusBytes(realDetails));
    expect(details.vertex).toBe("sha256:3d81");
    expect(details.sources).toEqual([{ filename: "brewkit.config.ts", line: 3, endLine: 6 }]);
    expect(details.exitCode).toBe(7);
    expect(details.solve?.mountIds).toEqual(["w::out0", ""]);
    expect(details.solve?.inputIds).toEqual(["w::in0", ""]);
    expect(details.solve?.description["llb.customname"]).toBe("[fail] exit 7");
    // The op as protobuf values: enums as numbers, 64-bit integers as numbers.
    expect(details.solve?.op.exec?.network).toBe(2);
    expect(details.solve?.op.exec?.mounts?.[1]).toMatchObject({ input: -1, output: -1, dest: "/cache", mountType: 3, cacheOpt: { ID: "c1", sharing: 2 } });
    expect(details.solve?.op.exec?.secretenv).toEqual([{ ID: "token", name: "TOKEN" }]);
    expect(details.stacks[0]).toContain("runcexecutor.exitError\n\texecutor/runcexecutor/executor.go:434");
    expect(details.stacks[0]).toContain("buildkitd v0.32.2, pid 42");
  });

  it("reads details sent as protobuf bytes too, and skips unknown and malformed ones", () => {
    const vertex = codecFor<{ digest: string }>("errdefs.Vertex").encode({ digest: "sha256:beef" });
    const details = decodeErrorDetails(
      statusBytes([
        { type_url: "type.googleapis.com/some.Other", value: Buffer.from("x") },
        { type_url: "github.com/moby/buildkit/errdefs.Source+json", value: Buffer.from("{not json") },
        { type_url: "github.com/moby/buildkit/gatewayapi.ExitMessage+json", value: json({ Code: "many" }) },
        { type_url: "github.com/moby/buildkit/errdefs.Vertex", value: vertex },
      ]),
    );
    expect(details).toEqual({ message: expect.any(String), vertex: "sha256:beef", sources: [], stacks: [] });
  });

  it("are found on the failed call anywhere in an error's causes", () => {
    const call = new GrpcCallError(2, "exit code: 7", "/moby.buildkit.v1.Control/Solve", statusBytes(realDetails));
    const wrapped = new Error("outer", { cause: new Error("middle", { cause: call }) });
    expect(errorDetailsOf(wrapped)?.vertex).toBe("sha256:3d81");
    expect(errorDetailsOf(new Error("no call"))).toBeUndefined();
  });
});

describe("a failed step's error", () => {
  const tracker = () => {
    const t = new ProgressTracker();
    const ts = { seconds: 1, nanos: 0 };
    t.update({
      vertexes: [
        { digest: "sha256:aaaa", name: "[other] fine", started: ts, completed: ts },
        { digest: "sha256:3d81", name: "[fail] exit 7", started: ts, completed: ts, error: 'process "/bin/sh -c exit 7" did not complete successfully: exit code: 7' },
      ],
      logs: [{ vertex: "sha256:3d81", stream: 1, msg: Buffer.from("first\nlast words\n"), timestamp: ts }],
    });
    return t;
  };

  it("holds the target, step, command, exit code, last lines and config location, and says them in its message", () => {
    const error = new GrpcCallError(2, "exit code: 7", "/moby.buildkit.v1.frontend.LLBBridge/Solve", statusBytes(realDetails));
    const step = failedStep({ target: "fail", error, tracker: tracker() });
    expect(step).toBeInstanceOf(StepFailedError);
    expect(step!.failure).toEqual({
      target: "fail",
      step: "[fail] exit 7",
      command: ["/bin/sh", "-c", "exit 7"],
      exitCode: 7,
      reason: 'process "/bin/sh -c exit 7" did not complete successfully: exit code: 7',
      lastLines: ["first", "last words"],
      location: { file: "brewkit.config.ts", line: 3, endLine: 6 },
    });
    expect(step!.code).toBe("STEP_FAILED");
    expect(step!.message).toBe('brewkit.config.ts:3: target "fail": step "[fail] exit 7" failed: process "/bin/sh -c exit 7" did not complete successfully: exit code: 7\n--- last output of the step ---\nfirst\nlast words');
    expect(step!.context).toEqual({ target: "fail", file: "brewkit.config.ts", line: 3 });
  });

  it("finds the command in the solved definition when the daemon sends no op (a plain Solve)", () => {
    const definition = marshal(image("busybox").run({ args: ["sh", "-c", "exit 7"] }).root(), { platform });
    const execDigest = definition.digests.at(-2)!;
    const details = realDetails.filter((d) => !d.type_url.includes("errdefs.Solve")).map((d) => (d.type_url.includes("Vertex") ? { ...d, value: json({ digest: execDigest }) } : d));
    const error = new GrpcCallError(2, "exit code: 7", "/moby.buildkit.v1.Control/Solve", statusBytes(details));
    const step = failedStep({ target: "fail", error, tracker: new ProgressTracker(), definition });
    expect(step!.failure.command).toEqual(["sh", "-c", "exit 7"]);
    expect(step!.failure.step).toBe(execDigest);
  });

  it("is not made when neither the daemon nor the progress names a failed step", () => {
    expect(failedStep({ target: "x", error: new GrpcCallError(2, "boom", "/m", statusBytes([])), tracker: new ProgressTracker() })).toBeUndefined();
  });
});

describe("source locations in the LLB", () => {
  const source: SourceMap = { filename: "brewkit.config.ts", data: Buffer.from(configText), language: "TypeScript" };
  const at = (start: number, end: number) => [{ source, ranges: [{ start: { line: start, character: 0 }, end: { line: end, character: 0 } }] }];

  it("go into Definition.Source, each file once, each op's locations under its digest", () => {
    const base = image("busybox", { locations: at(1, 2) });
    const def = marshal(base.run({ args: ["true"], locations: at(3, 6) }).root(), { platform });
    const [imageDigest, execDigest] = def.digests;
    expect(def.Source?.infos).toEqual([{ filename: "brewkit.config.ts", data: source.data, language: "TypeScript" }]);
    expect(def.Source?.locations).toEqual({
      [imageDigest!]: { locations: [{ sourceIndex: 0, ranges: [{ start: { line: 1, character: 0 }, end: { line: 2, character: 0 } }] }] },
      [execDigest!]: { locations: [{ sourceIndex: 0, ranges: [{ start: { line: 3, character: 0 }, end: { line: 6, character: 0 } }] }] },
    });
    // Locations never change an op's bytes or its metadata.
    const plain = marshal(image("busybox").run({ args: ["true"] }).root(), { platform });
    expect(plain.Source).toBeUndefined();
    expect(plain.def).toEqual(def.def);
    expect(plain.metadata).toEqual(def.metadata);
  });

  it("of two identical ops written in two places are both kept", () => {
    const a = image("busybox", { locations: at(1, 1) });
    const b = image("busybox", { locations: at(5, 5) });
    const def = marshal(a.run({ args: ["cp", "-r", "/x", "/y"], mounts: [{ type: "bind", dest: "/x", source: b }] }).root(), { platform });
    expect(def.Source?.locations?.[def.digests[0]!]?.locations?.map((l) => l.ranges?.[0]?.start?.line)).toEqual([1, 5]);
  });
});

describe("the lines of a call", () => {
  const text = [
    'import { target } from "brewkit";', // 1
    "export const a = target({ from: base, command: 'echo (' });", // 2
    "export const b = target({", // 3
    '  command: "echo ) } ]",', // 4
    "  // a comment with )", // 5
    "  /* and ) here */ env: { X: `a ${(() => ')')()} b` },", // 6
    "});", // 7
    "export const c = group(a, b); export const d = target({", // 8
    "  from: c,", // 9
    "});", // 10
  ].join("\n");

  it("run from the call to its closing parenthesis, past strings, templates and comments", () => {
    expect(callLines(text, 2)).toEqual({ start: 2, end: 2 });
    expect(callLines(text, 3)).toEqual({ start: 3, end: 7 });
  });

  it("start at the column the stack names, and fall back to the line's first call", () => {
    expect(callLines(text, 8, 48)).toEqual({ start: 8, end: 10 });
    expect(callLines(text, 8)).toEqual({ start: 8, end: 8 });
    expect(callLines(text, 8, 500)).toEqual({ start: 8, end: 8 });
  });

  it("are the one line when the call cannot be followed", () => {
    expect(callLines("x = target({ a: /(/ })\n", 1)).toEqual({ start: 1, end: 1 });
    expect(callLines("target({\n", 1)).toEqual({ start: 1, end: 1 });
    expect(callLines("short", 9)).toEqual({ start: 9, end: 9 });
  });
});
