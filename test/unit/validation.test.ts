import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BrewkitError } from "../../src/errors.ts";
import { cache, fmt, group, target, variable, type Target } from "../../src/model/index.ts";
import { resolveHostPaths, createPlan, PlanError, type HostFs, type Plan, type PlanInput } from "../../src/plan/index.ts";

const thisFile = fileURLToPath(import.meta.url);
const source = readFileSync(thisFile, "utf8").split("\n");

/** The line holding `// marker` in this file: where a target under test is defined. */
function lineOf(marker: string): number {
  const lines = source.flatMap((text, i) => (text.includes(`// ${marker}`) ? [i + 1] : []));
  if (lines.length !== 1) throw new Error(`marker ${marker} must be on exactly one line, found ${lines.length}`);
  return lines[0]!;
}

/** The `file:line: ` prefix of errors about the target defined at `// marker`. */
function at(marker: string): string {
  return `${thisFile}:${lineOf(marker)}: `;
}

const projectDir = "/project";

function input(targets: Record<string, Target>, extra: Partial<PlanInput> = {}): PlanInput {
  return { configFile: path.join(projectDir, "brewkit.config.ts"), projectDir, targets: new Map(Object.entries(targets)), groups: new Map(), defaultName: undefined, ignorePatterns: [], ...extra };
}

/** The user error `fn` throws; fails the test when it throws nothing or something else. */
function errorOf(fn: () => unknown): BrewkitError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BrewkitError) return err;
    throw new Error(`expected a user error, got ${String(err)}`, { cause: err });
  }
  throw new Error("expected an error, nothing was thrown");
}

/** A file system holding exactly `paths` (and their parent directories); records what was asked. */
function fakeFs(paths: string[]): HostFs & { asked: string[] } {
  const all = new Set<string>();
  for (const p of paths) for (let d = p; d !== path.dirname(d); d = path.dirname(d)) all.add(d);
  const asked: string[] = [];
  return {
    asked,
    exists: (p) => (asked.push(p), all.has(p)),
    list: (dir) => [...all].filter((p) => path.dirname(p) === dir && p !== dir).map((p) => path.basename(p)),
    realPath: (p) => (all.has(p) ? p : undefined),
    readLink: () => undefined,
  };
}

describe("dependency cycles", () => {
  it("print the cycle at the target that closes it, with how to break it", () => {
    // Targets are frozen, but a dependsOn list filled in afterwards can still close a loop.
    const later: Target[] = [];
    const a = target({ from: "busybox", dependsOn: later }); // cycle-a
    const b = target({ from: a });
    later.push(b);
    const err = errorOf(() => createPlan(input({ a, b }), ["a"]));
    expect(err).toBeInstanceOf(PlanError);
    expect(err.message).toBe(`${at("cycle-a")}target "a": dependency cycle: a → b → a`);
    expect(err.hint).toBe("remove one of the links (from, dependsOn, copy.from or a variable) in the cycle");
  });
});

describe("unknown targets", () => {
  const build = target({ from: "busybox" });
  const test = target({ from: "busybox" });

  it("suggest the nearest name and list the available ones", () => {
    const err = errorOf(() => createPlan(input({ build, test }), ["biuld"]));
    expect(err.message).toBe('unknown target "biuld" (did you mean "build"?); available targets: build, test');
    expect(err.hint).toBe("run `brewkit targets` to list them");
  });

  it("suggest nothing for a name that is not close to any", () => {
    const err = errorOf(() => createPlan(input({ build, test }), ["deploy"]));
    expect(err.message).toBe('unknown target "deploy"; available targets: build, test');
  });
});

