// The TypeScript twins of the graphs in test/oracle/main.go: same names, same builds.
import { copy, http, image, local, mkdir, mkfile, rm, scratch, type MarshalOptions, type State } from "../../src/llb/index.ts";

/** A graph to marshal and the marshal options that go with it. */
export interface Graph {
  state: State;
  opts: MarshalOptions;
}

const amd64 = { OS: "linux", Architecture: "amd64" };
const defaults: MarshalOptions = { platform: amd64, localUniqueId: "oracle-unique" };

const hexA = "a".repeat(64);
const hexB = "0123456789abcdef".repeat(4);
const stamp = new Date(1700000000123);

function imageRefs(): State {
  const refs = [
    "busybox", "alpine:3.20", "library/ubuntu", "docker.io/library/debian:12",
    "index.docker.io/foo/bar", "localhost:5000/team/app:1.0", "localhost/img",
    "ghcr.io/org/app", "registry.example.com:443/a/b/c:tag",
    `alpine@sha256:${hexA}`, `alpine:3@sha256:${hexB}`,
  ];
  let fa = copy(image(refs[0]!), "/bin", "/0");
  refs.slice(1).forEach((r, i) => (fa = fa.copy(image(r), "/bin", `/${i + 1}`)));
  return scratch().file(fa);
}

function imagePlatform(): State {
  const arm = image("alpine", { platform: { OS: "linux", Architecture: "arm64" } });
  const raw = image("alpine", { platform: { OS: "linux", Architecture: "aarch64", Variant: "v8" } });
  const a = arm.run({ args: ["uname", "-m"] }).root();
  const b = raw.run({ args: ["uname", "-m"] }).root();
  return scratch().file(copy(a, "/etc/os-release", "/a").copy(b, "/etc/os-release", "/b"));
}

function imageOptions(): State {
  const pull = image("alpine", { resolveMode: "pull", customName: "pull alpine" });
  const preferLocal = image("busybox", { resolveMode: "local" });
  const def = image("debian", { resolveMode: "default" });
  const fresh = image("golang:1.26", { customName: "go", ignoreCache: true });
  return scratch().file(copy(pull, "/", "/1").copy(preferLocal, "/", "/2").copy(def, "/", "/3").copy(fresh, "/", "/4"));
}

function localOptions(): State {
  const full = local("src", {
    sessionId: "sess-1",
    sharedKeyHint: "hint",
    includePatterns: ["src/**", "go.mod", "a<b>&c"],
    excludePatterns: ["node_modules", "**/*.md", "!keep.md"],
    followPaths: ["vendor", 'x\ty"z\\', "ünï\u2028"],
    differ: "none",
    differRequired: true,
    customName: "load src",
  });
  const own = local("other", { differ: "metadata", uniqueId: "vertex-unique", includePatterns: [] });
  return scratch().file(copy(full, ".", "/src").copy(own, ".", "/other"));
}

function runBasic(): State {
  const first = image("busybox").dir("/work").env("A", "1").user("nobody").run({ args: ["sh", "-c", "echo hi > out"] });
  return first.run({ shell: "ls -l" }).root();
}

function runMeta(): State {
  const base = image("alpine")
    .envs({ PATH: "/usr/bin", A: "1", B: "2" })
    .env("A", "3")
    .env("UNI", "héllo=wörld")
    .dir("/src")
    .dir("sub")
    .dir("../other")
    .user("1000:1000")
    .network("host")
    .security("insecure")
    .hostname("builder");
  const st = base
    .run({
      args: ["env"],
      env: { C: "4", B: "5" },
      cwd: "rel",
      user: "root",
      network: "none",
      hostname: "h2",
      validExitCodes: [0, 1, 255],
      ignoreCache: true,
      customName: "meta run",
    })
    .root();
  return st.run({ args: ["true"] }).root();
}

function runMountsBind(): State {
  const src = local("src");
  const es = image("alpine").run({
    args: ["build"],
    mounts: [
      { type: "bind", dest: "/src", source: src, readonly: true },
      { type: "bind", dest: "/tools", source: image("golang:1.26"), selector: "/usr/local/go", readonly: true },
      { type: "bind", dest: "/out", source: scratch() },
      { type: "bind", dest: "/work", source: image("busybox"), selector: "/bin" },
      { type: "bind", dest: "/discard", source: image("busybox"), noOutput: true },
    ],
  });
  return scratch().file(
    copy(es.mount("/out"), "/", "/out").copy(es.mount("/work"), "/", "/work").copy(es.mount("/src"), "/", "/src").copy(es.root(), "/etc", "/etc"),
  );
}

function runMountsCacheTmpfs(): State {
  return image("alpine")
    .run({
      args: ["make"],
      mounts: [
        { type: "cache", dest: "/cache/shared", id: "shared-id", sharing: "shared" },
        { type: "cache", dest: "/cache/private", id: "private-id", sharing: "private" },
        { type: "cache", dest: "/cache/locked", id: "locked-id", sharing: "locked", source: image("busybox"), selector: "/etc" },
        { type: "cache", dest: "/cache/ro", id: "ro", readonly: true },
        { type: "cache", dest: "/var/cache/apt" },
        { type: "tmpfs", dest: "/tmp" },
        { type: "tmpfs", dest: "/tmp2", size: 1 << 20 },
      ],
    })
    .root();
}

