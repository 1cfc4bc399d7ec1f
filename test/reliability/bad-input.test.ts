// Bad input gets a clear error: the file:line (or the flag), what is wrong and how to fix
// it, exit code 1, and never a build of something else than the config says.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { LocalDaemon } from "../../src/daemon/local-daemon.ts";
import { daemonPaths, defaultDaemonPaths } from "../../src/daemon/paths.ts";
import type { ErrorCode } from "../../src/errors.ts";
import { brewkit, busyboxBase, makeProject, type CliResult } from "../support/project.ts";
import { freePort } from "../support/registry.ts";
import { makeCertificates, startTlsDaemon, type Certificates } from "../support/tls.ts";

const noStackTrace = /^\s+at /m;
// No daemon listens here: errors found before the build never need one.
const nowhere = "unix:///nonexistent/brewkit/bad-input.sock";

/** The 1-based line of `text` holding `needle` (which must be on exactly one line). */
function lineOf(text: string, needle: string): number {
  const lines = text.split("\n").flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  if (lines.length !== 1) throw new Error(`"${needle}" is on ${lines.length} lines`);
  return lines[0]!;
}

/** A user-facing error: exit code 1, each of `parts` on stderr, a hint, no stack trace. */
function expectError(result: CliResult, ...parts: string[]): void {
  for (const part of parts) expect(result.stderr).toContain(part);
  expect(result.stderr).toMatch(/\nhint: \S/);
  expect(result.stderr).not.toMatch(noStackTrace);
  expect(result.code).toBe(1);
}

describe("a config that does not say what to build", () => {
  const config = `import { target, scratch, cache } from "brewkit";
${busyboxBase}
export const empty = target({ from: base, command: "" });
export const emptyInList = target({ from: base, commands: ["true", "   "] });
export const equalsName = target({ from: base, env: { "MODE=release": "1" }, command: "env" });
export const noName = target({ from: base, env: { "": "1" }, command: "env" });
export const home = target({ from: base, command: "echo > /o", output: { artifact: "/o", local: "~/out" } });
export const homeCache = target({ from: base, cache: [cache("c", "/c", { hostDir: "~" })], command: "true" });
export const all = base;
`;
  const project = makeProject({ "brewkit.config.ts": config });
  const file = path.join(project, "brewkit.config.ts");
  const at = (name: string) => `error: ${file}:${lineOf(config, `export const ${name} = `)}: target "${name}"`;

  it("an empty command is named, instead of running sh -c \"\"", async () => {
    expectError(await brewkit(["run", "empty", "--addr", nowhere], { cwd: project }), `${at("empty")}, field "command": is an empty command`);
    expectError(await brewkit(["run", "emptyInList", "--addr", nowhere], { cwd: project }), `${at("emptyInList")}, field "commands[1]": is an empty command`);
  });

  it("an environment variable name with \"=\", or none, is named", async () => {
    expectError(await brewkit(["run", "equalsName", "--addr", nowhere], { cwd: project }), `${at("equalsName")}, field "env.MODE=release": the variable name "MODE=release" contains "="`, 'env: { MODE: "value" }');
    expectError(await brewkit(["run", "noName", "--addr", nowhere], { cwd: project }), `${at("noName")}, field "env": has a variable with an empty name`);
  });

  it("a host path starting with ~ is refused, and no folder named ~ appears", async () => {
    expectError(await brewkit(["run", "home", "--addr", nowhere], { cwd: project }), `${at("home")}, field "output[0].local": ~/out starts with "~", which brewkit does not expand`, "only a shell does");
    expectError(await brewkit(["run", "homeCache", "--addr", nowhere], { cwd: project }), `${at("homeCache")}, field "cache[0].hostDir": ~ starts with "~"`);
    const cache = await brewkit(["cache", "export", "c", "~/c"], { cwd: project });
    expectError(cache, 'the folder ~/c starts with "~", which brewkit does not expand', "$HOME/c");
    expect(existsSync(path.join(project, "~"))).toBe(false);
  });

  it("`brewkit check` reports them all", async () => {
    const result = await brewkit(["check"], { cwd: project });
    expect(result.code).toBe(1);
    for (const name of ["empty", "emptyInList", "equalsName", "noName", "home", "homeCache"]) expect(result.stderr).toContain(at(name));
  });
});