describe("copy sources that do not exist", () => {
  const files = ["/project/src/main.c", "/project/README.md", "/project/VERSION", "/usr/bin/busybox"];
  const plan = (t: Target): Plan => createPlan(input({ t }), ["t"]);

  it("are named with the target, the field, a near name and the fix", () => {
    const t = target({ from: "busybox", copy: ["README.md", "scr"] }); // copy-missing
    const err = errorOf(() => resolveHostPaths(plan(t), fakeFs(files)));
    expect(err).toBeInstanceOf(PlanError);
    expect(err.message).toBe(`${at("copy-missing")}target "t", field "copy[1].src": copy source scr does not exist (did you mean "src"?)`);
    expect(err.hint).toBe("create it, or fix the path (host paths are relative to the project directory)");
    expect(err.context).toMatchObject({ file: thisFile, line: lineOf("copy-missing"), target: "t", field: "copy[1].src" });
  });

  it("name an absolute path outside the project as written, with a near name from its directory", () => {
    const t = target({ from: "busybox", copy: { src: "/usr/bin/busyboxx", dest: "/bin/busybox" } });
    expect(errorOf(() => resolveHostPaths(plan(t), fakeFs(files))).message).toContain('field "copy[0].src": copy source /usr/bin/busyboxx does not exist (did you mean "/usr/bin/busybox"?)');
  });

  it("make no suggestion when nothing is close", () => {
    const t = target({ from: "busybox", copy: "assets/logo.png" });
    expect(errorOf(() => resolveHostPaths(plan(t), fakeFs(files))).message).toMatch(/field "copy\[0\]\.src": copy source assets\/logo\.png does not exist$/);
  });

  it("are found in the copies of variables too", () => {
    const version = variable({ from: "busybox", copy: "VERSON", command: "cat VERSON" }); // variable-copy
    const t = target({ from: "busybox", env: { VERSION: version } });
    const err = errorOf(() => resolveHostPaths(plan(t), fakeFs(files)));
    expect(err.message).toMatch(new RegExp(`^${escape(at("variable-copy"))}target "t>env\\.VERSION", field "copy\\[0\\]\\.src": copy source VERSON does not exist \\(did you mean "VERSION"\\?\\)$`));
  });

  it("pass when every host source exists; sources in other targets' results are not looked for on the host", () => {
    const t = target({ from: "busybox", copy: [".", "src", "src/main.c", { src: "/usr/bin/busybox", dest: "/bin/" }, { from: target({ from: "busybox" }), src: "/only/in/the/result" }] });
    const fs = fakeFs(files);
    expect(() => resolveHostPaths(plan(t), fs)).not.toThrow();
    expect(fs.asked).toContain("/project/src/main.c");
    expect(fs.asked).toContain("/usr/bin/busybox");
    expect(fs.asked.filter((p) => p.includes("only"))).toEqual([]);
  });

  it("report the first missing source in plan order", () => {
    const a = target({ from: "busybox", copy: ["src", "one", "two"] });
    const b = target({ from: a, copy: "three" });
    const err = errorOf(() => resolveHostPaths(createPlan(input({ a, b }), ["b"]), fakeFs(files)));
    expect(err.context).toMatchObject({ target: "a", field: "copy[1].src" });
  });
});

/** A file system with `paths` (and their parents) and symlinks `links` (path → target as written). */
function linkedFs(paths: string[], links: Record<string, string>): HostFs {
  const resolve = (p: string, depth = 0): string | undefined => {
    if (depth > 8) return undefined;
    const parts = p.split("/").filter(Boolean);
    let at = "/";
    for (const [i, part] of parts.entries()) {
      const next = path.join(at, part);
      const link = links[next];
      if (link !== undefined) {
        const target = resolve(path.resolve(at, link), depth + 1);
        if (target === undefined) return undefined;
        return resolve(path.join(target, ...parts.slice(i + 1)), depth + 1);
      }
      at = next;
    }
    return fake.exists(at) ? at : undefined;
  };
  const fake = fakeFs(paths);
  return { exists: (p) => resolve(p) !== undefined, list: fake.list, realPath: resolve, readLink: (p) => links[p] };
}

