import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";

/** How a script's code cache was found: used, absent, or present but refused (by brewkit's checks or by V8). */
export type CodeCacheStatus = "hit" | "miss" | "corrupt" | "rejected";

/** A CommonJS script compiled with V8's code cache, ready to run. */
export interface CachedScript {
  /** Whether the compile used a cache entry. */
  status: CodeCacheStatus;
  /** The uses (e.g. commands) whose run made the entry used, or will make the one written. */
  uses: string[];
  /** Runs the script as a CommonJS module with this `require` (and `extra` after the usual arguments); returns its `module.exports`. */
  run(args: { require: NodeJS.Require; extra?: unknown[] }): unknown;
  /**
   * Writes the code cache of what has run so far (functions V8 compiled lazily included,
   * and those the entry used brought), when the compile used no entry or one made by
   * other uses; never throws. Called as late as possible, e.g. at exit.
   */
  save(): void;
}

// Each entry: the SHA-1 of the source it was made for, the SHA-1 of the rest, then the
// length of the uses' list (2 bytes), the list (newline-separated) and V8's data. V8
// checks a cache against the source's length only, so the source's hash is checked here;
// and release builds of V8 do not checksum the data, so a torn or corrupt file would be
// deserialized as is: its hash is checked here too.
const hashBytes = 20;
const headerBytes = 2 * hashBytes + 2;

/**
 * Compiles a CommonJS `file` (a bundle: no other module is read through it) with V8's code
 * cache from `cacheDir`, keyed by the source's hash, Node's version and its V8 flags. A
 * missing, corrupt, foreign or stale entry only costs the compile; writes are atomic,
 * so concurrent runs read a whole entry or none; an unwritable cache is ignored.
 * `params` names the extra parameters the script receives after the CommonJS ones. An
 * entry holds the code that the runs which wrote it compiled: `use` (e.g. the command)
 * names this run, whose code is added to an entry made by others.
 */
export function compileCachedScript(file: string, cacheDir: string, params: string[] = [], use = ""): CachedScript {
  const source = readFileSync(file, "utf8");
  const sourceHash = createHash("sha1").update(source).digest();
  const flags = `${process.version}\0${process.arch}\0${process.execArgv.join(" ")}\0${process.env.NODE_OPTIONS ?? ""}`;
  const key = createHash("sha1").update(sourceHash).update(flags).digest("hex");
  const cacheFile = path.join(cacheDir, `${path.basename(file)}-${key}.bin`);
  const { data, uses: previous = [], status: found } = readEntry(cacheFile, sourceHash);
  const wrapped = `(function (exports, require, module, __filename, __dirname${params.map((p) => `, ${p}`).join("")}) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: file, ...(data ? { cachedData: data } : {}) });
  const status: CodeCacheStatus = data && script.cachedDataRejected ? "rejected" : found;
  const covered = status === "hit" && previous.includes(use);
  const uses = status === "hit" ? (covered ? previous : [...previous, use]) : [use];
  return {
    status,
    uses,
    run({ require, extra = [] }) {
      const module = { exports: {} };
      (script.runInThisContext() as (...args: unknown[]) => unknown)(module.exports, require, module, file, path.dirname(file), ...extra);
      return module.exports;
    },
    save() {
      if (covered) return;
      writeEntry(cacheFile, sourceHash, uses, script);
    },
  };
}

function readEntry(cacheFile: string, sourceHash: Buffer): { data?: Buffer; uses?: string[]; status: CodeCacheStatus } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(cacheFile);
  } catch {
    return { status: "miss" };
  }
  const intact = bytes.length > headerBytes && bytes.subarray(0, hashBytes).equals(sourceHash) && createHash("sha1").update(bytes.subarray(2 * hashBytes)).digest().equals(bytes.subarray(hashBytes, 2 * hashBytes));
  const usesEnd = intact ? headerBytes + bytes.readUInt16LE(2 * hashBytes) : 0;
  if (!intact || usesEnd >= bytes.length) return { status: "corrupt" };
  return { data: bytes.subarray(usesEnd), uses: bytes.toString("utf8", headerBytes, usesEnd).split("\n"), status: "hit" };
}

// Written whole under a name of its own, then renamed over the entry: a concurrent run
// reads the old entry, the new one or none, never part of one.
function writeEntry(cacheFile: string, sourceHash: Buffer, uses: string[], script: vm.Script): void {
  const temporary = `${cacheFile}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  try {
    const list = Buffer.from(uses.join("\n").slice(0, 4096));
    const length = Buffer.alloc(2);
    length.writeUInt16LE(list.length);
    const rest = Buffer.concat([length, list, script.createCachedData()]);
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    writeFileSync(temporary, Buffer.concat([sourceHash, createHash("sha1").update(rest).digest(), rest]));
    renameSync(temporary, cacheFile);
    pruneEntries(cacheFile);
  } catch {
    // A read-only or full disk: the next run compiles without a cache, as this one did.
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Nothing was written.
    }
  }
}

// Every build of the bundle (and every Node) has its entries: of the others, the most
// recently written few are kept (two installations used in turn, or two Nodes), and
// temporary files of a run killed while writing are removed once surely abandoned.
const keptEntries = 3;
const abandonedMs = 60 * 60 * 1000;

function pruneEntries(cacheFile: string): void {
  const dir = path.dirname(cacheFile);
  const prefix = `${path.basename(cacheFile).replace(/-[0-9a-f]+\.bin$/, "")}-`;
  const others: Array<{ file: string; mtimeMs: number }> = [];
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (!name.startsWith(prefix) || file === cacheFile) continue;
    const mtimeMs = statSync(file, { throwIfNoEntry: false })?.mtimeMs;
    if (mtimeMs === undefined) continue;
    if (name.endsWith(".bin")) others.push({ file, mtimeMs });
    else if (name.endsWith(".tmp") && Date.now() - mtimeMs > abandonedMs) rmSync(file, { force: true });
  }
  for (const { file } of others.sort((a, b) => b.mtimeMs - a.mtimeMs).slice(keptEntries)) rmSync(file, { force: true });
}
