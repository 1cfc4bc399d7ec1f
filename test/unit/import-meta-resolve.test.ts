// import.meta.resolve of compiled configs: brewkit's resolution from the file that calls
// it must give what Node's own import.meta.resolve gives in that file. Node is the oracle:
// a probe module placed in a fixture tree prints what Node resolves there.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { resolveFrom } from "../../src/config/import-meta-resolve.ts";

const json = (value: unknown) => JSON.stringify(value);

const fixture: Record<string, string> = {
  "package.json": json({ name: "selfpkg", exports: { ".": "./self.js", "./x": "./self-x.js" }, imports: { "#internal": "./internal.js", "#dep": "cond", "#star/*": "./stars/*.js", "#off": null } }),
  "self.js": "",
  "self-x.js": "",
  "internal.js": "",
  "stars/a.js": "",
  "sub/deep/exists.js": "",
  "node_modules/main-only/package.json": json({ main: "lib/main" }),
  "node_modules/main-only/lib/main.js": "",
  "node_modules/main-dir/package.json": json({ main: "lib" }),
  "node_modules/main-dir/lib/index.js": "",
  "node_modules/main-missing/package.json": json({ main: "gone.js" }),
  "node_modules/index-default/package.json": json({ name: "index-default" }),
  "node_modules/index-default/index.js": "",
  "node_modules/index-default/other.js": "",
  "node_modules/cond/package.json": json({
    exports: {
      ".": { node: { import: "./esm.js", require: "./cjs.js" }, default: "./default.js" },
      "./features/*.js": "./src/features/*.js",
      "./features/private/*": null,
      "./features/*": { import: "./src/features/*/index.js" },
      "./fallback": ["not-relative", "./ok.js"],
      "./browser": { browser: "./b.js" },
    },
  }),
  "node_modules/cond/esm.js": "",
  "node_modules/cond/cjs.js": "",
  "node_modules/cond/ok.js": "",
  "node_modules/cond/src/features/a.js": "",
  "node_modules/sugar/package.json": json({ exports: "./index.mjs" }),
  "node_modules/sugar/index.mjs": "",
  "node_modules/sync/package.json": json({ exports: { "module-sync": "./sync.js", import: "./import.js" } }),
  "node_modules/@scope/pkg/package.json": json({ main: "main.js" }),
  "node_modules/@scope/pkg/main.js": "",
  "node_modules/@scope/pkg/sub.js": "",
  "linked-real/package.json": json({ main: "main.js" }),
  "linked-real/main.js": "",
  "sub/node_modules/near/package.json": json({ exports: "./near.js" }),
  "sub/node_modules/near/near.js": "",
};

const specifiers = [
  "./missing.js", "./exists.js", "../up.js", "./", "/abs/path.js", "file:///a/b?q#h", "data:text/javascript,1", "node:fs", "fs", "fs/promises", "node:test",
  "main-only", "main-dir", "main-missing", "index-default", "index-default/other.js", "index-default/not-there.js",
  "cond", "cond/features/a.js", "cond/features/b", "cond/features/private/x", "cond/fallback", "cond/browser", "cond/nope", "cond/package.json",
  "sugar", "sugar/index.mjs", "sync", "@scope/pkg", "@scope/pkg/sub.js", "@scope", "linked", "near",
  "selfpkg", "selfpkg/x", "selfpkg/y", "#internal", "#dep", "#star/a", "#star/b", "#off", "#missing", "#",
  "not-installed", "not-installed/sub",
];

/** What Node's import.meta.resolve gives for each specifier in the module at `probe`: a URL, or the error's code. */
function nodeResolves(probe: string): Record<string, string> {
  writeFileSync(
    probe,
    `const out = {};\nfor (const s of ${json(specifiers)}) {\n  try { out[s] = import.meta.resolve(s); } catch (e) { out[s] = e.code; }\n}\nprocess.stdout.write(JSON.stringify(out));\n`,
  );
  return JSON.parse(execFileSync(process.execPath, [probe], { encoding: "utf8" })) as Record<string, string>;
}

function brewkitResolves(parentUrl: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of specifiers) {
    try {
      out[s] = resolveFrom(s, parentUrl);
    } catch (e) {
      out[s] = (e as { code: string }).code;
    }
  }
  return out;
}

describe("resolveFrom", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "brewkit-resolve-"));
  for (const [name, content] of Object.entries(fixture)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  symlinkSync("../linked-real", path.join(dir, "node_modules/linked"), "dir");

  for (const where of ["probe.mjs", "sub/deep/probe.mjs", "node_modules/cond/probe.mjs"]) {
    it(`resolves as Node's import.meta.resolve does in ${where}`, () => {
      const probe = path.join(dir, where);
      const expected = nodeResolves(probe);
      const actual = brewkitResolves(pathToFileURL(probe).href);
      expect(actual).toEqual(expected);
      // The fixture exercises what it means to: found files, real paths, and each kind of failure.
      expect(Object.values(expected)).toEqual(expect.arrayContaining(["ERR_MODULE_NOT_FOUND", "ERR_PACKAGE_PATH_NOT_EXPORTED", "ERR_PACKAGE_IMPORT_NOT_DEFINED"]));
    });
  }

  it("names real files by their real path", () => {
    expect(resolveFrom("linked", pathToFileURL(path.join(dir, "probe.mjs")).href)).toBe(pathToFileURL(path.join(dir, "linked-real/main.js")).href);
  });
});
