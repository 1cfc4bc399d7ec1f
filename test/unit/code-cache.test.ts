// V8's code cache of the CLI bundle (src/launch): a hit runs the same code as a compile
// from source; a missing, corrupt, torn, foreign or refused entry, an unwritable or full
// cache and concurrent starts never break a run. The CLI's own start (bin/brewkit.js) is
// run as users run it, with the Node running the tests (CI runs them on Node 20 and 24).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compileCachedScript } from "../../src/launch/code-cache.ts";

const brewkitBin = fileURLToPath(new URL("../../bin/brewkit.js", import.meta.url));
const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

const made: string[] = [];
const temporaryDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "brewkit-code-cache-"));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A CommonJS script exporting `value`, a computed sum and what its extra argument returns, with enough functions for V8 to cache. */
function scriptFile(dir: string, name: string, value: string): string {
  const file = path.join(dir, name);
  const helpers = Array.from({ length: 50 }, (_, i) => `function f${i}(x) { return x + ${i}; }`).join("\n");
  writeFileSync(file, `${helpers}\nmodule.exports = { value: ${JSON.stringify(value)}, sum: f10(f20(1)), extra: extraArgument() };\n`);
  return file;
}

/** Compiles and runs `file` with the cache in `cacheDir`: its cache status, its exports, and its save(). */
function load(file: string, cacheDir: string) {
  const script = compileCachedScript(file, cacheDir, ["extraArgument"]);
  const exports = script.run({ require: createRequire(file), extra: [() => "passed in"] });
  return { status: script.status, exports, save: () => script.save() };
}

/** V8's data in an entry: after the two hashes, the uses' list length (2 bytes) and the list. */
const dataOf = (entry: Buffer) => entry.subarray(42 + entry.readUInt16LE(40));
const entries = (cacheDir: string) => readdirSync(cacheDir).map((name) => path.join(cacheDir, name));
const expected = (value: string) => ({ value, sum: 31, extra: "passed in" });