function runSecretsSsh(): State {
  const es = image("alpine").run({
    args: ["sh"],
    mounts: [
      { type: "secret", dest: "/run/secrets/token" },
      { type: "secret", dest: "/root/.netrc", id: "netrc", uid: 1000, gid: 1000, mode: 0o440, optional: true },
      { type: "ssh" },
      { type: "ssh", id: "github", dest: "/run/gh.sock", uid: 1000, gid: 1000, mode: 0o666, optional: true },
      { type: "ssh", id: "third" },
    ],
    secretEnv: [
      { name: "NPM_TOKEN", id: "npm" },
      { name: "GH_TOKEN", id: "gh", optional: true },
    ],
  });
  return es.root().env("SSH_AUTH_SOCK", "/custom").run({ args: ["ssh"], mounts: [{ type: "ssh" }] }).root();
}

function runDedupInputs(): State {
  const dep = image("busybox");
  const twin = image("busybox");
  return dep
    .run({
      args: ["x"],
      mounts: [
        { type: "bind", dest: "/a", source: dep, readonly: true },
        { type: "bind", dest: "/b", source: twin, readonly: true },
        { type: "bind", dest: "/c", source: dep },
        { type: "bind", dest: "/d", source: dep.dir("/x"), selector: "/x" },
      ],
    })
    .root();
}

function mountOutputDownstream(): State {
  const build = image("golang").run({
    args: ["go", "build"],
    mounts: [
      { type: "bind", dest: "/out", source: scratch() },
      { type: "bind", dest: "/bin2", source: scratch() },
    ],
  });
  const test = image("alpine").run({
    args: ["test"],
    mounts: [
      { type: "bind", dest: "/in", source: build.mount("/out"), readonly: true },
      { type: "bind", dest: "/bin2", source: build.mount("/bin2") },
      { type: "bind", dest: "/root2", source: build.root(), readonly: true },
    ],
  });
  return test.mount("/bin2");
}

function fileMkdirMkfile(): State {
  return image("alpine")
    .dir("/app")
    .file(
      mkdir("data", 0o755, { parents: true, owner: "app:staff", timestamp: stamp })
        .mkdir("/abs/dir", 0o4755)
        .mkfile("data/config.json", 0o644, '{"a":1}', { owner: "1000:1000" })
        .mkfile("/empty", 0o600, new Uint8Array(), { owner: { uid: 0, gid: 0 } })
        .mkfile("root-owned", 0o644, "x", { owner: "root" })
        .mkfile("named", 0o644, "y", { owner: "daemon" })
        .mkdir("./nested/../flat/", 0o755)
        .mkfile("weird", 0o644, "z", { owner: ":5" })
        .mkfile("range", 0o644, "r", { owner: "4294967295:-1" })
        .mkfile("big-ts", 0o644, "t", { timestamp: 1700000000123456789n }),
      { customName: "files" },
    );
}

function fileRmSymlink(): State {
  return image("alpine")
    .dir("/var")
    .file(
      rm("log/*.log", { allowWildcard: true, allowNotFound: true })
        .rm("/etc/motd")
        .symlink("../usr/bin/env", "bin/env2", { owner: { uid: 1, gid: 2 }, timestamp: stamp })
        .symlink("/target", "/link"),
    );
}

function fileCopyOptions(): State {
  const src = local("src").dir("/project");
  return image("alpine")
    .dir("/app")
    .file(
      copy(src, "go.mod", "./", { createDestPath: true })
        .copy(src, "/abs/./x/../y", "dest/", { followSymlinks: true, copyDirContents: true })
        .copy(src, "*.go", "/app/cmd/.", { allowWildcard: true, allowEmptyWildcard: true })
        .copy(src, "dir", "out", { include: ["**/*.go"], exclude: ["*_test.go", "vendor"], requiredPaths: ["main.go"] })
        .copy(src, "archive.tar", "/", { attemptUnpack: true, alwaysReplaceExistingDestPaths: true })
        .copy(src, "bin", "/usr/local/bin", { mode: 0o755, owner: "app", timestamp: stamp })
        .copy(src, "script", "/s", { mode: "u+x" })
        .copy(src, "zero", "/z", { mode: 0 })
        .copy(scratch(), "/", "/empty"),
      { customName: "copy everything" },
    );
}

function fileChainMultiInput(): State {
  const a = image("alpine");
  const b = image("busybox");
  const l = local("ctx");
  const st = image("debian")
    .dir("/root")
    .file(copy(a, "/etc/os-release", "/a").copy(b, "/bin/sh", "/b").copy(a, "/etc/hostname", "/a2").copy(l, ".", "/ctx"));
  const prep = mkdir("/tmpdir", 0o755).mkfile("/tmpdir/f", 0o644, "hi");
  return st.file(
    copy(prep.withState(scratch().dir("/ced")), "tmpdir", "/from-prep")
      .mkdir("after", 0o700)
      .copy(mkdir("/x", 0o755).withState(b), "/x", "/x2"),
  );
}