describe("copy sources that are symlinks", () => {
  const files = ["/project/real/a.txt", "/project/real/sub/b.txt", "/project/file.txt", "/elsewhere/secret", "/usr/bin/busybox"];
  const links = { "/project/linkdir": "real", "/project/linkfile": "./file.txt", "/project/out": "/elsewhere", "/project/up": "../elsewhere/secret", "/project/dangling": "nothere", "/opt/tool": "/usr/bin/busybox" };
  const plan = (t: Target): Plan => createPlan(input({ t }, { ignorePatterns: ["*.log"] }), ["t"]);
  const copiesOf = (t: Target) => resolveHostPaths(plan(t), linkedFs(files, links)).targets.get("t")!.copies;

  it("inside the project are copied as what they point to, under the name the config gave", () => {
    const t = target({ from: "busybox", copy: ["linkfile", { src: "linkdir", include: ["*.txt"], exclude: ["sub"] }, "linkdir/sub/b.txt", "real"] });
    const [file, dir, below, plain] = copiesOf(t);
    expect(file).toMatchObject({ kind: "host", hostRoot: "/project", srcPath: "file.txt", dest: "linkfile", include: ["file.txt"] });
    expect(dir).toMatchObject({ srcPath: "real", dest: "linkdir", include: ["real/*.txt"], exclude: ["*.log", "real/sub"] });
    expect(below).toMatchObject({ srcPath: "real/sub/b.txt", dest: "linkdir/sub/b.txt", include: ["real/sub/b.txt"] });
    // Not a link: the copy is the one planned.
    expect(plain).toEqual(plan(t).targets.get("t")!.copies[3]);
  });

  it("keep a destination the config set", () => {
    const t = target({ from: "busybox", copy: { src: "linkdir", dest: "/app" } });
    expect(copiesOf(t)[0]).toMatchObject({ srcPath: "real", dest: "/app" });
  });

  it("outside the project (an absolute path) are followed too", () => {
    const t = target({ from: "busybox", copy: { src: "/opt/tool", dest: "/bin/busybox" } });
    expect(copiesOf(t)[0]).toMatchObject({ hostRoot: "/usr/bin", srcPath: "busybox", dest: "/bin/busybox", include: ["busybox"] });
  });

  it("are refused when they leave the project", () => {
    for (const [src, real] of [["out", "/elsewhere"], ["up", "/elsewhere/secret"]] as const) {
      const t = target({ from: "busybox", copy: ["real", src] }); // link-outside
      const err = errorOf(() => copiesOf(t));
      expect(err).toBeInstanceOf(PlanError);
      expect(err.message).toBe(`${at("link-outside")}target "t", field "copy[1].src": copy source ${src} is a symlink to ${real}, outside the project`);
      expect(err.hint).toContain(`copy: { src: "${real}", dest: "${src}" }`);
    }
  });

  it("are refused when they point at nothing", () => {
    const t = target({ from: "busybox", copy: "dangling" }); // link-dangling
    const err = errorOf(() => copiesOf(t));
    expect(err.message).toBe(`${at("link-dangling")}target "t", field "copy[0].src": copy source dangling is a symlink to nothere, which does not exist`);
    expect(err.context).toMatchObject({ target: "t", field: "copy[0].src", line: lineOf("link-dangling") });
  });

  it("leave the plan as it was when no copy is a link", () => {
    const p = plan(target({ from: "busybox", copy: ["real", "file.txt"] }));
    expect(resolveHostPaths(p, linkedFs(files, links))).toBe(p);
  });

  it("are resolved in the copies of variables too", () => {
    const version = variable({ from: "busybox", copy: "linkfile", command: "cat linkfile" });
    const t = target({ from: "busybox", env: { VERSION: version } });
    const resolved = resolveHostPaths(plan(t), linkedFs(files, links));
    expect(resolved.variables.get(version)!.target.copies[0]).toMatchObject({ srcPath: "file.txt", dest: "linkfile" });
  });
});

describe("output paths outside the project", () => {
  it("are refused unless allowOutsideProject is set", () => {
    const out = target({ from: "busybox", output: [{ artifact: "/o", local: "dist" }, { artifact: "/o", local: "../elsewhere" }] }); // output-outside
    const err = errorOf(() => createPlan(input({ out }), ["out"]));
    expect(err.message).toBe(`${at("output-outside")}target "out", field "output[1].local": ../elsewhere is outside the project directory /project`);
    expect(err.hint).toBe("write inside the project, or set allowOutsideProject: true on this output");
    const allowed = target({ from: "busybox", output: { artifact: "/o", local: "../elsewhere", allowOutsideProject: true } });
    expect(createPlan(input({ allowed }), ["allowed"]).targets.get("allowed")!.outputs[0]!.allowOutsideProject).toBe(true);
  });

  it("never replace the project directory itself", () => {
    const out = target({ from: "busybox", output: { artifact: "/o", local: ".", allowOutsideProject: true } }); // output-project
    const err = errorOf(() => createPlan(input({ out }), ["out"]));
    expect(err.message).toBe(`${at("output-project")}target "out", field "output[0].local": . would replace the project directory`);
    expect(err.hint).toContain('local: "dist"');
  });
});