describe("a config that ends or stalls brewkit while it loads", () => {
  const cases: Array<[string, Record<string, string>, string, RegExp, ErrorCode]> = [
    [
      "a default export that is not a target or a group",
      { "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport const all = base;\nexport default [base];\n` },
      "export default [base]",
      /: the default export is an array, not a target or a group, so `brewkit run` would not know what to build\nhint: wrap the targets in group\(\.\.\.\)/,
      "CONFIG_DEFAULT_EXPORT",
    ],
    [
      "process.exit in an ES module config",
      { "package.json": '{ "type": "module" }', "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nprocess.exit(0);\n` },
      "process.exit(0)",
      /: the config called process\.exit\(0\) while loading, which would end brewkit before it did anything\nhint: /,
      "CONFIG_EXIT",
    ],
    [
      "process.exit in a CommonJS config",
      { "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nif (base) process.exit(13);\n` },
      "process.exit(13)",
      /: the config called process\.exit\(13\) while loading/,
      "CONFIG_EXIT",
    ],
    [
      "a top-level await that never settles",
      { "package.json": '{ "type": "module" }', "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nawait new Promise(() => {});\n` },
      "await new Promise",
      /: the config never finished loading: a top-level await waits for a promise that nothing will ever resolve\nhint: /,
      "CONFIG_NEVER_SETTLED",
    ],
  ];
  for (const [what, files, needle, problem, code] of cases) {
    it(`${what}: exit 1 and an error at the line`, async () => {
      const project = makeProject(files);
      const file = path.join(project, "brewkit.config.ts");
      for (const args of [["run"], ["targets"]]) {
        const result = await brewkit([...args, "--addr", nowhere], { cwd: project });
        expectError(result, `error: ${file}:${lineOf(files["brewkit.config.ts"]!, needle)}: `);
        expect(result.stderr).toMatch(problem);
        expect(result.stderr).not.toContain("cannot reach the BuildKit daemon");
      }
      // --debug names the error's code.
      const debug = await brewkit(["targets", "--debug"], { cwd: project });
      expect(debug.stderr).toContain(`\ncode: ${code}\n`);
      expect(debug.code).toBe(1);
    });
  }
});

describe("import.meta.resolve in a config", () => {
  it("resolves against the config's own file, and packages from its own node_modules", async () => {
    const project = makeProject({
      "package.json": '{ "type": "module" }',
      "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport const where = target({ from: base, description: import.meta.resolve("./assets/x.txt") + " " + import.meta.resolve("dep") });\n`,
      "node_modules/dep/package.json": JSON.stringify({ name: "dep", exports: { import: "./esm.js", default: "./cjs.js" } }),
      "node_modules/dep/esm.js": "export {};\n",
    });
    const result = await brewkit(["targets"], { cwd: project });
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`${pathToFileURL(path.join(project, "assets/x.txt")).href} ${pathToFileURL(path.join(project, "node_modules/dep/esm.js")).href}`);
  });
});

describe("copies of symlinks", () => {
  const config = `import { target, scratch } from "brewkit";
${busyboxBase}
export const linked = target({
  from: base,
  copy: ["linkdir", "linkfile", { src: "linkdir", dest: "/picked", include: ["*.txt"] }, "linkdir/sub/c.txt"],
  command: "mkdir -p /o && cat /linkdir/a.txt /linkfile /linkdir/sub/c.txt > /o/seen && ls /picked > /o/picked",
  output: { artifact: "/o", local: "out" },
});
export const leaves = target({ from: base, copy: "outside", command: "true" });
export const dangles = target({ from: base, copy: "dangling", command: "true" });
`;
  const project = makeProject({ "brewkit.config.ts": config, "real/a.txt": "a\n", "real/b.log": "b\n", "real/sub/c.txt": "c\n", "file.txt": "f\n" });
  symlinkSync("real", path.join(project, "linkdir"));
  symlinkSync("./file.txt", path.join(project, "linkfile"));
  symlinkSync("/etc/hostname", path.join(project, "outside"));
  symlinkSync("nothere", path.join(project, "dangling"));
  const file = path.join(project, "brewkit.config.ts");

  it("inside the project are copied as what they point to, under their own names", async () => {
    const result = await brewkit(["run", "linked"], { cwd: project });
    expect(result.stderr).not.toContain("error:");
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(project, "out/seen"), "utf8")).toBe("a\nf\nc\n");
    expect(readFileSync(path.join(project, "out/picked"), "utf8")).toBe("a.txt\n");
  });

  it("that leave the project, or point at nothing, are refused before the build", async () => {
    const leaves = await brewkit(["run", "leaves", "--addr", nowhere], { cwd: project });
    expectError(leaves, `error: ${file}:${lineOf(config, "export const leaves")}: target "leaves", field "copy[0].src": copy source outside is a symlink to /etc/hostname, outside the project`, 'copy: { src: "/etc/hostname", dest: "outside" }');
    const dangles = await brewkit(["run", "dangles", "--addr", nowhere], { cwd: project });
    expectError(dangles, `error: ${file}:${lineOf(config, "export const dangles")}: target "dangles", field "copy[0].src": copy source dangling is a symlink to nothere, which does not exist`);
  });
});

describe("an artifact that is not in the result", () => {
  it("is named with the target, the output field, the line and the path", async () => {
    const config = `import { target, scratch } from "brewkit";
${busyboxBase}
export const app = target({
  from: base,
  workdir: "/src",
  command: "mkdir -p dist && echo built > dist/app",
  output: [{ artifact: "dist/app", local: "bin" }, { artifact: "dist/ap", local: "bin" }],
});
`;
    const project = makeProject({ "brewkit.config.ts": config });
    const result = await brewkit(["run", "app"], { cwd: project });
    expectError(result, `error: ${path.join(project, "brewkit.config.ts")}:${lineOf(config, "export const app")}: target "app", field "output[1].artifact": /src/dist/ap ("dist/ap" under the working directory) does not exist in the target's result`);
    expect(result.stderr).not.toMatch(/^error: .*failed to calculate checksum/m);
    expect(result.stderr).not.toContain("fix the command");
  });
});

describe("an export the host cannot write", () => {
  const config = `import { target, scratch } from "brewkit";
${busyboxBase}
export const big = target({ from: base, command: "mkdir -p /o && head -c 3000000 /dev/zero > /o/big.bin", output: { artifact: "/o", local: "full" } });
export const long = target({ from: base, command: "echo hi > /o", output: { artifact: "/o", local: "out/${"n".repeat(300)}" } });
`;
  const project = makeProject({ "brewkit.config.ts": config });
  const full = path.join(project, "full");

  beforeAll(() => {
    mkdirSync(full);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", full]);
  });
  afterAll(() => {
    execFileSync("umount", [full]);
  });

  it("on a full disk, is a host error naming the destination, not a failed step", async () => {
    const result = await brewkit(["run", "big"], { cwd: project });
    expectError(result, `error: target "big": cannot write its output to ${full}: the file system is full (no space left on device)`, `hint: free space on the file system that holds ${full}`);
    expect(result.stderr).not.toContain("fix the command");
    // Nothing half-written is left behind.
    expect(readdirSync(full)).toEqual([]);
  });

  it("with a name too long for the file system, says which name", async () => {
    const result = await brewkit(["run", "long"], { cwd: project });
    expectError(result, `error: target "long": cannot write its output to ${path.join(project, "out", "n".repeat(300))}: the name "`, "bytes long, more than the file system allows (255)", "hint: use a shorter output directory");
    expect(result.stderr).not.toContain("fix the command");
  });
});

describe("a daemon that cannot be reached", () => {
  const project = makeProject({ "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}` });

  it("given by --addr or BUILDKIT_HOST, is explained in terms of that address", async () => {
    const port = await freePort();
    const address = `tcp://127.0.0.1:${port}`;
    for (const [result, origin] of [
      [await brewkit(["run", "base", "--addr", address], { cwd: project }), "--addr"],
      [await brewkit(["run", "base"], { cwd: project, env: { BUILDKIT_HOST: address } }), "BUILDKIT_HOST"],
    ] as const) {
      expectError(result, `error: cannot reach the BuildKit daemon at ${address}: nothing accepts connections there (connection refused)`, `hint: check that a buildkitd runs and listens at ${address} (${origin})`);
      expect(result.stderr).not.toContain("brewkit daemon start");
    }
  });
});

describe("a daemon with mutual TLS, and no registry", () => {
  const dir = mkdtempSync("/tmp/bk-bad-input-");
  const paths = daemonPaths(path.join(dir, "daemon"), defaultDaemonPaths().binDir);
  let tls: Certificates;
  let other: Certificates;
  let address: string;
  let daemon: LocalDaemon;
  const id = `offline-${Date.now()}`;
  const project = makeProject({
    "brewkit.config.ts": `import { target, scratch, cache } from "brewkit";\n${busyboxBase}\nexport const fill = target({ from: base, cache: [cache("${id}", "/c")], command: "mkdir -p /c/sub && echo one > /c/sub/file" });\n`,
  });

  beforeAll(async () => {
    [tls, other] = await Promise.all([makeCertificates(mkdtempSync(path.join(dir, "ca-"))), makeCertificates(mkdtempSync(path.join(dir, "other-")))]);
    address = `tcp://127.0.0.1:${await freePort()}`;
    // TLS applies to the TCP address; the daemon's own unix socket stays plain.
    daemon = new LocalDaemon(paths, [address], false);
    await startTlsDaemon(daemon, tls);
  }, 120_000);

  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const flags = () => ["--addr", address, "--tlscacert", tls.caFile, "--tlscert", tls.clientCertFile, "--tlskey", tls.clientKeyFile, "--tlsservername", "buildkitd.test"];

  it("turns each TLS refusal into a sentence with the flag that fixes it", async () => {
    const cases: Array<[string[], string, string]> = [
      [["--tlscacert", tls.caFile, "--tlsservername", "buildkitd.test"], "the daemon requires a client certificate, and none was given", "--tlscert and --tlskey"],
      [["--tlscacert", tls.caFile, "--tlscert", other.clientCertFile, "--tlskey", other.clientKeyFile, "--tlsservername", "buildkitd.test"], "the daemon does not trust the client certificate: no CA it accepts signed it", "--tlscert and --tlskey"],
      [["--tlscacert", other.caFile, "--tlscert", tls.clientCertFile, "--tlskey", tls.clientKeyFile, "--tlsservername", "buildkitd.test"], `brewkit does not trust the daemon's certificate: the CA in ${other.caFile} did not sign it`, "--tlscacert"],
      [["--tlscacert", tls.caFile, "--tlscert", tls.clientCertFile, "--tlskey", tls.clientKeyFile], "the daemon's certificate is not issued for the name brewkit connected to", "--tlsservername"],
      [[], "the daemon closed the connection without answering", "if it requires TLS, pass --tlscacert"],
    ];
    for (const [tlsFlags, reason, fix] of cases) {
      const result = await brewkit(["cache", "du", "--addr", address, ...tlsFlags], { cwd: project });
      expectError(result, `error: cannot reach the BuildKit daemon at ${address}: ${reason}`, fix);
      expect(result.stderr).not.toMatch(/SSL routines|SSL alert|brewkit daemon start/);
    }
    const mismatch = await brewkit(["cache", "du", "--addr", address, "--tlscacert", tls.caFile, "--tlscert", tls.clientCertFile, "--tlskey", other.clientKeyFile], { cwd: project });
    expectError(mismatch, `error: the client key ${other.clientKeyFile} does not belong to the client certificate ${tls.clientCertFile}`);
  });

  it("says so when TLS is asked of a daemon that does not speak it", async () => {
    const plain = inject("buildkitTcpHost");
    expect(plain, "the suite's daemon listens on loopback TCP too").toMatch(/^tcp:\/\//);
    const result = await brewkit(["cache", "du", "--addr", plain!, "--tlscacert", tls.caFile], { cwd: project });
    expectError(result, `error: cannot reach the BuildKit daemon at ${plain}: the daemon does not speak TLS at this address`, "leave out --tlscacert");
  });

  it("`cache export` and `cache import` need no registry: they run on the host's static busybox", async () => {
    const fill = await brewkit(["run", "fill", ...flags()], { cwd: project });
    expect(fill.stderr).not.toContain("error:");
    expect(fill.code).toBe(0);
    const exported = await brewkit(["cache", "export", id, "exported", "--progress", "plain", ...flags()], { cwd: project });
    expect(exported.stderr).toContain(`✔ exported cache ${id} to exported`);
    expect(exported.stderr).not.toContain("docker-image://");
    expect(exported.code).toBe(0);
    expect(readFileSync(path.join(project, "exported/sub/file"), "utf8")).toBe("one\n");
    writeFileSync(path.join(project, "exported/extra"), "two\n");
    const imported = await brewkit(["cache", "import", `${id}-copy`, "exported", "--progress", "plain", ...flags()], { cwd: project });
    expect(imported.stderr).toContain(`✔ imported exported into cache ${id}-copy`);
    expect(imported.stderr).not.toContain("docker-image://");
    const again = await brewkit(["cache", "export", `${id}-copy`, "again", ...flags()], { cwd: project });
    expect(again.code).toBe(0);
    expect(readFileSync(path.join(project, "again/extra"), "utf8")).toBe("two\n");
    expect(readFileSync(path.join(project, "again/sub/file"), "utf8")).toBe("one\n");
  });
});

describe("a command line brewkit does not understand", () => {
  it("names the option or argument as it was typed, with the command's help as the fix, and exits 1", async () => {
    const project = makeProject({ "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\n` });
    const cases: Array<[string[], string, string]> = [
      [["run", "--no-cahce"], "error: unknown option --no-cahce for `brewkit run`", "brewkit run --help"],
      [["run", "--cache-too=type=inline"], "error: unknown option --cache-too for `brewkit run`", "brewkit run --help"],
      [["watch", "-z"], "error: unknown option -z for `brewkit watch`", "brewkit watch --help"],
      [["run", "--progress"], "error: option --progress needs a value (--progress <mode>)", "brewkit run --help"],
      [["daemon"], "error: missing arguments: the usage is `brewkit daemon <action>`", "brewkit daemon --help"],
      [["targets", "extra"], "error: unexpected arguments for `brewkit targets`: `extra`", "brewkit targets --help"],
      [["--bogus"], "error: unknown option --bogus\n", "brewkit --help"],
    ];
    for (const [args, message, fix] of cases) {
      const result = await brewkit(args, { cwd: project });
      expectError(result, message, `hint: run \`${fix}\``);
      expect(result.stdout).toBe("");
    }
  });
});
