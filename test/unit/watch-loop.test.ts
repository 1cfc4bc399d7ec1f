import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { watchLoop, type WatchReport, type WatchSpec } from "../../src/watch/index.ts";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A watch loop over `<dir>/src` and `<dir>/config` whose builds read `src/a.txt` when they
 * start (as the daemon's upload does) and call `onBuild` with what they read.
 */
function startLoop(onBuild: (content: string, builds: number) => void | Promise<void>, prepare?: (dir: string) => string[]) {
  dir = mkdtempSync(path.join(os.tmpdir(), "brewkit-watch-loop-"));
  mkdirSync(path.join(dir, "src"));
  const extraPaths = prepare?.(dir) ?? [];
  writeFileSync(path.join(dir, "src", "a.txt"), "initial\n");
  writeFileSync(path.join(dir, "config"), "1\n");
  const source = path.join(dir, "src", "a.txt");
  const config = path.join(dir, "config");
  const reads: string[] = [];
  const reports: WatchReport[] = [];
  let loads = 0;
  let waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters) w();
    waiters = [];
  };
  const abort = new AbortController();
  const spec: WatchSpec = { paths: [path.join(dir, "src"), config, ...extraPaths], configFiles: new Set([config]), isIgnored: () => false, addWritten: () => undefined };
  const done = watchLoop(
    {
      load: async () => {
        loads++;
        return { plan: readFileSync(config, "utf8"), spec };
      },
      build: async () => {
        const content = readFileSync(source, "utf8");
        reads.push(content);
        await onBuild(content, reads.length);
        return "built";
      },
      fallbackFiles: [config],
      report: (r) => {
        reports.push(r);
        wake();
      },
    },
    abort.signal,
  );
  /** Waits until `check` holds, re-checking at every report of the loop. */
  const until = async (check: () => boolean) => {
    while (!check()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const stop = async () => {
    abort.abort();
    await done;
  };
  return { dir, source, config, reads, reports, loads: () => loads, until, stop };
}

const built = (reports: WatchReport[]) => reports.filter((r) => r.kind === "built").length;

describe("watchLoop", () => {
  it("rebuilds when a file changes again right after a rebuild read it, within the window chokidar drops changes in", async () => {
    let rewrote = false;
    const loop = startLoop((content) => {
      // The rebuild has just read the first save: the second lands at once, so chokidar, which
      // reported the first save only milliseconds ago, drops its event.
      if (content === "first\n" && !rewrote) {
        rewrote = true;
        writeFileSync(loop.source, "second\n");
      }
    });
    await loop.until(() => built(loop.reports) === 1 && loop.reports.some((r) => r.kind === "watching"));
    writeFileSync(loop.source, "first\n");
    await loop.until(() => loop.reads.at(-1) === "second\n" && built(loop.reports) === loop.reads.length);
    await loop.stop();
    expect(loop.reads).toEqual(["initial\n", "first\n", "second\n"]);
  });

  it("builds once for files saved together, and evaluates the config again only when it changed", async () => {
    const loop = startLoop(() => undefined);
    await loop.until(() => built(loop.reports) === 1 && loop.reports.some((r) => r.kind === "watching"));
    writeFileSync(path.join(path.dirname(loop.source), "b.txt"), "b\n");
    writeFileSync(loop.source, "saved\n");
    await loop.until(() => loop.reads.at(-1) === "saved\n" && built(loop.reports) === loop.reads.length);
    expect(loop.loads()).toBe(1);
    writeFileSync(loop.config, "2\n");
    await loop.until(() => loop.loads() === 2 && built(loop.reports) === 3);
    await loop.stop();
    const changes = loop.reports.filter((r) => r.kind === "changed");
    expect(changes.map((c) => c.configChanged)).toEqual([false, true]);
    expect(changes[0]!.files.sort()).toEqual([path.join(path.dirname(loop.source), "b.txt"), loop.source].sort());
    expect(loop.reads).toEqual(["initial\n", "saved\n", "saved\n"]);
  });

  it("does not follow a symlink inside a watched directory, and watches a root that is a symlink through it", async () => {
    const loop = startLoop(() => undefined, (d) => {
      mkdirSync(path.join(d, "outside"));
      writeFileSync(path.join(d, "outside", "x.txt"), "x\n");
      // Uploaded as a link: what it points to is no input.
      symlinkSync(path.join(d, "outside"), path.join(d, "src", "link"));
      mkdirSync(path.join(d, "shared"));
      writeFileSync(path.join(d, "shared", "y.txt"), "y\n");
      // A copy source that is a link is read as what it points to.
      symlinkSync(path.join(d, "shared"), path.join(d, "linked"));
      return [path.join(d, "linked")];
    });
    await loop.until(() => built(loop.reports) === 1 && loop.reports.some((r) => r.kind === "watching"));
    writeFileSync(path.join(loop.dir, "outside", "x.txt"), "changed\n");
    writeFileSync(loop.source, "saved\n");
    await loop.until(() => loop.reads.at(-1) === "saved\n" && built(loop.reports) === loop.reads.length);
    writeFileSync(path.join(loop.dir, "shared", "y.txt"), "changed\n");
    const throughLink = path.join(loop.dir, "linked", "y.txt");
    await loop.until(() => loop.reports.some((r) => r.kind === "changed" && r.files.includes(throughLink)));
    await loop.stop();
    const files = loop.reports.flatMap((r) => (r.kind === "changed" ? r.files : []));
    expect(files).not.toContain(path.join(loop.dir, "src", "link", "x.txt"));
    expect(files.filter((f) => f.includes(`${path.sep}outside`) || f.includes(`${path.sep}shared`))).toEqual([]);
  });
});
