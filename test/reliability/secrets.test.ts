import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, promises as fsp, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { brewkit, busyboxBase, makeProject, repoRoot, type CliResult } from "../support/project.ts";

// Values with characters that URL encoding changes; random, so no output can hold them by chance.
const token = `Tk/${randomBytes(8).toString("hex")}+v:al@ue`;
const long = `pat_${randomBytes(48).toString("hex")}`;
const password = `pw-${randomBytes(6).toString("hex")}`;
const netrc = `machine example.com\nlogin robot\npassword ${password}\n`;

/** The characters of base64(prefix + value) that depend on the value alone. */
function base64Core(prefix: string, value: string): string {
  const encoded = Buffer.from(prefix + value).toString("base64");
  return encoded.slice(Math.ceil((prefix.length * 8) / 6), Math.floor(((prefix.length + value.length) * 8) / 6));
}

/** What must never appear in anything brewkit prints or writes: the values, their encodings, and any 8-character piece of an encoding. */
const forbidden = [
  token,
  long,
  password,
  encodeURIComponent(token),
  Buffer.from(token).toString("hex"),
  ...["", "a", "ab", "user:"].flatMap((prefix) => [base64Core(prefix, token), base64Core(prefix, long)]),
];
const forbiddenPieces = ["", "a", "ab", "user:"].flatMap((prefix) => {
  const core = base64Core(prefix, long);
  return Array.from({ length: core.length - 7 }, (_, i) => core.slice(i, i + 8));
});

/** Fails with the offending text when `text` holds a value or a form of one. */
function expectNoSecret(text: string, where: string): void {
  for (const value of forbidden) expect(text.includes(value), `${where} shows ${value}:\n${text}`).toBe(false);
  for (const piece of forbiddenPieces) expect(text.includes(piece), `${where} shows a piece of the long value's base64 (${piece}):\n${text}`).toBe(false);
}

// Prints each value raw, in base64 at the three alignments (and wrapped at 76 columns for
// the long one), URL-encoded and in hex; the netrc file line by line.
const leakScript = [
  'echo "raw: $TOKEN"',
  'printf %s "$TOKEN" | base64',
  'printf "a%s" "$TOKEN" | base64',
  'printf "ab%s" "$TOKEN" | base64',
  'printf "user:%s\\n" "$TOKEN" | base64',
  'printf %s "$TOKEN" | sed -e "s/%/%25/g" -e "s|/|%2F|g" -e "s/+/%2B/g" -e "s/:/%3A/g" -e "s/@/%40/g"',
  'printf %s "$TOKEN" | xxd -p | tr -d "\\n"; echo',
  'echo "long: $LONG"',
  'printf %s "$LONG" | base64',
  'printf "user:%s" "$LONG" | base64',
  "cat /root/.netrc",
].join("; ");

const home = mkdtempSync(path.join(tmpdir(), "bk-secret-home-"));
const fifo = path.join(home, "never-read.fifo");
execFileSync("mkfifo", [fifo]);
writeFileSync(path.join(home, "netrc"), netrc);
writeFileSync(
  path.join(home, "config.json"),
  JSON.stringify({
    secrets: {
      netrc: { file: "netrc" },
      // Defined, but named by no target: never read, and their being unreadable breaks nothing.
      unused: { file: "/nonexistent/brewkit-secret" },
      fifo: { file: fifo },
    },
  }),
);
const env = { TOKEN_SOURCE: token, LONG_SOURCE: long, BREWKIT_CONFIG: path.join(home, "config.json") };
const flags = ["--secret", "id=token,env=TOKEN_SOURCE", "--secret", "id=long,env=LONG_SOURCE"];

