import { readFileSync, realpathSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// A compiled config runs from brewkit's cache, where Node's own import.meta.resolve would
// resolve against the cache. Each compiled module's import.meta.resolve calls this
// instead, with the URL of the file it came from: the resolution of Node's ES module
// loader (https://nodejs.org/api/esm.html#resolution-algorithm-specification), as
// import.meta.resolve applies it.

/** The global through which compiled configs reach `resolveFrom`. */
export const importMetaResolveKey = Symbol.for("brewkit.importMetaResolve");

/** Makes `resolveFrom` reachable by compiled configs (see bundle.ts). */
export function installImportMetaResolve(): void {
  (globalThis as Record<symbol, unknown>)[importMetaResolveKey] ??= resolveFrom;
}

// The conditions of Node's ES module loader: "module-sync" where Node can require ES modules.
const conditions = new Set(["node", "import", ...((process.features as { require_module?: boolean }).require_module ? ["module-sync"] : [])]);

/** An error with the code Node's resolver gives the same failure. */
class ResolveError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The URL `specifier` resolves to from the module at `parentUrl`, as `import.meta.resolve` there would give it. */
export function resolveFrom(specifier: string, parentUrl: string): string {
  const resolved = resolveUrl(String(specifier), parentUrl);
  return resolved.protocol === "file:" ? finalize(resolved).href : resolved.href;
}

function resolveUrl(specifier: string, parentUrl: string): URL {
  if (specifier.startsWith("/") || specifier.startsWith("./") || specifier.startsWith("../")) return new URL(specifier, parentUrl);
  if (specifier.startsWith("#")) return packageImportsResolve(specifier, parentUrl);
  const asUrl = URL.canParse(specifier) ? new URL(specifier) : undefined;
  if (asUrl) return asUrl;
  if (isBuiltin(specifier)) return new URL(`node:${specifier}`);
  return packageResolve(specifier, parentUrl);
}

// A file that exists is named by its real path; one that does not is returned as is
// (import.meta.resolve does not require the target to exist).
function finalize(url: URL): URL {
  if (/%2f|%5c/i.test(url.pathname)) throw new ResolveError("ERR_INVALID_MODULE_SPECIFIER", `${url.pathname} must not include encoded "/" or "\\" characters`);
  const file = fileURLToPath(url);
  const stat = statSync(file.endsWith(path.sep) ? file.slice(0, -1) : file, { throwIfNoEntry: false });
  if (!stat?.isFile()) return url;
  const real = pathToFileURL(realpathSync(file));
  real.search = url.search;
  real.hash = url.hash;
  return real;
}

function readManifest(packageJson: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(packageJson, "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ResolveError("ERR_INVALID_PACKAGE_CONFIG", `invalid JSON in ${packageJson}`);
  }
}

/** The directory URL (with a trailing slash) of the package scope holding `url`. */
function packageScope(url: string): URL | undefined {
  for (let dir = new URL("./", url); ; dir = new URL("../", dir)) {
    if (dir.pathname.endsWith("/node_modules/")) return undefined;
    if (statSync(fileURLToPath(new URL("package.json", dir)), { throwIfNoEntry: false })?.isFile()) return dir;
    if (dir.pathname === "/") return undefined;
  }
}

function packageResolve(specifier: string, parentUrl: string): URL {
  const slash = specifier.indexOf("/");
  let name = slash < 0 ? specifier : specifier.slice(0, slash);
  if (specifier.startsWith("@")) {
    const second = specifier.indexOf("/", slash + 1);
    if (slash < 0) throw new ResolveError("ERR_INVALID_MODULE_SPECIFIER", `invalid package name "${specifier}"`);
    name = second < 0 ? specifier : specifier.slice(0, second);
  }
  if (name.startsWith(".") || name.includes("\\") || name.includes("%")) throw new ResolveError("ERR_INVALID_MODULE_SPECIFIER", `invalid package name "${specifier}"`);
  const subpath = `.${specifier.slice(name.length)}`;
  // A package may import itself by its own name.
  const scope = packageScope(parentUrl);
  if (scope) {
    const manifest = readManifest(fileURLToPath(new URL("package.json", scope)));
    if (manifest?.name === name && manifest.exports !== undefined && manifest.exports !== null) return exportsResolve(scope, subpath, manifest.exports, parentUrl);
  }
  for (let dir = new URL("./", parentUrl); ; dir = new URL("../", dir)) {
    const packageUrl = new URL(`node_modules/${name}/`, dir);
    if (statSync(fileURLToPath(packageUrl), { throwIfNoEntry: false })?.isDirectory()) {
      const manifest = readManifest(fileURLToPath(new URL("package.json", packageUrl))) ?? {};
      if (manifest.exports !== undefined && manifest.exports !== null) return exportsResolve(packageUrl, subpath, manifest.exports, parentUrl);
      if (subpath === ".") return legacyMain(packageUrl, manifest, parentUrl);
      return new URL(subpath, packageUrl);
    }
    if (dir.pathname === "/") break;
  }
  throw new ResolveError("ERR_MODULE_NOT_FOUND", `Cannot find package '${name}' imported from ${fileURLToPath(parentUrl)}`);
}

// A package without "exports": its "main", with the extensions CommonJS would try, else index.js.
function legacyMain(packageUrl: URL, manifest: Record<string, unknown>, parentUrl: string): URL {
  const isFile = (url: URL) => statSync(fileURLToPath(url), { throwIfNoEntry: false })?.isFile() === true;
  const main = typeof manifest.main === "string" ? manifest.main : undefined;
  const candidates = [
    ...(main ? [main, `${main}.js`, `${main}.json`, `${main}.node`, `${main}/index.js`, `${main}/index.json`, `${main}/index.node`].map((m) => `./${m}`) : []),
    "./index.js",
    "./index.json",
    "./index.node",
  ];
  for (const candidate of candidates) {
    const url = new URL(candidate, packageUrl);
    if (isFile(url)) return url;
  }
  throw new ResolveError("ERR_MODULE_NOT_FOUND", `Cannot find package '${fileURLToPath(new URL(main ? `./${main}` : "./index.js", packageUrl))}' imported from ${fileURLToPath(parentUrl)}`);
}

function isConditions(value: object): boolean {
  const keys = Object.keys(value);
  const dotted = keys.filter((k) => k.startsWith("."));
  if (dotted.length > 0 && dotted.length !== keys.length) throw new ResolveError("ERR_INVALID_PACKAGE_CONFIG", `"exports" mixes subpaths and conditions`);
  return dotted.length === 0;
}

function exportsResolve(packageUrl: URL, subpath: string, exports: unknown, parentUrl: string): URL {
  const main = typeof exports === "string" || Array.isArray(exports) || (typeof exports === "object" && exports !== null && isConditions(exports)) ? exports : undefined;
  if (subpath === ".") {
    const target = main ?? (exports as Record<string, unknown>)["."];
    if (target !== undefined) {
      const resolved = targetResolve(packageUrl, target, undefined, false, parentUrl);
      if (resolved) return resolved;
    }
  } else if (main === undefined && typeof exports === "object" && exports !== null) {
    const resolved = importsExportsResolve(subpath, exports as Record<string, unknown>, packageUrl, false, parentUrl);
    if (resolved) return resolved;
  }
  throw new ResolveError("ERR_PACKAGE_PATH_NOT_EXPORTED", `Package subpath '${subpath}' is not defined by "exports" in ${fileURLToPath(new URL("package.json", packageUrl))} imported from ${fileURLToPath(parentUrl)}`);
}

function packageImportsResolve(specifier: string, parentUrl: string): URL {
  if (specifier === "#" || specifier.startsWith("#/")) throw new ResolveError("ERR_INVALID_MODULE_SPECIFIER", `invalid import specifier "${specifier}"`);
  const scope = packageScope(parentUrl);
  if (scope) {
    const imports = readManifest(fileURLToPath(new URL("package.json", scope)))?.imports;
    if (typeof imports === "object" && imports !== null && !Array.isArray(imports)) {
      const resolved = importsExportsResolve(specifier, imports as Record<string, unknown>, scope, true, parentUrl);
      if (resolved) return resolved;
    }
  }
  throw new ResolveError("ERR_PACKAGE_IMPORT_NOT_DEFINED", `Package import specifier "${specifier}" is not defined${scope ? ` in package ${fileURLToPath(new URL("package.json", scope))}` : ""} imported from ${fileURLToPath(parentUrl)}`);
}

// Node's PATTERN_KEY_COMPARE: longer prefixes before "*" first, then longer keys.
function patternKeyCompare(a: string, b: string): number {
  const baseA = a.indexOf("*") + 1;
  const baseB = b.indexOf("*") + 1;
  if (baseA !== baseB) return baseB - baseA;
  if (!a.includes("*")) return 1;
  if (!b.includes("*")) return -1;
  return b.length - a.length;
}

function importsExportsResolve(matchKey: string, matchObj: Record<string, unknown>, packageUrl: URL, isImports: boolean, parentUrl: string): URL | null | undefined {
  if (Object.hasOwn(matchObj, matchKey) && !matchKey.includes("*")) return targetResolve(packageUrl, matchObj[matchKey], undefined, isImports, parentUrl);
  const keys = Object.keys(matchObj).filter((k) => k.indexOf("*") >= 0 && k.indexOf("*") === k.lastIndexOf("*")).sort(patternKeyCompare);
  for (const key of keys) {
    const base = key.slice(0, key.indexOf("*"));
    const trailer = key.slice(key.indexOf("*") + 1);
    if (matchKey.startsWith(base) && matchKey !== base && (trailer === "" || (matchKey.endsWith(trailer) && matchKey.length >= key.length))) {
      return targetResolve(packageUrl, matchObj[key], matchKey.slice(base.length, matchKey.length - trailer.length), isImports, parentUrl);
    }
  }
  return null;
}

const invalidSegment = /(^|\\|\/)((\.|%2e)(\.|%2e)?|(n|%6e|%4e)(o|%6f|%4f)(d|%64|%44)(e|%65|%45)(_|%5f)(m|%6d|%4d)(o|%6f|%4f)(d|%64|%44)(u|%75|%55)(l|%6c|%4c)(e|%65|%45)(s|%73|%53))?(\\|\/|$)/i;

function invalidTarget(target: unknown, packageUrl: URL): ResolveError {
  return new ResolveError("ERR_INVALID_PACKAGE_TARGET", `Invalid "exports" or "imports" target ${JSON.stringify(target)} in ${fileURLToPath(new URL("package.json", packageUrl))}`);
}

function targetResolve(packageUrl: URL, target: unknown, patternMatch: string | undefined, isImports: boolean, parentUrl: string): URL | null | undefined {
  if (typeof target === "string") {
    if (!target.startsWith("./")) {
      if (!isImports || target.startsWith("../") || target.startsWith("/") || URL.canParse(target)) throw invalidTarget(target, packageUrl);
      return packageResolve(patternMatch === undefined ? target : target.replaceAll("*", patternMatch), packageUrl.href);
    }
    if (invalidSegment.test(target.slice(2))) throw invalidTarget(target, packageUrl);
    const resolved = new URL(target, packageUrl);
    if (patternMatch === undefined) return resolved;
    if (invalidSegment.test(patternMatch)) throw new ResolveError("ERR_INVALID_MODULE_SPECIFIER", `invalid subpath "${patternMatch}" in ${fileURLToPath(parentUrl)}`);
    return new URL(resolved.href.replaceAll("*", patternMatch));
  }
  if (Array.isArray(target)) {
    if (target.length === 0) return null;
    let last: unknown;
    for (const candidate of target) {
      try {
        const resolved = targetResolve(packageUrl, candidate, patternMatch, isImports, parentUrl);
        if (resolved === undefined) continue;
        return resolved;
      } catch (err) {
        last = err;
        if ((err as ResolveError).code === "ERR_INVALID_PACKAGE_TARGET") continue;
        throw err;
      }
    }
    if (last) throw last;
    return null;
  }
  if (typeof target === "object" && target !== null) {
    for (const key of Object.keys(target)) {
      if (/^\d+$/.test(key)) throw new ResolveError("ERR_INVALID_PACKAGE_CONFIG", `"exports" of ${fileURLToPath(new URL("package.json", packageUrl))} has a numeric key`);
      if (key !== "default" && !conditions.has(key)) continue;
      const resolved = targetResolve(packageUrl, (target as Record<string, unknown>)[key], patternMatch, isImports, parentUrl);
      if (resolved === undefined) continue;
      return resolved;
    }
    return undefined;
  }
  if (target === null) return null;
  throw invalidTarget(target, packageUrl);
}
