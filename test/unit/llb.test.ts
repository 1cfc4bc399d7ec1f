import { describe, expect, it } from "vitest";
import {
  copy,
  definitionToJSON,
  digestOf,
  encodeMessage,
  encodeOp,
  image,
  local,
  marshal,
  mkdir,
  mkfile,
  normalizeImageRef,
  normalizePlatform,
  parsePlatform,
  scratch,
  type Definition,
  type State,
} from "../../src/llb/index.ts";
import { cleanPath, joinPath } from "../../src/gopath/index.ts";
import { compareUtf8 } from "../../src/proto/order.ts";
import { parseProtoFiles } from "../../src/proto/parse.ts";
import { codecFor } from "../../src/proto/registry.ts";
import type { Pb_Definition, Pb_ExecOp, Pb_FileOp, Pb_Op, Pb_SourceOp } from "../../src/proto/generated.ts";

const amd64 = { OS: "linux", Architecture: "amd64" };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const opCodec = codecFor<Pb_Op>("pb.Op");

/** The decoded ops of a definition, terminator excluded. */
function ops(def: Definition): Pb_Op[] {
  return def.def.slice(0, -1).map((b) => opCodec.decode(b));
}

function onlyExec(st: State): Pb_ExecOp {
  const execs = ops(marshal(st, { platform: amd64 })).filter((o) => o.exec);
  expect(execs).toHaveLength(1);
  return execs[0]!.exec!;
}

describe("image references", () => {
  it("expands Docker Hub short names to fully qualified, tagged references", () => {
    expect(normalizeImageRef("busybox")).toBe("docker.io/library/busybox:latest");
    expect(normalizeImageRef("golang:1.26")).toBe("docker.io/library/golang:1.26");
    expect(normalizeImageRef("org/app")).toBe("docker.io/org/app:latest");
  });

  it("keeps other registries, including localhost with a port", () => {
    expect(normalizeImageRef("localhost:5000/x")).toBe("localhost:5000/x:latest");
    expect(normalizeImageRef("ghcr.io/org/app:v1")).toBe("ghcr.io/org/app:v1");
  });

  it("keeps a digest and adds no tag next to it", () => {
    const d = "sha256:" + "c".repeat(64);
    expect(normalizeImageRef(`alpine@${d}`)).toBe(`docker.io/library/alpine@${d}`);
    expect(normalizeImageRef(`alpine:3@${d}`)).toBe(`docker.io/library/alpine:3@${d}`);
  });

  it("rejects malformed references with a user error", () => {
    expect(() => normalizeImageRef("Alpine")).toThrow(/invalid image reference "Alpine"/);
    expect(() => normalizeImageRef(`alpine@sha256:${"1".repeat(32)}`)).toThrow(/invalid digest length/);
    expect(() => normalizeImageRef("alpine@sha256:123")).toThrow(/invalid reference format/);
    expect(() => image("foo::bar")).toThrow(/invalid image reference/);
  });

  it("writes the normalized reference into the source identifier", () => {
    const [op] = ops(marshal(image("busybox"), { platform: amd64 }));
    expect(op!.source!.identifier).toBe("docker-image://docker.io/library/busybox:latest");
  });
});

describe("States are immutable values", () => {
  it("returns a new State from every method and leaves the original untouched", () => {
    const base = image("alpine");
    const derived = base.dir("/src").env("A", "1").user("app").network("none");
    expect(base.getDir()).toBe("/");
    expect(base.getEnv("A")).toBeUndefined();
    expect(base.getUser()).toBeUndefined();
    expect(base.getNetwork()).toBe("sandbox");
    expect(derived.getDir()).toBe("/src");
    expect(derived.getEnv("A")).toBe("1");
    expect(derived.getUser()).toBe("app");
    expect(derived.getNetwork()).toBe("none");
  });

  it("adds no vertex for metadata: the graph of a re-configured State is unchanged", () => {
    const base = image("alpine");
    const a = marshal(base, { platform: amd64 });
    const b = marshal(base.dir("/x").env("K", "V").user("u"), { platform: amd64 });
    expect(b.digests).toEqual(a.digests);
  });

  it("does not let a run's own options leak into the result", () => {
    const result = image("alpine").dir("/a").run({ args: ["x"], cwd: "/elsewhere", env: { ONLY: "run" }, user: "root" });
    expect(result.getDir()).toBe("/a");
    expect(result.getEnv("ONLY")).toBeUndefined();
    expect(result.getUser()).toBeUndefined();
  });

  it("keeps the State's metadata on a run's result", () => {
    const result = image("alpine").dir("/a").env("K", "V").run({ args: ["x"] });
    expect(result.root().getDir()).toBe("/a");
    expect(result.root().getEnv("K")).toBe("V");
  });
});