/** A project whose steps print the secrets; `nonce` makes its steps new to the daemon's cache. */
function leakingProject(nonce: string): string {
  return makeProject({
    "brewkit.config.ts": `import { fmt, target, scratch, secret, variable } from "brewkit";
${busyboxBase}
const mounts = [secret("token", { env: "TOKEN" }), secret("long", { env: "LONG" }), secret("netrc", "/root/.netrc")];

/** Keeps the token in a file of its result, for a variable to read. */
export const carrier = target({ from: base, secrets: [secret("token", { env: "TOKEN" })], command: 'mkdir -p /out; printf %s "$TOKEN" > /out/token' });
/** A variable carries the token into a step's name. */
const carried = variable({ from: carrier, command: "cat /out/token" });

/** Prints every secret in several forms, then succeeds. */
export const leak = target({ from: base, secrets: mounts, commands: [${JSON.stringify(`echo begin-${nonce}; ${leakScript}; echo end-${nonce}`)}, fmt\`echo carried-${nonce} \${carried}\`] });

/** Prints every secret, then fails. */
export const fails = target({ from: base, secrets: mounts, command: ${JSON.stringify(`echo begin-${nonce}; ${leakScript}; exit 3`)} });

/** A target that mounts a secret, as the base of a variable. */
export const measured = target({ from: base, secrets: [secret("token", { env: "TOKEN" })], command: ${JSON.stringify(`echo measuring-${nonce} "$TOKEN"; mkdir -p /out; printf %s "$TOKEN" | wc -c > /out/length`)} });
const length = variable({ from: measured, command: "cat /out/length" });

/** Uses a variable computed on a target that mounts a secret. */
export const usesVariable = target({ from: base, env: { LENGTH: length }, command: ${JSON.stringify(`echo "length-${nonce}: $LENGTH"`)} });
`,
  });
}

let nonceCount = 0;
const nonce = () => `n${Date.now()}-${nonceCount++}`;
const everything = (r: CliResult) => `${r.stdout}\n${r.stderr}`;

const writer = spawn("sh", ["-c", `printf fifo-value > "${fifo}"`], { stdio: "ignore" });
const writerExited = new Promise<number | null>((resolve) => writer.on("exit", resolve));
afterAll(async () => {
  if (writer.exitCode === null) writer.kill("SIGKILL");
  await fsp.rm(home, { recursive: true, force: true });
});

