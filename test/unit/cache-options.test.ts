import { describe, expect, it } from "vitest";
import { runCacheOptions } from "../../src/cli/cache-flags.ts";
import type { BrewkitError } from "../../src/errors.ts";
import { buildCache } from "../../src/model/index.ts";
import { parseCacheSpec } from "../../src/solve/cache-options.ts";

const flag = { where: "--cache-to", baseDir: "/builds" };

describe("cache specs in buildx's syntax", () => {
  it("parse registry, inline and shorthand imports, with quoted fields", () => {
    expect(parseCacheSpec("type=registry,ref=reg.example.com/app:cache,mode=max", "export", flag)).toEqual({ type: "registry", attrs: { ref: "reg.example.com/app:cache", mode: "max" } });
    expect(parseCacheSpec("type=inline", "export", flag)).toEqual({ type: "inline", attrs: {} });
    expect(parseCacheSpec("reg.example.com/app:cache", "import", { where: "--cache-from", baseDir: "/builds" })).toEqual({ type: "registry", attrs: { ref: "reg.example.com/app:cache" } });
    expect(parseCacheSpec('ref="reg.example.com/app:a,b",type=registry', "import", { where: "--cache-from", baseDir: "/builds" })).toEqual({ type: "registry", attrs: { ref: "reg.example.com/app:a,b" } });
  });

  it.each([
    ["ref=reg/app:cache", "export", "has no type"],
    ["type=s4,ref=x", "export", 'type "s4" is not supported'],
    ["type=inline", "import", "import inline cache with type=registry,ref=<the image>"],
    ["type=registry", "export", "needs ref=<image reference>"],
    ["type=registry,ref=x,mode=all", "export", 'mode must be min or max, not "all"'],
    ["type=registry,ref=x,mode=max", "import", "mode is an export setting"],
    ["type=local", "export", "needs dest=<directory>"],
    ["type=local,dest=~/cache", "export", "does not expand"],
    ["type=local,src=.cache,digest=latest", "import", "digest must be a sha256 digest"],
    ['type=registry,ref="x', "export", "unclosed quote"],
    ["type=registry,=x,ref=y", "export", 'the field "=x" is not key=value'],
  ] as const)("%s (%s) → %s", (spec, direction, message) => {
    const where = direction === "export" ? "--cache-to" : "--cache-from";
    let error: BrewkitError | undefined;
    try {
      parseCacheSpec(spec, direction, { where, baseDir: "/builds" });
    } catch (err) {
      error = err as BrewkitError;
    }
    expect(error?.code).toBe("CACHE_SPEC_INVALID");
    expect(error?.message).toContain(`${where} ${JSON.stringify(spec)}: `);
    expect(error?.message).toContain(message);
    expect(error?.hint).toBeTruthy();
  });

  it("a local cache's directory is made absolute: against the working directory for flags, the project for the config", () => {
    expect(parseCacheSpec("type=local,dest=.cache/build,mode=max", "export", flag)).toEqual({ type: "local", attrs: { dest: "/builds/.cache/build", mode: "max" } });
    const config = { value: buildCache({ from: "type=local,src=cache" }), file: "/p/brewkit.config.ts" };
    expect(runCacheOptions({ cacheTo: "type=local,dest=out" }, config, "/cwd")).toEqual({ exports: [{ type: "local", attrs: { dest: "/cwd/out" } }], imports: [{ type: "local", attrs: { src: "/p/cache" } }] });
  });

  it("flags replace the config's settings per direction; several imports at once", () => {
    const config = { value: buildCache({ to: "type=inline", from: ["type=registry,ref=a/b:c"] }), file: "/p/brewkit.config.ts" };
    expect(runCacheOptions({}, config)).toEqual({ exports: [{ type: "inline", attrs: {} }], imports: [{ type: "registry", attrs: { ref: "a/b:c" } }] });
    expect(runCacheOptions({ cacheFrom: ["x/y:1", "type=registry,ref=x/y:2"] }, config)).toEqual({
      exports: [{ type: "inline", attrs: {} }],
      imports: [{ type: "registry", attrs: { ref: "x/y:1" } }, { type: "registry", attrs: { ref: "x/y:2" } }],
    });
    expect(runCacheOptions({}, undefined)).toBeUndefined();
  });

  it("a bad spec in the config is named by its file, line and field", () => {
    const config = { value: buildCache({ to: "type=nowhere" }), file: "/p/brewkit.config.ts" };
    expect(() => runCacheOptions({}, config)).toThrow(/cache-options\.test\.ts:\d+: buildCache\.to "type=nowhere": type "nowhere" is not supported/);
  });
});
