import path from "node:path";
import { local, scratch, type CacheMount, type State } from "../llb/index.ts";
import type { PlannedCache, PlannedTarget } from "../plan/index.ts";
import { localNameOf } from "./local-name.ts";
import type { TargetCompiler } from "./target-compiler.ts";

// Where the seed and write-back steps see the host side.
const hostMount = "/.brewkit-cache-host";

/** Shell that fills the cache from the host folder only while the cache is empty. */
const seedScript = `if [ -z "$(ls -A "$1")" ]; then cp -a ${hostMount}/. "$1"/; fi`;
/** Shell that copies the cache into the exported mount. */
const writeBackScript = `cp -a "$1"/. ${hostMount}/`;

function cacheMount(state: State, c: PlannedCache): CacheMount & { dest: string } {
  return { type: "cache", dest: path.posix.resolve(state.getDir(), c.path), id: c.id, sharing: c.sharing };
}

// Seed and write-back must run on every build, but BuildKit gives a step that ignores
// its cache a fresh, empty cache mount; a per-run value in their environment makes
// them new steps instead.
const runEnv = (runId: string) => ({ BREWKIT_RUN_ID: runId });

/**
 * The step that seeds a cache from its host folder: run on the target's base (it
 * needs `sh` and `cp`), with the host folder uploaded and mounted read-only. It runs
 * on every build (the host folder may have changed) but copies only into an empty cache.
 */
export function seedStep(compiler: TargetCompiler, t: PlannedTarget, base: State, c: PlannedCache, runId: string): State {
  const name = localNameOf({ kind: "host", hostRoot: c.hostDir!, srcPath: ".", dest: undefined, include: [], exclude: [] });
  compiler.localDirs.set(name, { root: c.hostDir!, includePatterns: [], excludePatterns: [] });
  const host = local(name, { sharedKeyHint: c.hostDir!, customName: `[${t.name}] upload cache folder ${c.id}` });
  const mount = cacheMount(base, c);
  return base.run({
    args: ["/bin/sh", "-c", seedScript, "brewkit-cache-seed", mount.dest],
    mounts: [mount, { type: "bind", dest: hostMount, source: host, readonly: true }],
    env: runEnv(runId),
    customName: `[${t.name}] seed cache ${c.id} from ${c.hostDir}`,
  }).root();
}

/** The step whose result is the cache's content, for export to its host folder; runs on every build. */
export function writeBackStep(t: PlannedTarget, final: State, c: PlannedCache, runId: string): State {
  const mount = cacheMount(final, c);
  return final
    .run({
      args: ["/bin/sh", "-c", writeBackScript, "brewkit-cache-write-back", mount.dest],
      mounts: [mount, { type: "bind", dest: hostMount, source: scratch() }],
      env: runEnv(runId),
      customName: `[${t.name}] write cache ${c.id} back to ${c.hostDir}`,
    })
    .mount(hostMount);
}