describe("working directory", () => {
  it("joins relative paths to the current dir and cleans them", () => {
    expect(scratch().dir("/src").dir("cmd/../app").getDir()).toBe("/src/app");
    expect(scratch().dir("..").getDir()).toBe("/");
  });

  it("keeps absolute paths verbatim, like Go's llb", () => {
    expect(scratch().dir("/src").dir("/opt//x/").getDir()).toBe("/opt//x/");
  });

  it("resolves relative file-action paths against it", () => {
    const def = marshal(scratch().dir("/app").file(mkdir("data", 0o755).mkfile("data/f", 0o644, "x")), { platform: amd64 });
    const file = ops(def)[0]!.file as Pb_FileOp;
    expect(file.actions!.map((a) => a.mkdir?.path ?? a.mkfile?.path)).toEqual(["/app/data", "/app/data/f"]);
  });

  it("gives runs its dir as cwd and joins a relative cwd option", () => {
    expect(onlyExec(image("alpine").dir("/src").run({ args: ["ls"] })).meta!.cwd).toBe("/src");
    expect(onlyExec(image("alpine").dir("/src").run({ args: ["ls"], cwd: "sub" })).meta!.cwd).toBe("/src/sub");
  });
});

describe("environment", () => {
  it("keeps insertion order and moves a re-set key to the end", () => {
    const st = image("alpine").env("A", "1").env("B", "2").env("A", "3");
    expect(st.getEnvList()).toEqual([["B", "2"], ["A", "3"]]);
    expect(onlyExec(st.run({ args: ["env"] })).meta!.env).toEqual(["B=2", "A=3"]);
  });

  it("adds a run's env after the State's, overriding same keys", () => {
    const exec = onlyExec(image("alpine").envs({ A: "1", B: "2" }).run({ args: ["env"], env: { A: "x", C: "3" } }));
    expect(exec.meta!.env).toEqual(["B=2", "A=x", "C=3"]);
  });

  it("points SSH_AUTH_SOCK at the first forwarded agent unless it is already set", () => {
    const ssh = [{ type: "ssh" as const }, { type: "ssh" as const, dest: "/run/two.sock" }];
    expect(onlyExec(image("alpine").run({ args: ["ssh"], mounts: ssh })).meta!.env).toEqual(["SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0"]);
    expect(onlyExec(image("alpine").env("SSH_AUTH_SOCK", "/mine").run({ args: ["ssh"], mounts: ssh })).meta!.env).toEqual([
      "SSH_AUTH_SOCK=/mine",
    ]);
  });
});

describe("run", () => {
  it("turns a shell string into /bin/sh -c", () => {
    expect(onlyExec(image("alpine").run({ shell: "echo hi && ls" })).meta!.args).toEqual(["/bin/sh", "-c", "echo hi && ls"]);
  });

  it("requires exactly one of args and shell", () => {
    expect(() => image("alpine").run({})).toThrow(/needs a command/);
    expect(() => image("alpine").run({ args: [] })).toThrow(/needs a command/);
    expect(() => image("alpine").run({ args: ["a"], shell: "b" })).toThrow(/either args or shell/);
  });

  it("sorts mounts by destination and numbers writable outputs in that order", () => {
    const exec = onlyExec(
      image("alpine").run({
        args: ["x"],
        mounts: [
          { type: "bind", dest: "/z", source: scratch() },
          { type: "cache", dest: "/b", id: "c" },
          { type: "bind", dest: "/a", source: scratch() },
        ],
      }),
    );
    expect(exec.mounts!.map((m) => [m.dest, m.output ?? 0])).toEqual([["/", 0], ["/a", 1], ["/b", -1], ["/z", 2]]);
  });

  it("refers to a mount's result by its output index", () => {
    const es = image("alpine").run({ args: ["x"], mounts: [{ type: "bind", dest: "/out", source: scratch() }] });
    const def = marshal(es.mount("/out"), { platform: amd64 });
    const terminator = opCodec.decode(def.def.at(-1)!);
    expect(terminator.inputs).toEqual([{ digest: def.digests.at(-2), index: 1 }]);
  });

  it("refuses to build on mounts that have no output", () => {
    const es = image("alpine").run({
      args: ["x"],
      mounts: [
        { type: "tmpfs", dest: "/tmp" },
        { type: "cache", dest: "/c", id: "c" },
      ],
    });
    expect(() => es.mount("/tmp")).toThrow(/tmpfs mount at \/tmp has no output/);
    expect(() => es.mount("/c")).toThrow(/cache mount/);
    expect(() => es.mount("/nope")).toThrow(/no mount at \/nope/);
  });

  it("gives a read-only mount's State back unchanged", () => {
    const src = local("src", { sessionId: "s" });
    const es = image("alpine").run({ args: ["x"], mounts: [{ type: "bind", dest: "/src", source: src, readonly: true }] });
    expect(marshal(es.mount("/src"), { platform: amd64 }).digests).toEqual(marshal(src, { platform: amd64 }).digests);
  });

  it("declares the capabilities its options need", () => {
    const def = marshal(image("alpine").network("host").run({ args: ["x"], validExitCodes: [0, 2], mounts: [{ type: "tmpfs", dest: "/t", size: 1024 }] }), {
      platform: amd64,
    });
    const execDigest = def.digests.at(-2)!;
    expect(Object.keys(def.metadata[execDigest]!.caps!).sort()).toEqual([
      "exec.meta.base",
      "exec.meta.network",
      "exec.mount.bind",
      "exec.mount.tmpfs",
      "exec.mount.tmpfs.size",
      "exec.validexitcode",
    ]);
  });
});