describe("the code cache of a script", () => {
  it("is written after a compile without it, then used, and runs the same code", () => {
    const dir = temporaryDir();
    const cacheDir = path.join(dir, "cache");
    const file = scriptFile(dir, "a.cjs", "a");
    const first = load(file, cacheDir);
    expect(first).toMatchObject({ status: "miss", exports: expected("a") });
    first.save();
    const [entry, ...others] = entries(cacheDir);
    expect(others).toEqual([]);
    const second = load(file, cacheDir);
    expect(second).toMatchObject({ status: "hit", exports: expected("a") });
    // A hit is not written again.
    const before = readFileSync(entry!);
    second.save();
    expect(readFileSync(entry!).equals(before)).toBe(true);
  });

  it("is not used for a changed script, whose own entry is made beside it", () => {
    const dir = temporaryDir();
    const cacheDir = path.join(dir, "cache");
    const file = scriptFile(dir, "a.cjs", "a");
    load(file, cacheDir).save();
    scriptFile(dir, "a.cjs", "b");
    const changed = load(file, cacheDir);
    expect(changed).toMatchObject({ status: "miss", exports: expected("b") });
    changed.save();
    expect(entries(cacheDir)).toHaveLength(2);
    expect(load(file, cacheDir)).toMatchObject({ status: "hit", exports: expected("b") });
  });

  it("refuses a corrupt or torn entry, runs the script from source and writes a good entry", () => {
    for (const damage of [(b: Buffer) => b.fill(0x5a, b.length - 200, b.length - 100), (b: Buffer) => b.subarray(0, Math.floor(b.length / 2)), () => Buffer.alloc(0)]) {
      const dir = temporaryDir();
      const cacheDir = path.join(dir, "cache");
      const file = scriptFile(dir, "a.cjs", "a");
      load(file, cacheDir).save();
      const [entry] = entries(cacheDir);
      writeFileSync(entry!, damage(readFileSync(entry!)));
      const damaged = load(file, cacheDir);
      expect(damaged).toMatchObject({ status: "corrupt", exports: expected("a") });
      damaged.save();
      expect(load(file, cacheDir)).toMatchObject({ status: "hit", exports: expected("a") });
    }
  });

  it("refuses an entry made for another script of the same length, which V8 alone would run", () => {
    const dir = temporaryDir();
    const cacheDir = path.join(dir, "cache");
    const a = scriptFile(dir, "a.cjs", "a");
    load(a, cacheDir).save();
    const [entryOfA] = entries(cacheDir);
    // Same name, same length, other code: its entry's path is taken by a's entry.
    const b = scriptFile(dir, "a.cjs", "b");
    load(b, path.join(dir, "other")).save();
    const [entryOfB] = entries(path.join(dir, "other"));
    writeFileSync(path.join(cacheDir, path.basename(entryOfB!)), readFileSync(entryOfA!));
    expect(load(b, cacheDir)).toMatchObject({ status: "corrupt", exports: expected("b") });
  });

  it("takes an entry that V8 refuses (another Node's, say) as a miss, and replaces it", () => {
    const dir = temporaryDir();
    const cacheDir = path.join(dir, "cache");
    const a = scriptFile(dir, "a.cjs", "a");
    load(a, path.join(dir, "other")).save();
    const [entryOfA] = entries(path.join(dir, "other"));
    // V8's data for another script, framed as a good entry for this one (which this
    // process has not compiled, so V8 has no copy of its own to use instead).
    const c = scriptFile(dir, "c.cjs", "c, longer");
    const data = dataOf(readFileSync(entryOfA!));
    const sha1 = (b: Buffer | string) => createHash("sha1").update(b).digest();
    const key = createHash("sha1").update(sha1(readFileSync(c, "utf8"))).update(`${process.version}\0${process.arch}\0${process.execArgv.join(" ")}\0${process.env.NODE_OPTIONS ?? ""}`).digest("hex");
    const rest = Buffer.concat([Buffer.from([0, 0]), data]);
    mkdirSync(cacheDir);
    writeFileSync(path.join(cacheDir, `c.cjs-${key}.bin`), Buffer.concat([sha1(readFileSync(c, "utf8")), sha1(rest), rest]));
    const refused = load(c, cacheDir);
    expect(refused).toMatchObject({ status: "rejected", exports: expected("c, longer") });
    refused.save();
    expect(entries(cacheDir)).toHaveLength(1);
    expect(dataOf(readFileSync(entries(cacheDir)[0]!)).equals(data)).toBe(false);
  });

  it("is extended once by the first run of each other use, and holds what every use compiled", () => {
    const dir = temporaryDir();
    const cacheDir = path.join(dir, "cache");
    const file = scriptFile(dir, "a.cjs", "a");
    const loadAs = (use: string) => {
      const script = compileCachedScript(file, cacheDir, ["extraArgument"], use);
      script.run({ require: createRequire(file), extra: [() => "passed in"] });
      return script;
    };
    loadAs("version").save();
    const entry = entries(cacheDir)[0]!;
    const byVersion = readFileSync(entry);
    const run = loadAs("run");
    expect(run).toMatchObject({ status: "hit", uses: ["version", "run"] });
    run.save();
    expect(readFileSync(entry).equals(byVersion)).toBe(false);
    const byBoth = readFileSync(entry);
    for (const use of ["run", "version"]) {
      const again = loadAs(use);
      expect(again).toMatchObject({ status: "hit", uses: ["version", "run"] });
      again.save();
      expect(readFileSync(entry).equals(byBoth)).toBe(true);
    }
  });

  it("keeps the three latest entries of other builds, and removes abandoned temporary files", () => {
    const dir = temporaryDir();
    const cacheDir = path.join(dir, "cache");
    mkdirSync(cacheDir);
    const file = scriptFile(dir, "a.cjs", "a");
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
    const stale = (name: string, hours: number) => {
      writeFileSync(path.join(cacheDir, name), "old");
      utimesSync(path.join(cacheDir, name), hoursAgo(hours), hoursAgo(hours));
    };
    for (let i = 1; i <= 5; i++) stale(`a.cjs-${String(i).repeat(40)}.bin`, i);
    stale("a.cjs-6666.123-ab.tmp", 2);
    stale("a.cjs-7777.123-ab.tmp", 0);
    stale("b.cjs-8888888888888888888888888888888888888888.bin", 10);
    load(file, cacheDir).save();
    const [made] = readdirSync(cacheDir).filter((n) => n.startsWith("a.cjs-") && n.endsWith(".bin") && readFileSync(path.join(cacheDir, n), "utf8") !== "old");
    expect(readdirSync(cacheDir).sort()).toEqual([made, `a.cjs-${"1".repeat(40)}.bin`, `a.cjs-${"2".repeat(40)}.bin`, `a.cjs-${"3".repeat(40)}.bin`, "a.cjs-7777.123-ab.tmp", "b.cjs-8888888888888888888888888888888888888888.bin"].sort());
  });

  it("runs when the cache cannot be written, and leaves nothing behind", () => {
    const dir = temporaryDir();
    // A file where the cache dir would be: mkdir fails (root or not, unlike a mode 0500 dir).
    writeFileSync(path.join(dir, "cache"), "");
    const file = scriptFile(dir, "a.cjs", "a");
    const first = load(file, path.join(dir, "cache", "code"));
    expect(first).toMatchObject({ status: "miss", exports: expected("a") });
    expect(() => first.save()).not.toThrow();
    expect(readdirSync(dir).sort()).toEqual(["a.cjs", "cache"]);
  });
});

