import { copy, local, marshal, scratch, type Definition, type Platform, type State } from "../llb/index.ts";
import type { CompiledLocalDir } from "./types.ts";

// Where the transfer step sees the cache and the host side.
const cacheDest = "/.brewkit-cache";
const hostDest = "/.brewkit-host";

/** A Solve that moves a cache's content to or from a host folder. */
export interface CacheTransfer {
  definition: Definition;
  localDirs: Map<string, CompiledLocalDir>;
}

/** What runs the copy: a filesystem, and how `cp` is called in it. */
export interface CopyTool {
  /** An image, a target's final state, or a static busybox on scratch. */
  state: State;
  /** The program that runs `cp` (e.g. `["/bin/busybox", "cp"]`); by default `cp` through `/bin/sh`. */
  cp?: string[];
  /** Host dirs the tool's state reads. */
  localDirs: Map<string, CompiledLocalDir>;
}

/** Options of a cache transfer: the tool and run identity. */
export interface CacheTransferOptions {
  tool: CopyTool;
  platform: Platform;
  /** Unique per run: the copy must run every time, and a step that ignores its cache would get an empty cache mount. */
  runId: string;
}

// The local name of the host's busybox upload.
const busyboxLocal = "cache-tool-busybox";

/**
 * A copy tool that needs no registry: the static busybox at `dir/name` on this machine,
 * uploaded onto an empty filesystem (it needs no library, and no shell: it is called as cp).
 */
export function busyboxTool(dir: string, name: string): CopyTool {
  const upload = local(busyboxLocal, { includePatterns: [name], sharedKeyHint: dir, customName: `upload ${dir}/${name}` });
  const state = scratch().file(copy(upload, `/${name}`, "/bin/busybox", { createDestPath: true }), { customName: "busybox" });
  return { state, cp: ["/bin/busybox", "cp"], localDirs: new Map([[busyboxLocal, { root: dir, includePatterns: [name], excludePatterns: [] }]]) };
}

function copyArgs(tool: CopyTool, from: string, to: string): string[] {
  return tool.cp ? [...tool.cp, "-a", `${from}/.`, `${to}/`] : ["/bin/sh", "-c", `cp -a ${from}/. ${to}/`];
}

/** The cache `id`'s content as a result, for a `local` export to a host folder. */
export function compileCacheExport(id: string, options: CacheTransferOptions): CacheTransfer {
  const exec = options.tool.state.run({
    args: copyArgs(options.tool, cacheDest, hostDest),
    mounts: [{ type: "cache", dest: cacheDest, id }, { type: "bind", dest: hostDest, source: scratch() }],
    env: { BREWKIT_RUN_ID: options.runId },
    customName: `export cache ${id}`,
  });
  return { definition: marshal(exec.mount(hostDest), { platform: options.platform }), localDirs: new Map(options.tool.localDirs) };
}

/** Copies a host folder into the cache `id` (merging with what it holds). */
export function compileCacheImport(id: string, hostDir: string, options: CacheTransferOptions): CacheTransfer {
  const name = "cache-import";
  const exec = options.tool.state.run({
    args: copyArgs(options.tool, hostDest, cacheDest),
    mounts: [
      { type: "cache", dest: cacheDest, id },
      { type: "bind", dest: hostDest, source: local(name, { sharedKeyHint: hostDir, customName: `upload ${hostDir}` }), readonly: true },
    ],
    env: { BREWKIT_RUN_ID: options.runId },
    customName: `import ${hostDir} into cache ${id}`,
  });
  return {
    definition: marshal(exec.root(), { platform: options.platform }),
    localDirs: new Map([...options.tool.localDirs, [name, { root: hostDir, includePatterns: [], excludePatterns: [] }]]),
  };
}