describe("local sources", () => {
  it("marks a session-less local source unique only with a caller-given id", () => {
    const attrs = (def: Definition) => (ops(def)[0]!.source as Pb_SourceOp).attrs ?? {};
    expect(attrs(marshal(local("ctx"), { platform: amd64 }))).toEqual({});
    expect(attrs(marshal(local("ctx"), { platform: amd64, localUniqueId: "u1" }))).toEqual({ "local.unique": "u1" });
    expect(attrs(marshal(local("ctx", { uniqueId: "own" }), { platform: amd64, localUniqueId: "u1" }))).toEqual({ "local.unique": "own" });
    expect(attrs(marshal(local("ctx", { sessionId: "s" }), { platform: amd64, localUniqueId: "u1" }))).toEqual({ "local.session": "s" });
  });

  it("serializes patterns as Go's encoding/json does", () => {
    const def = marshal(local("ctx", { excludePatterns: ["a<b", 'q"\n'] }), { platform: amd64 });
    expect((ops(def)[0]!.source as Pb_SourceOp).attrs!["local.excludepatterns"]).toBe('["a\\u003cb","q\\"\\n"]');
  });

  it("carries no platform (only images do)", () => {
    expect(ops(marshal(local("ctx"), { platform: amd64 }))[0]!.platform).toBeUndefined();
    expect(ops(marshal(image("alpine"), { platform: amd64 }))[0]!.platform).toMatchObject({ OS: "linux", Architecture: "amd64" });
  });
});

describe("platforms", () => {
  it("normalizes architecture aliases and default variants", () => {
    expect(normalizePlatform({ OS: "Linux", Architecture: "x86_64" })).toEqual({ OS: "linux", Architecture: "amd64" });
    expect(normalizePlatform({ OS: "linux", Architecture: "aarch64", Variant: "v8" })).toEqual({ OS: "linux", Architecture: "arm64" });
    expect(parsePlatform("linux/arm")).toEqual({ OS: "linux", Architecture: "arm", Variant: "v7" });
    expect(() => parsePlatform("linux")).toThrow(/invalid platform/);
  });

  it("runs on the image's platform, else on the marshal default", () => {
    const def = marshal(image("alpine", { platform: { OS: "linux", Architecture: "arm64" } }).run({ args: ["x"] }), { platform: amd64 });
    expect(ops(def).map((o) => o.platform?.Architecture)).toEqual(["arm64", "arm64"]);
    const def2 = marshal(image("alpine").run({ args: ["x"] }), { platform: { OS: "linux", Architecture: "s390x" } });
    expect(ops(def2).map((o) => o.platform?.Architecture)).toEqual(["s390x", "s390x"]);
  });
});

