import { watch, type FSWatcher } from "chokidar";
import { lstatSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { isInside } from "../plan/index.ts";
import { trace } from "../trace.ts";
import type { WatchSpec } from "./paths.ts";

export { watchSpec, type WatchSpec } from "./paths.ts";

/** One evaluation of the config: what to build and what to watch. */
export interface WatchTarget<P> {
  plan: P;
  spec: WatchSpec;
}

/** What the loop reports between builds. */
export type WatchReport =
  | { kind: "watching"; paths: number }
  | { kind: "changed"; files: string[]; configChanged: boolean }
  | { kind: "built"; durationMs: number; detail: string }
  | { kind: "failed"; error: unknown }
  | { kind: "cancelled" };

/** The moving parts the loop drives. */
export interface WatchLoopOptions<P> {
  /** Evaluates the config again (a fresh module graph) and plans. */
  load(): Promise<WatchTarget<P>>;
  /** Builds a plan; must stop promptly when `signal` aborts. Returns a one-line summary. */
  build(plan: P, signal: AbortSignal): Promise<string>;
  /** Files to watch while the config cannot be loaded (the config itself, at least). */
  fallbackFiles: string[];
  report(report: WatchReport): void;
  /** Quiet time after the last change before rebuilding. */
  debounceMs?: number;
}

// chokidar reports a file's change, then drops that file's further changes for 50 ms.
const droppedChangesMs = 50;

/** What identifies one version of a path: a write changes its ctime (and usually size), a replacement its inode. */
function fingerprint(file: string): string {
  try {
    const s = statSync(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return "absent";
  }
}

/**
 * Watched roots that are symlinks (a copy source, or a config file, that is a link is read
 * as what it points to): their targets, and a path below a target named through its link.
 */
function linkedRoots(paths: string[]): { targets: string[]; through(p: string): string } {
  const links = new Map<string, string>();
  for (const p of paths) {
    try {
      if (lstatSync(p).isSymbolicLink()) links.set(realpathSync(p), p);
    } catch {
      // Missing or dangling: watched as it is, and its creation is seen.
    }
  }
  return {
    targets: [...links.keys()],
    through: (p) => {
      for (const [target, link] of links) if (isInside(target, p)) return path.join(link, path.relative(target, p));
      return p;
    },
  };
}

/**
 * Builds, then watches the inputs and rebuilds on every change until `signal` aborts:
 * changes are debounced, a build in flight is cancelled (and awaited) first, the config
 * is evaluated again when it or a module it imports changed, and a failing build or
 * config is reported while watching goes on.
 */
export async function watchLoop<P>(options: WatchLoopOptions<P>, signal: AbortSignal): Promise<void> {
  const debounceMs = options.debounceMs ?? 10;
  let current: WatchTarget<P> | undefined;
  let watcher: FSWatcher | undefined;
  let watchedKey = "";
  let building: { abort: AbortController; done: Promise<void> } | undefined;
  let pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  // Set when the debounce fired; checked before sleeping so a change seen while a
  // rebuild was being set up is never lost.
  let due = false;
  let wake: (() => void) | undefined;
  const fire = () => {
    due = true;
    wake?.();
  };

  // A rebuild starts well within chokidar's 50 ms, so it may read a file before a change
  // chokidar then drops: each changed path is looked at again once that window closed,
  // against what it was when the last build started (that build read anything older).
  const rechecks = new Map<string, { timer: NodeJS.Timeout; seen: string }>();
  const changed = (file: string) => {
    if (pending.size === 0) trace("watch-event");
    pending.add(file);
    clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
    clearTimeout(rechecks.get(file)?.timer);
    const recheck = {
      seen: fingerprint(file),
      timer: setTimeout(() => {
        rechecks.delete(file);
        if (fingerprint(file) !== recheck.seen) changed(file);
      }, droppedChangesMs + debounceMs),
    };
    rechecks.set(file, recheck);
  };

  const rewatch = async (paths: string[], isIgnored: (p: string) => boolean) => {
    const key = JSON.stringify(paths);
    if (key === watchedKey && watcher) return;
    await watcher?.close();
    watchedKey = key;
    const named = linkedRoots(paths);
    // An upload sends a symlink inside a copied directory as the link itself: what it points
    // to is no input, so links are not followed (a linked package's files, its .git, ...).
    watcher = watch([...paths, ...named.targets], { ignoreInitial: true, followSymlinks: false, ignored: (p: string) => isIgnored(named.through(path.resolve(p))) });
    // Before "ready" chokidar still reports what it finds (a link it does not follow, as
    // added): nothing has changed since the build that starts after it.
    let ready = false;
    watcher.on("all", (_event, file) => {
      if (ready) changed(named.through(path.resolve(file)));
    });
    await new Promise<void>((resolve) => watcher!.once("ready", () => resolve()));
    ready = true;
    options.report({ kind: "watching", paths: paths.length });
  };

  const load = async (): Promise<boolean> => {
    try {
      current = await options.load();
      await rewatch(current.spec.paths, current.spec.isIgnored);
      return true;
    } catch (error) {
      options.report({ kind: "failed", error });
      const files = current ? [...current.spec.configFiles] : options.fallbackFiles;
      await rewatch(files, () => false);
      return false;
    }
  };

  const startBuild = () => {
    if (!current) return;
    for (const [file, recheck] of rechecks) recheck.seen = fingerprint(file);
    const abort = new AbortController();
    const plan = current.plan;
    const started = Date.now();
    const done = options.build(plan, abort.signal).then(
      (detail) => options.report({ kind: "built", durationMs: Date.now() - started, detail }),
      (error: unknown) => options.report(abort.signal.aborted ? { kind: "cancelled" } : { kind: "failed", error }),
    );
    building = { abort, done };
  };

  const stop = async () => {
    building?.abort.abort();
    await building?.done;
  };
  signal.addEventListener("abort", fire, { once: true });

  if (await load()) startBuild();
  while (!signal.aborted) {
    if (!due) await new Promise<void>((resolve) => (wake = resolve));
    due = false;
    if (signal.aborted) break;
    const files = [...pending];
    pending = new Set();
    if (files.length === 0) continue;
    trace("watch-change", { files: files.length });
    const configChanged = files.some((f) => (current ? current.spec.configFiles.has(f) : options.fallbackFiles.includes(f)));
    options.report({ kind: "changed", files, configChanged });
    await stop();
    if ((configChanged || !current) && !(await load())) continue;
    startBuild();
  }
  clearTimeout(timer);
  for (const recheck of rechecks.values()) clearTimeout(recheck.timer);
  await stop();
  await watcher?.close();
}