/** Runs the CLI with its caches in `home`, in `cwd`; `shell` wraps the command (e.g. to set a ulimit). */
function brewkit(home: string, args: string[], shell = "", cwd = home): Promise<{ code: number | null; stdout: string; stderr: string; trace: string }> {
  const traceFile = path.join(home, `trace-${Math.random().toString(16).slice(2)}.jsonl`);
  return new Promise((resolve, reject) => {
    const argv = [process.execPath, brewkitBin, ...args].map((a) => `'${a}'`).join(" ");
    const child = spawn("/bin/sh", ["-c", `${shell} exec ${argv}`], { cwd, env: { ...process.env, BREWKIT_HOME: home, BREWKIT_TRACE: traceFile, NODE_OPTIONS: "" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      let trace = "";
      try {
        trace = readFileSync(traceFile, "utf8");
      } catch {
        // No event was traced.
      }
      resolve({ code, stdout, stderr, trace });
    });
  });
}

const cacheStatus = (trace: string) => trace.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { event: string; status?: string }).find((e) => e.event === "code-cache")?.status;
const codeEntries = (home: string) => readdirSync(path.join(home, "cache", "code"));

describe("brewkit's start with the code cache", () => {
  it("concurrent first starts all run, and leave one whole entry that the next start uses", async () => {
    const home = temporaryDir();
    const runs = await Promise.all(Array.from({ length: 6 }, () => brewkit(home, ["--version"])));
    for (const run of runs) expect(run).toMatchObject({ code: 0, stderr: "" });
    for (const run of runs) expect(run.stdout).toContain(version);
    expect(codeEntries(home).filter((n) => n.endsWith(".bin"))).toHaveLength(1);
    expect(codeEntries(home).filter((n) => !n.endsWith(".bin"))).toEqual([]);
    const next = await brewkit(home, ["--version"]);
    expect(next.stdout).toContain(version);
    expect(cacheStatus(next.trace)).toBe("hit");
  });

  it("runs on a full disk, keeping no partial entry", async () => {
    const home = temporaryDir();
    mkdirSync(path.join(home, "cache", "code"), { recursive: true });
    // Files may not grow past 64 KiB: the entry's write fails part way (EFBIG, as ENOSPC would).
    const run = await brewkit(home, ["--version"], "ulimit -f 64;");
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toContain(version);
    expect(codeEntries(home)).toEqual([]);
    expect(cacheStatus((await brewkit(home, ["--version"])).trace)).toBe("miss");
  });

  it("runs with a read-only cache", async () => {
    const home = temporaryDir();
    writeFileSync(path.join(home, "cache"), "not a directory");
    const run = await brewkit(home, ["--version"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toContain(version);
  });

  it("a corrupt entry costs only the compile", async () => {
    const home = temporaryDir();
    await brewkit(home, ["--version"]);
    const [entry] = codeEntries(home);
    const file = path.join(home, "cache", "code", entry!);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.fill(0x00, 100, bytes.length));
    const run = await brewkit(home, ["--help"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toContain("brewkit run");
    expect(cacheStatus(run.trace)).toBe("corrupt");
    expect(cacheStatus((await brewkit(home, ["--help"])).trace)).toBe("hit");
  });

  it("keeps the config's modules in Node's compile cache where Node has one (22.1+), where a corrupt entry costs only the compile", async () => {
    const home = temporaryDir();
    const project = temporaryDir();
    mkdirSync(path.join(project, "node_modules"));
    symlinkSync(fileURLToPath(new URL("../../", import.meta.url)), path.join(project, "node_modules", "brewkit"), "dir");
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(path.join(project, "brewkit.config.ts"), 'import { target, scratch } from "brewkit";\n/** the one target */\nexport const only = target({ from: scratch, command: "true", description: "the one target" });\n');
    const compileCache = path.join(home, "cache", "compile");
    const files = () => readdirSync(compileCache, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    const first = await brewkit(home, ["targets"], "", project);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(first.stdout).toContain("the one target");
    const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
    if (major < 22 || (major === 22 && minor < 1)) {
      // Node 20 has none: nothing is made in its place.
      expect(readdirSync(path.join(home, "cache"))).not.toContain("compile");
      return;
    }
    expect(files().length).toBeGreaterThan(0);
    for (const file of files()) writeFileSync(file, Buffer.alloc(64, 0x5a));
    const damaged = await brewkit(home, ["targets"], "", project);
    expect(damaged).toMatchObject({ code: 0, stderr: "" });
    expect(damaged.stdout).toContain("the one target");
  });
});
