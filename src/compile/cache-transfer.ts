import { local, marshal, scratch, type Definition, type Platform, type State } from "../llb/index.ts";
import type { CompiledLocalDir } from "./types.ts";

// Where the transfer step sees the cache and the host side.
const cacheDest = "/.brewkit-cache";
const hostDest = "/.brewkit-host";

/** A Solve that moves a cache's content to or from a host folder. */
export interface CacheTransfer {
  definition: Definition;
  localDirs: Map<string, CompiledLocalDir>;
}

/** Options of a cache transfer: the tool filesystem (needs `sh` and `cp`) and run identity. */
export interface CacheTransferOptions {
  /** Runs the copy: an image or a target's final state. */
  tool: State;
  platform: Platform;
  /** Unique per run: the copy must run every time, and a step that ignores its cache would get an empty cache mount. */
  runId: string;
}

/** The cache `id`'s content as a result, for a `local` export to a host folder. */
export function compileCacheExport(id: string, options: CacheTransferOptions): CacheTransfer {
  const exec = options.tool.run({
    args: ["/bin/sh", "-c", `cp -a ${cacheDest}/. ${hostDest}/`],
    mounts: [{ type: "cache", dest: cacheDest, id }, { type: "bind", dest: hostDest, source: scratch() }],
    env: { BREWKIT_RUN_ID: options.runId },
    customName: `export cache ${id}`,
  });
  return { definition: marshal(exec.mount(hostDest), { platform: options.platform }), localDirs: new Map() };
}

/** Copies a host folder into the cache `id` (merging with what it holds). */
export function compileCacheImport(id: string, hostDir: string, options: CacheTransferOptions): CacheTransfer {
  const name = "cache-import";
  const exec = options.tool.run({
    args: ["/bin/sh", "-c", `cp -a ${hostDest}/. ${cacheDest}/`],
    mounts: [
      { type: "cache", dest: cacheDest, id },
      { type: "bind", dest: hostDest, source: local(name, { sharedKeyHint: hostDir, customName: `upload ${hostDir}` }), readonly: true },
    ],
    env: { BREWKIT_RUN_ID: options.runId },
    customName: `import ${hostDir} into cache ${id}`,
  });
  return { definition: marshal(exec.root(), { platform: options.platform }), localDirs: new Map([[name, { root: hostDir, includePatterns: [], excludePatterns: [] }]]) };
}