describe("inputs that would otherwise build something else than meant", () => {
  // [spec, field, problem, part of the hint]
  const cases: Array<[Record<string, unknown>, string, string, string]> = [
    [{ from: "x", command: "" }, "command", "is an empty command", 'command: "make build"'],
    [{ from: "x", command: "  \n" }, "command", "is an empty command", "leave `command` out"],
    [{ from: "x", command: fmt`` }, "command", "is an empty command", 'command: "make build"'],
    [{ from: "x", commands: ["make", ""] }, "commands[1]", "is an empty command", 'command: "make build"'],
    [{ from: "x", command: ["", "build"] }, "command[0]", "is empty: the first element names the program to run", 'command: ["make", "build"]'],
    [{ from: "x", env: { "A=B": "c" } }, "env.A=B", 'the variable name "A=B" contains "=", which would end the name there', 'env: { A: "value" }'],
    [{ from: "x", env: { "": "c" } }, "env", "has a variable with an empty name", 'env: { MODE: "release" }'],
    [{ from: "x", output: { artifact: "/o", local: "~/dist" } }, "output[0].local", '~/dist starts with "~", which brewkit does not expand to your home directory (only a shell does): it would create a folder named "~" in the project', "allowOutsideProject: true"],
    [{ from: "x", output: { artifact: "/o", local: "~", allowOutsideProject: true } }, "output[0].local", '~ starts with "~", which brewkit does not expand to your home directory (only a shell does): it would create a folder named "~" in the project', 'local: "dist"'],
    [{ from: "x", cache: [cache("deps", "/deps", { hostDir: "~/.cache/deps" })] }, "cache[0].hostDir", '~/.cache/deps starts with "~", which brewkit does not expand to your home directory (only a shell does): it would create a folder named "~" in the project', "os.homedir()"],
  ];
  for (const [i, [spec, field, problem, hint]] of cases.entries()) {
    it(`case ${i + 1}, field ${field}: ${problem.split(":")[0]}`, () => {
      const t = target(spec as never); // build-else
      const err = errorOf(() => createPlan(input({ t }), ["t"]));
      expect(err.message).toBe(`${at("build-else")}target "t", field "${field}": ${problem}`);
      expect(err.hint).toContain(hint);
      expect(err.context).toMatchObject({ target: "t", field, line: lineOf("build-else"), file: thisFile });
    });
  }

  it("a variable's empty command is named too", () => {
    const version = variable({ from: "busybox", command: "" }); // empty-variable
    const t = target({ from: "busybox", env: { VERSION: version } });
    const err = errorOf(() => createPlan(input({ t }), ["t"]));
    expect(err.message).toMatch(new RegExp(`^${escape(at("empty-variable"))}target "t>env\\.VERSION", field "command": is an empty command$`));
  });

  it("commands, names and paths that only look alike are fine", () => {
    const t = target({ from: "x", env: { A: "B=C", "A.B": "" }, command: ["make", ""], output: [{ artifact: "/o", local: "dist/~" }, { artifact: "/o", local: "~dist" }] });
    const planned = createPlan(input({ t }), ["t"]).targets.get("t")!;
    expect(planned.env).toEqual([["A", "B=C"], ["A.B", ""]]);
    expect(planned.commands).toEqual([["make", ""]]);
  });
});

describe("duplicate cache ids", () => {
  it("with different mount paths name both targets and both paths", () => {
    const deps = target({ from: "busybox", cache: [cache("deps", "/deps")] });
    const app = target({ from: deps, workdir: "/src", cache: [cache("go", "/go"), cache("deps", "vendor")] }); // cache-dup
    const err = errorOf(() => createPlan(input({ deps, app }), ["app"]));
    expect(err.message).toBe(`${at("cache-dup")}target "app", field "cache[1]": cache "deps" is mounted at /src/vendor here but at /deps in target "deps"`);
    expect(err.hint).toBe("use one path per cache id, or give the caches different ids");
  });

  it("with the same path (relative paths resolved against the workdir) are fine", () => {
    const a = target({ from: "busybox", cache: [cache("deps", "/src/deps")] });
    const b = target({ from: a, workdir: "/src", cache: [cache("deps", "deps")] });
    expect(() => createPlan(input({ a, b }), ["b"])).not.toThrow();
  });
});

describe("invalid platforms", () => {
  const cases: Array<[string, string]> = [
    ["linux/amd64/x/y", '"linux/amd64/x/y" is not of the form os/arch or os/arch/variant'],
    ["linux", '"linux" is not of the form os/arch or os/arch/variant'],
    ["linux/mips99", 'unknown architecture "mips99" in "linux/mips99"'],
    ["plan10/amd64", 'unknown operating system "plan10" in "plan10/amd64"'],
  ];
  for (const [platform, problem] of cases) {
    it(`${platform}: ${problem}`, () => {
      const t = target({ from: "busybox", platform }); // platform
      const err = errorOf(() => createPlan(input({ t }), ["t"]));
      expect(err.message).toBe(`${at("platform")}target "t", field "platform": ${problem}`);
      expect(err.hint).toBe('use os/arch[/variant], e.g. "linux/amd64", "linux/arm64" or "linux/arm/v7"');
    });
  }

  it("accepts the usual ones", () => {
    for (const platform of ["linux/amd64", "linux/arm64", "linux/arm/v7", "windows/amd64"]) {
      expect(() => createPlan(input({ t: target({ from: "busybox", platform }) }), ["t"]), platform).not.toThrow();
    }
  });
});

