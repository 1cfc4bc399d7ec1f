import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { brewkit, makeProject, type CliResult } from "../support/project.ts";

const noStackTrace = /^\s+at /m;
// No daemon listens here: any of these errors that needed one would say it cannot reach it.
const nowhere = "unix:///nonexistent/brewkit/validation.sock";
const daemonError = "cannot reach the BuildKit daemon";

/** The 1-based line of `text` holding `needle` (which must be on exactly one line). */
function lineOf(text: string, needle: string): number {
  const lines = text.split("\n").flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  if (lines.length !== 1) throw new Error(`"${needle}" is on ${lines.length} lines of the config`);
  return lines[0]!;
}

/** Runs brewkit against the missing daemon. */
function offline(args: string[], cwd: string): Promise<CliResult> {
  return brewkit([...args, "--addr", nowhere], { cwd });
}

/** A user error: exit code 1, each of `parts` on stderr, a hint, no stack trace, no daemon involved. */
function expectUserError(result: CliResult, ...parts: string[]): void {
  for (const part of parts) expect(result.stderr).toContain(part);
  expect(result.stderr).toContain("\nhint: ");
  expect(result.stderr).not.toMatch(noStackTrace);
  expect(result.stderr).not.toContain(daemonError);
  expect(result.code).toBe(1);
}

