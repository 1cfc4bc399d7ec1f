import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brewkitHome } from "../daemon/paths.ts";
import { bundleConfig, type ModuleFormat } from "./bundle.ts";

/** A compiled config on disk, ready for Node to run. */
export interface CompiledConfig {
  /** The compiled module. */
  file: string;
  /** Every file compiled into it (the config, its local imports, TypeScript libraries). */
  inputs: string[];
  /** True when it came from the cache, false when it was compiled now. */
  cached: boolean;
}

/** What a cached compile was made from: each file's stamp, `null` for a file that did not exist. */
interface CacheHeader {
  node: string;
  inputs: string[];
  stamps: Record<string, Stamp | null>;
}

type Stamp = [size: number, mtimeMs: number, ctimeMs: number];

// The header is the module's last line, after its source map comment: the code's lines,
// and so the source map, stay as the compiler wrote them.
const headerPrefix = "\n// brewkit-config-cache ";

// Files besides the compiled inputs whose change can change the compile: brewkit's own
// loader, and the manifests and package-manager state that decide how imports resolve.
const resolutionFiles = ["package.json", "tsconfig.json", "node_modules/.package-lock.json", "node_modules/.modules.yaml", "node_modules/.yarn-state.yml"];

/**
 * The compiled form of `config`: taken from brewkit's cache when none of the files it was
 * made from changed (size, mtime and ctime), compiled and cached otherwise. Unchanged
 * configs then load as plain JavaScript, without starting a compiler.
 */
export async function compiledConfig(config: string, format: ModuleFormat, home = brewkitHome()): Promise<CompiledConfig> {
  const cacheDir = path.join(home, "cache", "config");
  const key = createHash("sha256").update(`${config}\0${format}`).digest("hex").slice(0, 32);
  const cacheFile = path.join(cacheDir, `${key}.${format === "esm" ? "mjs" : "cjs"}`);
  const header = readHeader(cacheFile);
  if (header && header.node === process.version && stampsHold(header.stamps)) return { file: cacheFile, inputs: header.inputs, cached: true };

  const bundled = await bundleConfig(config, format);
  const watched = [...bundled.inputs, ...bundled.externals, ...bundled.externals.flatMap((f) => nearestManifest(f) ?? []), ownLoader, ...ancestorsFiles(path.dirname(config))];
  const stamps = Object.fromEntries([...new Set(watched)].map((f) => [f, stampOf(f)]));
  const text = `${bundled.code.replace(/\n$/, "")}${headerPrefix}${JSON.stringify({ node: process.version, inputs: bundled.inputs, stamps } satisfies CacheHeader)}\n`;
  return { file: writeCompiled(cacheDir, cacheFile, text), inputs: bundled.inputs, cached: false };
}

// This module's own file: a new build of brewkit compiles configs anew.
const ownLoader = fileURLToPath(import.meta.url);

function readHeader(file: string): CacheHeader | undefined {
  try {
    const text = readFileSync(file, "utf8");
    const at = text.lastIndexOf(headerPrefix);
    if (at < 0) return undefined;
    return JSON.parse(text.slice(at + headerPrefix.length)) as CacheHeader;
  } catch {
    return undefined;
  }
}

function stampOf(file: string): Stamp | null {
  const s = statSync(file, { throwIfNoEntry: false });
  return s ? [s.size, s.mtimeMs, s.ctimeMs] : null;
}

function stampsHold(stamps: Record<string, Stamp | null>): boolean {
  for (const [file, stamp] of Object.entries(stamps)) {
    const now = stampOf(file);
    if (now === null || stamp === null ? now !== stamp : now[0] !== stamp[0] || now[1] !== stamp[1] || now[2] !== stamp[2]) return false;
  }
  return true;
}

/** The files of `resolutionFiles` in `dir` and every directory above it, existing or not. */
function ancestorsFiles(dir: string): string[] {
  const files: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    for (const name of resolutionFiles) files.push(path.join(d, name));
    if (path.dirname(d) === d) return files;
  }
}

/** The package.json of the package a resolved file belongs to. */
function nearestManifest(file: string): string | undefined {
  for (let d = path.dirname(file); path.dirname(d) !== d; d = path.dirname(d)) {
    const manifest = path.join(d, "package.json");
    if (statSync(manifest, { throwIfNoEntry: false })) return manifest;
  }
  return undefined;
}

// Written whole under a temporary name, then renamed: a concurrent run reads the old
// compile or the new one, never half of one. Without a writable cache, a temporary dir
// holds this one compile.
function writeCompiled(cacheDir: string, cacheFile: string, text: string): string {
  try {
    mkdirSync(cacheDir, { recursive: true });
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, cacheFile);
    return cacheFile;
  } catch {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "brewkit-config-")), path.basename(cacheFile));
    writeFileSync(file, text);
    return file;
  }
}