describe("secret values in output", () => {
  it("are hidden from plain progress and the metadata file, in every form, and only the secrets the targets name are read", async () => {
    const n = nonce();
    const project = leakingProject(n);
    const result = await brewkit(["run", "leak", ...flags, "--progress", "plain", "--metadata-file", "meta.json"], { cwd: project, env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`begin-${n}`);
    expect(result.stderr).toContain(`end-${n}`);
    expect(result.stderr).toMatch(/#\d+ raw: \*\*\*$/m);
    expect(result.stderr).toMatch(new RegExp(`^#\\d+ \\[leak\\] echo carried-${n} \\*\\*\\*$`, "m"));
    expect(result.stderr).toMatch(/#\d+ long: \*\*\*$/m);
    // Each line of a multi-line value is hidden on its own.
    expect(result.stderr).not.toContain("machine example.com");
    expectNoSecret(everything(result), "plain progress");
    const meta = readFileSync(path.join(project, "meta.json"), "utf8");
    expect(meta).toContain(`"name": "[leak] echo carried-${n} ***"`);
    expectNoSecret(meta, "the metadata file");

    // The fifo secret is named by no target: nobody opened it, so its writer still waits, and its value is there to read.
    expect(writer.exitCode).toBe(null);
    expect(await fsp.readFile(fifo, "utf8")).toBe("fifo-value");
    expect(await writerExited).toBe(0);
  });

  it("are hidden from rawjson progress, whose log bytes are base64 (redacted before encoding)", async () => {
    const n = nonce();
    const result = await brewkit(["run", "leak", ...flags, "--progress", "rawjson"], { cwd: leakingProject(n), env });
    expect(result.code, result.stderr).toBe(0);
    const messages = result.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { job: string; logs?: Array<{ msg: string }> });
    const logs = messages
      .flatMap((m) => m.logs ?? [])
      .map((l) => {
        expect(typeof l.msg).toBe("string");
        return Buffer.from(l.msg, "base64").toString("utf8");
      })
      .join("");
    expect(logs).toContain(`begin-${n}\nraw: ***\n`);
    expect(logs).toContain(`end-${n}`);
    expectNoSecret(logs, "rawjson log bytes");
    expectNoSecret(everything(result), "rawjson output");
  });

  it("are hidden from the live view (--progress tty without a terminal)", async () => {
    const n = nonce();
    const result = await brewkit(["run", "leak", ...flags, "--progress", "tty"], { cwd: leakingProject(n), env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("Built");
    expect(result.stderr).toContain("***");
    expectNoSecret(everything(result), "the live view");
  });

  for (const mode of ["quiet", "tty", "plain"]) {
    it(`are hidden from the failure's last output in ${mode} mode${mode === "plain" ? ", and from --debug stacks" : ""}`, async () => {
      const n = nonce();
      const result = await brewkit(["run", "fails", ...flags, "--progress", mode, ...(mode === "plain" ? ["--debug"] : [])], { cwd: leakingProject(n), env });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("--- last output of the step ---");
      expect(result.stderr).toContain("\nraw: ***\n");
      if (mode === "plain") expect(result.stderr).toMatch(/^\s+at /m);
      expectNoSecret(everything(result), `a failure in ${mode} mode`);
    });
  }

  it("are hidden from watch output", async () => {
    const n = nonce();
    const child = spawn(process.execPath, [path.join(repoRoot, "bin/brewkit.js"), "watch", "fails", ...flags, "--progress", "plain"], {
      cwd: leakingProject(n),
      env: { ...process.env, BUILDKIT_HOST: inject("buildkitHost"), NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    // Ctrl-C once the failed build has been reported.
    const reported = new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes("waiting for changes")) resolve();
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
    });
    await Promise.race([reported, exited]);
    child.kill("SIGINT");
    expect(await exited, output).toBe(130);
    expect(output).toMatch(/✖ brewkit\.config\.ts:\d+: target "fails"/);
    expect(output).toContain("\nraw: ***\n");
    expectNoSecret(output, "watch output");
  });

  it("are hidden from a variable's command, which can build on a target that mounts a secret", async () => {
    const n = nonce();
    const result = await brewkit(["run", "usesVariable", ...flags, "--progress", "plain"], { cwd: leakingProject(n), env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`measuring-${n} ***`);
    expect(result.stderr).toContain(`length-${n}: ${token.length}`);
    expectNoSecret(everything(result), "a variable's build");
  });

  it("warns that a value shorter than 4 characters is not hidden", async () => {
    const n = nonce();
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch, secret } from "brewkit";
${busyboxBase}
export const short = target({ from: base, secrets: [secret("pin", { env: "PIN" })], command: ${JSON.stringify(`echo "pin-${n} $PIN"`)} });
`,
    });
    const result = await brewkit(["run", "short", "--secret", "id=pin,env=PIN_SOURCE", "--progress", "plain"], { cwd: project, env: { ...env, PIN_SOURCE: "7q3" } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('warning: secret "pin" is shorter than 4 characters, so it is not hidden from the output');
    expect(result.stderr).toContain(`pin-${n} 7q3`);
  });

  it("names each missing secret and how to provide it", async () => {
    const result = await brewkit(["run", "leak", "--progress", "plain"], { cwd: leakingProject(nonce()), env: { BREWKIT_CONFIG: path.join(home, "none.json") } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the build needs secrets "token", "long", "netrc" but no value is available');
    expect(result.stderr).toContain("hint: provide each one:");
    for (const id of ["token", "long", "netrc"]) expect(result.stderr).toContain(`  ${id}: --secret id=${id},env=VARIABLE or --secret id=${id},src=FILE`);
  });
});