function readonlyRootfs(): State {
  const es = image("alpine").run({ args: ["cat"], readonlyRootfs: true, mounts: [{ type: "bind", dest: "/out", source: scratch() }] });
  return es.mount("/out");
}

function httpSource(): State {
  const h = http("https://example.com/tool.tar.gz", {
    checksum: `sha256:${hexB}`,
    filename: "tool.tgz",
    perm: 0o755,
    uid: 1000,
    gid: 1001,
    customName: "download",
  });
  const plain = http("https://example.com/plain");
  return scratch().file(copy(h, "tool.tgz", "/t").copy(plain, "plain", "/p"));
}

function marshalOptions(): State {
  return image("alpine")
    .run({ args: ["ls"], mounts: [{ type: "bind", dest: "/ctx", source: local("x"), readonly: true }] })
    .root();
}

function diamond(): State {
  const base = image("alpine");
  const left = base.run({ args: ["left"] }).root();
  const right = base.run({ args: ["right"] }).root();
  const merged = left
    .run({
      args: ["merge"],
      mounts: [
        { type: "bind", dest: "/right", source: right, readonly: true },
        { type: "bind", dest: "/base", source: base, readonly: true },
      ],
    })
    .root();
  return scratch().file(copy(merged, "/", "/m").copy(right, "/", "/r"));
}

function customNamesMerged(): State {
  const a = image("alpine", { customName: "first" });
  const b = image("alpine", { customName: "second", description: { extra: "x" } });
  return scratch().file(copy(a, "/a", "/a").copy(b, "/b", "/b"));
}

function platformState(): State {
  const arm = image("alpine").platform({ OS: "linux", Architecture: "arm" }).run({ args: ["x"] }).root();
  const amd = scratch()
    .platform({ OS: "Linux", Architecture: "x86_64" })
    .file(mkdir("/x", 0o755))
    .run({ args: ["y"] })
    .root();
  return scratch().file(copy(arm, "/", "/arm").copy(amd, "/", "/amd"));
}

function execChain(): State {
  return image("alpine")
    .dir("/a")
    .env("X", "1")
    .run({ args: ["one"] })
    .dir("b")
    .env("X", "2")
    .env("Y", "3")
    .run({ args: ["two"], customName: "second" })
    .root();
}

/** Every graph the Go oracle also builds, by name. */
export function graphs(): Record<string, Graph> {
  const g = (state: State, opts: MarshalOptions = defaults): Graph => ({ state, opts });
  return {
    "image-refs": g(imageRefs()),
    "image-platform": g(imagePlatform()),
    "image-options": g(imageOptions()),
    "local-default": g(local("context")),
    "local-options": g(localOptions()),
    "run-basic": g(runBasic()),
    "run-meta": g(runMeta()),
    "run-mounts-bind": g(runMountsBind()),
    "run-mounts-cache-tmpfs": g(runMountsCacheTmpfs()),
    "run-secrets-ssh": g(runSecretsSsh()),
    "run-dedup-inputs": g(runDedupInputs()),
    "mount-output-downstream": g(mountOutputDownstream()),
    "file-mkdir-mkfile": g(fileMkdirMkfile()),
    "file-rm-symlink": g(fileRmSymlink()),
    "file-copy-options": g(fileCopyOptions()),
    "file-chain-multi-input": g(fileChainMultiInput()),
    "readonly-rootfs": g(readonlyRootfs()),
    "http-source": g(httpSource()),
    "marshal-options": g(marshalOptions(), { platform: { OS: "linux", Architecture: "arm" }, ignoreCache: true, localUniqueId: "other-unique" }),
    diamond: g(diamond()),
    "custom-names-merged": g(customNamesMerged()),
    "platform-state": g(platformState()),
    "scratch-file": g(scratch().file(mkfile("/hello", 0o644, "hello\n"), { customName: "hello" })),
    "exec-chain": g(execChain()),
    scratch: g(scratch()),
  };
}

/** Image references the oracle also normalizes (or rejects). */
export const refInputs = [
  "busybox", "Busybox", "foo/Bar", "UPPER/x", hexA, "alpine@sha256:abc", `alpine@md5:${hexA}`,
  `alpine@sha256:${hexA.toUpperCase()}`, "localhost:5000", "[::1]:5000/img", "example.com/a__b/c-d:v1.2_3",
  "foo:", "foo:bar:baz", "index.docker.io/library/alpine", "docker.io/alpine", ":tag", "", "a/b/c/d/e/f",
  "registry:5000/x", `my.registry/x@sha256:${hexB}`, `alpine:${"t".repeat(129)}`, "a..b", "a--b/c",
  "localhost/UPPER", "ghcr.io/Org/app",
];