describe("deterministic encoding", () => {
  it("writes Op's oneof after platform and constraints", () => {
    const bytes = encodeOp({ source: { identifier: "x" }, platform: { Architecture: "a", OS: "o" }, constraints: {} });
    expect(hex(bytes)).toBe("5206" + "0a0161" + "12016f" + "5a00" + "1a03" + "0a0178");
  });

  it("omits default scalars but writes empty sub-messages", () => {
    expect(hex(encodeMessage("pb.Mount", { input: 0, selector: "", readonly: false, TmpfsOpt: {} }))).toBe("9a0100");
  });

  it("writes a oneof member even when it holds the default", () => {
    expect(hex(encodeMessage("pb.UserOpt", { byID: 0 }))).toBe("1000");
  });

  it("encodes negative int64 and int32 as ten-byte varints", () => {
    expect(hex(encodeMessage("pb.Input", { index: -1 }))).toBe("10ffffffffffffffffff01");
    expect(hex(encodeMessage("pb.FileActionCopy", { mode: -1 }))).toBe("20ffffffffffffffffff01");
  });

  it("packs repeated numbers", () => {
    expect(hex(encodeMessage("pb.Meta", { validExitCodes: [0, 1] }))).toBe("62020001");
  });

  it("sorts map entries by key bytes and always writes key and value", () => {
    const bytes = encodeMessage("pb.SourceOp", { attrs: { "local.unique": "x", "10": "a", "9": "b", "local.differ": "" } });
    const decoded = codecFor<Pb_SourceOp>("pb.SourceOp").decode(bytes);
    expect(decoded.attrs).toEqual({ "10": "a", "9": "b", "local.differ": "", "local.unique": "x" });
    // "10" < "9" < "local.differ" < "local.unique" byte-wise; the empty value is still written (12 00).
    expect(hex(bytes)).toBe(
      [
        ["10", "a"],
        ["9", "b"],
        ["local.differ", ""],
        ["local.unique", "x"],
      ]
        .map(([k, v]) => {
          const entry = "0a" + k!.length.toString(16).padStart(2, "0") + Buffer.from(k!).toString("hex") + "12" + v!.length.toString(16).padStart(2, "0") + Buffer.from(v!).toString("hex");
          return "12" + (entry.length / 2).toString(16).padStart(2, "0") + entry;
        })
        .join(""),
    );
  });

  it("accepts bigint for 64-bit values beyond 2^53 and rejects inexact numbers", () => {
    expect(() => encodeMessage("pb.FileActionMkDir", { timestamp: 1700000000123456789n })).not.toThrow();
    expect(() => encodeMessage("pb.FileActionMkDir", { timestamp: 2 ** 60 })).toThrow(/not exact/);
  });

  it("rejects unknown fields and doubly-set oneofs instead of dropping them", () => {
    expect(() => encodeMessage("pb.Op", { sauce: {} })).toThrow(/no field "sauce"/);
    expect(() => encodeMessage("pb.Op", { exec: {}, file: {} })).toThrow(/several members/);
  });

  it("writes lengths of 128 bytes and more, and non-ASCII strings, as protobuf does", () => {
    const meta = { args: ["x".repeat(300), "ü", "日本", "🙂 emoji", "a".repeat(127), "b".repeat(128)], env: [`K=${"v".repeat(20_000)}`], cwd: "/src/ünï" };
    const message = { meta, mounts: [{ dest: "/", selector: "sel" }] };
    const bytes = encodeMessage("pb.ExecOp", message);
    // ExecOp has no oneof, so protobufjs (an independent encoder) writes its fields in Go's order too.
    const codec = codecFor<Pb_ExecOp>("pb.ExecOp");
    const execOp = parseProtoFiles().resolveAll().lookupType("pb.ExecOp");
    const reference = execOp.encode(execOp.fromObject(message)).finish();
    expect(bytes.length).toBe(reference.length);
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(reference))).toBe(0);
    expect(codec.decode(bytes).meta?.args).toEqual(meta.args);
  });
});

describe("compareUtf8", () => {
  it("orders strings as their UTF-8 bytes do", () => {
    const samples = ["", "a", "ab", "b", "Z", "é", "\u00ff", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "🙂", "\u{10000}", "\u{10ffff}", "a🙂", "a\uffff", "日本", "日"];
    const byBytes = [...samples].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...samples].sort(compareUtf8)).toEqual(byBytes);
  });
});

