import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { brewkit, repoRoot } from "../support/project.ts";

describe("a target library shared through npm", () => {
  it("packs, installs into a fresh project, typechecks there and builds", async () => {
    const work = mkdtempSync(path.join(tmpdir(), "bk-library-"));
    const packed = execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: path.join(repoRoot, "packages/brewkit-shell"), encoding: "utf8" });
    const tarball = path.join(work, (JSON.parse(packed) as Array<{ filename: string }>)[0]!.filename);

    const project = path.join(work, "project");
    mkdirSync(path.join(project, "src"), { recursive: true });
    writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { brewkit: `file:${repoRoot}`, "brewkit-shell": `file:${tarball}` } }, null, 2),
    );
    writeFileSync(
      path.join(project, "brewkit.config.ts"),
      `import { shellProject } from "brewkit-shell";\n\nconst greet = shellProject({ name: "greet", script: "src/greet.sh", test: "test.sh" });\nexport const { base, test, build } = greet;\nexport default greet.build;\n`,
    );
    writeFileSync(path.join(project, "src/greet.sh"), '#!/bin/sh\necho "hello, ${1:-world}"\n');
    writeFileSync(path.join(project, "test.sh"), '[ "$(sh src/greet.sh lib)" = "hello, lib" ] && echo "library tests passed"\n');
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, allowImportingTsExtensions: true, skipLibCheck: true }, include: ["brewkit.config.ts"] }),
    );
    execFileSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: project, stdio: "pipe" });

    // The config typechecks with TypeScript against the installed library's types...
    const tsc = path.join(repoRoot, "node_modules/.bin/tsc");
    execFileSync(tsc, ["-p", "tsconfig.json"], { cwd: project, stdio: "pipe" });
    // ...and a misuse of the library's options is a type error.
    writeFileSync(path.join(project, "bad.ts"), `import { shellProject } from "brewkit-shell";\nshellProject({ name: 42, script: "x" });\n`);
    let typeError = "";
    try {
      execFileSync(tsc, ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--allowImportingTsExtensions", "--skipLibCheck", "--ignoreConfig", "bad.ts"], { cwd: project, encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      typeError = String((err as { stdout?: string }).stdout);
    }
    expect(typeError).toContain("bad.ts(2,16)");

    const result = await brewkit(["run"], { cwd: project });
    expect(result.stderr).toContain("library tests passed");
    expect(result.stderr).toContain("✔ build");
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(project, "dist/greet"), "utf8")).toContain("hello");
  });
});