describe("errors found before anything reaches the daemon", () => {
  const config = `import { target, cache } from "brewkit";

const later = [];
export const a = target({ from: "busybox", dependsOn: later });
export const b = target({ from: a });
later.push(b);

export const build = target({ from: "busybox", command: "true" });

export const app = target({
  from: "busybox",
  workdir: "/src",
  copy: ["README.md", "scr"],
});

export const out = target({
  from: "busybox",
  output: { artifact: "/o", local: "../elsewhere" },
});
export const outAllowed = target({ from: "busybox", output: { artifact: "/o", local: "../elsewhere", allowOutsideProject: true } });

export const withCache = target({ from: "busybox", cache: [cache("deps", "/deps")] });
export const sameCache = target({
  from: withCache,
  cache: [cache("deps", "/other")],
});

export const tooLong = target({ from: "busybox", platform: "linux/amd64/x/y" });
export const mips = target({ from: "busybox", platform: "linux/mips99" });
`;
  const project = makeProject({ "brewkit.config.ts": config, "README.md": "read me\n", "src/main.c": "int main;\n" });
  const file = path.join(project, "brewkit.config.ts");
  const at = (exportName: string) => `${file}:${lineOf(config, `export const ${exportName} = target(`)}: `;

  it("a dependency cycle is printed, at the target that closes it", async () => {
    const result = await offline(["run", "a"], project);
    expectUserError(result, `error: ${at("a")}target "a": dependency cycle: a → b → a`, "hint: remove one of the links");
  });

  it("a misspelled target gets the nearest name and the list", async () => {
    const result = await offline(["run", "biuld"], project);
    expectUserError(result, 'error: unknown target "biuld" (did you mean "build"?); available targets: a, app, b, build,', "hint: run `brewkit targets`");
  });

  it("a copy source that does not exist is named, with a near name", async () => {
    const result = await offline(["run", "app"], project);
    expectUserError(result, `error: ${at("app")}target "app", field "copy[1].src": `, "scr", "does not exist", 'did you mean "src"');
  });

  it("an output outside the project is refused unless allowed", async () => {
    const result = await offline(["run", "out"], project);
    expectUserError(result, `error: ${at("out")}target "out", field "output[0].local": ../elsewhere is outside the project directory ${project}`, "allowOutsideProject: true");
    // Allowed, it passes validation and only then needs the daemon.
    const allowed = await offline(["run", "outAllowed"], project);
    expect(allowed.stderr).toContain(daemonError);
  });

  it("one cache id mounted at two paths names both", async () => {
    const result = await offline(["run", "sameCache"], project);
    expectUserError(result, `error: ${at("sameCache")}target "sameCache", field "cache[0]": cache "deps" is mounted at /other here but at /deps in target "withCache"`, "hint: use one path per cache id");
  });

  it("invalid platforms say what is wrong and what is valid", async () => {
    const tooLong = await offline(["run", "tooLong"], project);
    expectUserError(tooLong, `error: ${at("tooLong")}target "tooLong", field "platform": "linux/amd64/x/y" is not of the form os/arch or os/arch/variant`, '"linux/arm64"');
    const mips = await offline(["run", "mips"], project);
    expectUserError(mips, `error: ${at("mips")}target "mips", field "platform": unknown architecture "mips99" in "linux/mips99"`);
  });
});

describe("definition lines", () => {
  const config = `import { target, variable } from "brewkit";

export const first = target({ from: "busybox" });

export const broken = target({
  from: "busybox",
  workdir: 5,
});

const hiddenBase = target({ from: 42 });
export const onHidden = target({ from: hiddenBase });

const version = variable({ from: "busybox", copy: "VERSON", command: "cat VERSON" });
export const usesVersion = target({ from: "busybox", env: { VERSION: version } });
`;
  const kinds: Array<[string, Record<string, string>]> = [
    ['a CommonJS project (no "type": "module")', {}],
    ["an ES module project", { "package.json": '{ "type": "module" }\n' }],
  ];

  for (const [kind, extra] of kinds) {
    describe(`in ${kind}`, () => {
      const project = makeProject({ "brewkit.config.ts": config, VERSION: "1.0\n", ...extra });
      const file = path.join(project, "brewkit.config.ts");

      it("are those of the target() call of an exported target", async () => {
        const result = await offline(["run", "broken"], project);
        expectUserError(result, `error: ${file}:${lineOf(config, "export const broken")}: target "broken", field "workdir": must be a string, got number 5`);
      });

      it("are those of the call for a target that is not exported", async () => {
        const line = lineOf(config, "const hiddenBase");
        const result = await offline(["run", "onHidden"], project);
        expectUserError(result, `error: ${file}:${line}: target "onHidden>from", field "from": must be an image reference string`);
      });

      it("are those of the variable() call for a variable's copy", async () => {
        const line = lineOf(config, "const version");
        const result = await offline(["run", "usesVersion"], project);
        expectUserError(result, `error: ${file}:${line}: target "usesVersion>env.VERSION", field "copy[0].src": `, "VERSON", "does not exist", 'did you mean "VERSION"');
      });
    });
  }
});

describe("plain JavaScript configs", () => {
  const config = `import { target } from "brewkit";

export const ok = target({ from: "busybox", command: "true" });
export const fromNumber = target({ from: 42 });
export const envString = target({ from: "busybox", env: "x" });
export const commandNumber = target({ from: "busybox", command: 7 });
export const copyEmpty = target({ from: "busybox", copy: [{}] });
export const platformParts = target({ from: "busybox", platform: "linux/amd64/x/y" });
export const platformArch = target({ from: "busybox", platform: "linux/mips99" });
`;
  const project = makeProject({ "brewkit.config.mjs": config });
  const file = path.join(project, "brewkit.config.mjs");
  const cases: Array<[string, string, string]> = [
    ["fromNumber", "from", "must be an image reference string, image(...), another target, or scratch"],
    ["envString", "env", "must be an object of names to values"],
    ["commandNumber", "command", "must be a shell string or a non-empty array of strings"],
    ["copyEmpty", "copy[0].src", "must be a non-empty path"],
    ["platformParts", "platform", '"linux/amd64/x/y" is not of the form os/arch or os/arch/variant'],
    ["platformArch", "platform", 'unknown architecture "mips99" in "linux/mips99"'],
  ];

  for (const [name, field, problem] of cases) {
    it(`${name}: values of the wrong type are named by field`, async () => {
      const result = await offline(["run", name], project);
      expectUserError(result, `error: ${file}:${lineOf(config, `export const ${name} =`)}: target "${name}", field "${field}": ${problem}`);
    });
  }

  it("are found from a subdirectory, and a .ts config next to them wins", async () => {
    const js = makeProject({ "brewkit.config.js": config, "package.json": '{ "type": "module" }\n', "sub/dir/.keep": "" });
    const listed = await offline(["targets"], path.join(js, "sub", "dir"));
    expect(listed.stdout.split("\n")).toContain("commandNumber");
    expect(listed.code).toBe(0);
    const both = makeProject({ "brewkit.config.mjs": config, "brewkit.config.ts": 'import { target } from "brewkit";\nexport const fromTs = target({ from: "busybox" });\n' });
    expect((await offline(["targets"], both)).stdout.trim()).toBe("fromTs");
  });
});

describe("brewkit check", () => {
  it("passes a good config without a daemon", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { group, target } from "brewkit";
export const base = target({ from: "busybox", copy: "src" });
export const app = target({ from: base, workdir: "/src", command: ["make", "app"] });
export const test = target({ from: app, command: "make test" });
export const all = group(app, test);
export const ci = group({ description: "what CI builds", targets: [test] });
`,
      "src/Makefile": "app:\n",
    });
    const result = await offline(["check"], project);
    expect(result.stdout + result.stderr).toMatch(/✔ .*brewkit\.config\.ts: 3 targets, 2 groups checked/);
    expect(result.stderr).not.toContain("error:");
    expect(result.stderr).not.toContain(daemonError);
    expect(result.code).toBe(0);
  });

  it("reports type errors with file:line:col, in the config and the files it imports only", async () => {
    const config = `import { target } from "brewkit";
import { baseImage } from "./lib/images.ts";

export const app = target({
  from: baseImage,
  workdir: 5,
});
`;
    const images = `export const baseImage = "busybox";\nexport const retries: number = "3";\n`;
    const project = makeProject({ "brewkit.config.ts": config, "lib/images.ts": images, "lib/unused.ts": "export const n: number = 'not imported';\n" });
    const result = await offline(["check"], project);
    const workdirLine = lineOf(config, "workdir: 5");
    expect(result.stderr).toMatch(new RegExp(`brewkit\\.config\\.ts:${workdirLine}:3: Type 'number' is not assignable to type 'string'`));
    expect(result.stderr).toMatch(/lib[\\/]images\.ts:2:14: Type 'string' is not assignable to type 'number'/);
    expect(result.stderr).not.toContain("unused.ts");
    // The plan is still validated: tsx runs the config despite its type errors.
    expect(result.stderr).toContain(`${path.join(project, "brewkit.config.ts")}:${lineOf(config, "export const app")}: target "app", field "workdir": must be a string, got number 5`);
    expect(result.stderr).not.toMatch(noStackTrace);
    expect(result.stderr).not.toContain(daemonError);
    expect(result.code).toBe(1);
  });

  it("reports the plan errors of every target without contacting a daemon", async () => {
    const config = `import { target } from "brewkit";
export const fine = target({ from: "busybox" });
export const missing = target({ from: "busybox", copy: "nothing-here" });
export const badPlatform = target({ from: "busybox", platform: "linux/mips99" });
`;
    const project = makeProject({ "brewkit.config.ts": config });
    const result = await offline(["check"], project);
    const file = path.join(project, "brewkit.config.ts");
    expectUserError(
      result,
      `error: ${file}:${lineOf(config, "export const missing")}: target "missing", field "copy[0].src": `,
      "nothing-here",
      `error: ${file}:${lineOf(config, "export const badPlatform")}: target "badPlatform", field "platform": unknown architecture "mips99"`,
    );
    expect(result.stderr).not.toMatch(/error: .*brewkit\.config\.ts:\d+:\d+: /);
  });

  it("validates a plain JavaScript config, saying it is not typechecked", async () => {
    const config = `import { target } from "brewkit";\nexport const a = target({ from: 42 });\n`;
    const project = makeProject({ "brewkit.config.mjs": config });
    const result = await offline(["check"], project);
    expect(result.stderr).toMatch(/JavaScript/);
    expectUserError(result, `error: ${path.join(project, "brewkit.config.mjs")}:2: target "a", field "from": must be an image reference string`);
  });

  it("typechecks with the project's own TypeScript", async () => {
    // A stand-in package: the real compiler under a version number only it reports.
    const real = createRequire(import.meta.url).resolve("typescript");
    const project = makeProject({
      "brewkit.config.ts": `import { target } from "brewkit";\nexport const a = target({ from: "busybox" });\n`,
      "node_modules/typescript/package.json": '{ "name": "typescript", "version": "0.0.0-project", "main": "index.js" }\n',
      "node_modules/typescript/index.js": `module.exports = { ...require(${JSON.stringify(real)}), version: "0.0.0-project" };\n`,
    });
    const result = await offline(["check"], project);
    expect(result.stdout + result.stderr).toContain("TypeScript 0.0.0-project");
    expect(result.code).toBe(0);
  });
});