describe("values of the wrong type, as a plain JavaScript config can write them", () => {
  // [spec, field, problem, part of the hint]
  const cases: Array<[Record<string, unknown>, string, string, string]> = [
    [{ from: 42 }, "from", "must be an image reference string, image(...), another target, or scratch", "from: scratch"],
    [{}, "from", "is missing", 'from: "debian:bookworm"'],
    [{ from: "" }, "from", "is an empty image reference", "or use scratch"],
    [{ from: "x", env: "x" }, "env", "must be an object of names to values", 'env: { CGO_ENABLED: "0" }'],
    [{ from: "x", env: { A: 1 } }, "env.A", "must be a string, a variable or fmt`...`, got number 1", 'env.A: "value"'],
    [{ from: "x", command: 7 }, "command", "must be a shell string or a non-empty array of strings", 'command: "make build"'],
    [{ from: "x", commands: "make" }, "commands", "must be a list of commands", "commands: ["],
    [{ from: "x", command: "a", commands: ["b"] }, "commands", "set either `command` or `commands`, not both", "move `command`"],
    [{ from: "x", copy: [{}] }, "copy[0].src", "must be a non-empty path", 'copy: "src"'],
    [{ from: "x", copy: 5 }, "copy[0].src", "must be a non-empty path", 'copy: "src"'],
    [{ from: "x", copy: { src: "a", exclude: "b" } }, "copy[0].exclude", 'must be a list of strings, got string "b"', 'copy[0].exclude: ["*.md"]'],
    [{ from: "x", copy: { src: "a", from: "build" } }, "copy[0].from", "must be a target", "copy: { from: build"],
    [{ from: "x", workdir: 5 }, "workdir", "must be a string, got number 5", 'workdir: "/src"'],
    [{ from: "x", platform: 5 }, "platform", "must be a string, got number 5", 'platform: "linux/arm64"'],
    [{ from: "x", network: "bridge" }, "network", 'unknown network mode "bridge"', '"default", "none" or "host"'],
    [{ from: "x", output: "dist" }, "output[0]", "needs `artifact` and `local`, `image`, or `tarball` and `format`", 'local: "bin"'],
    [{ from: "x", cache: ["go"] }, "cache[0]", "must be made by cache()", 'cache("go-mod", "/go/pkg/mod")'],
    [{ from: "x", secrets: [{ id: "npm" }] }, "secrets[0]", "must be made by secret()", 'secret("npm", "/root/.npmrc")'],
    [{ from: "x", dependsOn: ["lint"] }, "dependsOn[0]", "must be a target", "dependsOn: [lint, test]"],
  ];
  for (const [spec, field, problem, hint] of cases) {
    it(`${JSON.stringify(spec)} → field ${field}`, () => {
      const t = target(spec as never); // wrong-type
      const err = errorOf(() => createPlan(input({ t }), ["t"]));
      expect(err.message).toBe(`${at("wrong-type")}target "t", field "${field}": ${problem}`);
      expect(err.hint).toContain(hint);
      expect(err.context).toMatchObject({ target: "t", field, line: lineOf("wrong-type"), file: thisFile });
    });
  }
});

describe("plain JavaScript shapes that TypeScript would reject", () => {
  it("a single target as dependsOn is a list of one, as for copy and output", () => {
    const lint = target({ from: "busybox" });
    const app = target({ from: "busybox", dependsOn: lint as never });
    expect(createPlan(input({ lint, app }), ["app"]).waves).toEqual([["lint"], ["app"]]);
  });

  for (const ssh of [null, "yes", 1]) {
    it(`ssh: ${JSON.stringify(ssh)} is a field error`, () => {
      const t = target({ from: "busybox", ssh: ssh as never }); // ssh
      const err = errorOf(() => createPlan(input({ t }), ["t"]));
      expect(err.message).toMatch(new RegExp(`^${escape(at("ssh"))}target "t", field "ssh": `));
      expect(err.hint).toMatch(/ssh: true/);
    });
  }

  it("a group member that is not a target is named with the group's definition line", () => {
    const app = target({ from: "busybox" });
    const all = group(app, "test" as never); // group-member
    const err = errorOf(() => createPlan(input({ app }, { groups: new Map([["all", all]]) }), ["all"]));
    expect(err.message).toMatch(new RegExp(`^${escape(at("group-member"))}`));
    expect(err.message).toContain('"all"');
    expect(err.message).toContain("targets[1]");
    expect(err.hint).toBeTruthy();
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