describe("digests", () => {
  const build = () => {
    const src = local("src", { sessionId: "s" });
    return image("golang:1.26")
      .dir("/src")
      .run({ args: ["go", "build"], mounts: [{ type: "bind", dest: "/src", source: src, readonly: true }, { type: "cache", dest: "/root/.cache", id: "go" }] })
      .root()
      .file(copy(src, "go.mod", "/x").mkfile("/v", 0o644, "1"));
  };

  it("are the sha256 of each op's bytes", () => {
    const def = marshal(build(), { platform: amd64 });
    expect(def.def.map(digestOf)).toEqual(def.digests);
    expect(def.digests.every((d) => /^sha256:[0-9a-f]{64}$/.test(d))).toBe(true);
  });

  it("are stable: the same graph built twice gives the same bytes", () => {
    const a = marshal(build(), { platform: amd64 });
    const b = marshal(build(), { platform: amd64 });
    expect(b.def.map(hex)).toEqual(a.def.map(hex));
    expect(b.metadata).toEqual(a.metadata);
  });

  it("do not depend on metadata such as custom names", () => {
    const plain = marshal(image("alpine").run({ args: ["x"] }), { platform: amd64 });
    const named = marshal(image("alpine", { customName: "base" }).run({ args: ["x"], customName: "step", ignoreCache: true }), { platform: amd64 });
    expect(named.digests).toEqual(plain.digests);
    expect(named.metadata[named.digests[1]!]!.description).toEqual({ "llb.customname": "step" });
    expect(named.metadata[named.digests[1]!]!.ignore_cache).toBe(true);
  });

  it("list each op once even when reached through several paths", () => {
    const base = image("alpine");
    const a = base.run({ args: ["a"] }).root();
    const b = base.run({ args: ["b"] }).root();
    const def = marshal(scratch().file(copy(a, "/", "/a").copy(b, "/", "/b").copy(image("alpine"), "/", "/c")), { platform: amd64 });
    expect(new Set(def.digests).size).toBe(def.digests.length);
    expect(def.def).toHaveLength(5);
  });
});

describe("definitions", () => {
  it("are empty for scratch", () => {
    expect(marshal(scratch(), { platform: amd64 })).toEqual({ def: [], metadata: {}, digests: [] });
  });

  it("end with a terminator op whose caps mark the features used", () => {
    const def = marshal(image("alpine", { customName: "x" }), { platform: amd64 });
    const head = def.digests.at(-1)!;
    expect(opCodec.decode(def.def.at(-1)!)).toEqual({ inputs: [{ digest: def.digests[0] }] });
    expect(Object.keys(def.metadata[head]!.caps!).sort()).toEqual(["constraints", "meta.description", "platform"]);
  });

  it("encode as a pb.Definition for the Solve request and decode back", () => {
    const def = marshal(imageRunFile(), { platform: amd64 });
    const codec = codecFor<Pb_Definition>("pb.Definition");
    const back = codec.decode(codec.encode(def));
    expect(back.def!.map(hex)).toEqual(def.def.map(hex));
    for (const [digest, md] of Object.entries(def.metadata)) expect(back.metadata![digest]!.caps).toEqual(md.caps);
  });

  function imageRunFile(): State {
    return image("alpine").run({ shell: "true" }).root().file(mkfile("/t", 0o644, "x", { timestamp: 1700000000123456789n }));
  }

  it("render as readable JSON with digests, enum names and exact 64-bit values", () => {
    const def = marshal(
      image("alpine").run({ args: ["x"], mounts: [{ type: "cache", dest: "/c", id: "c", sharing: "locked" }] }).root().file(mkfile("/t", 0o644, "x", { timestamp: 1700000000123456789n })),
      { platform: amd64 },
    );
    const json = definitionToJSON(def);
    expect(json.head).toBe(def.digests.at(-2));
    expect(json.ops.map((o) => o.digest)).toEqual(def.digests);
    const text = JSON.stringify(json);
    expect(text).toContain('"mountType":"CACHE"');
    expect(text).toContain('"sharing":"LOCKED"');
    expect(text).toContain('"timestamp":"1700000000123456789"');
    expect(text).toContain('"input":-1');
    expect(json.ops[1]!.metadata!.caps).toHaveProperty("exec.mount.cache");
  });
});

describe("path helpers", () => {
  it("match Go's path.Clean and path.Join", () => {
    expect(cleanPath("")).toBe(".");
    expect(cleanPath("a/../..")).toBe("..");
    expect(cleanPath("/../a//b/./")).toBe("/a/b");
    expect(joinPath("", "")).toBe("");
    expect(joinPath("/", "a", "../b")).toBe("/b");
  });
});
