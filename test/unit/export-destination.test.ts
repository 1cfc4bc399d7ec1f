import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { hostname } from "node:os";
import os from "node:os";
import path from "node:path";
import { Duplex } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileSyncPathError, receiveDirectory, sendDirectory } from "../../src/filesync/index.ts";
import { resolveDestination } from "../../src/filesync/destination.ts";
import { exportLockName, withExportLock } from "../../src/filesync/export-lock.ts";
import { Staging } from "../../src/filesync/staging.ts";

// Two object-mode streams back to back: a write on one is a message on the other.
function streamPair(): [Duplex, Duplex] {
  const a: Duplex = new Duplex({ objectMode: true, read() {}, write: (chunk, _e, cb) => (b.push(chunk), cb()), final: (cb) => (b.push(null), cb()) });
  const b: Duplex = new Duplex({ objectMode: true, read() {}, write: (chunk, _e, cb) => (a.push(chunk), cb()), final: (cb) => (a.push(null), cb()) });
  return [a, b];
}

let scratch: string;
let project: string;
let outside: string;
beforeEach(async () => {
  scratch = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "brewkit-dest-")));
  project = path.join(scratch, "project");
  outside = path.join(scratch, "outside");
  await fsp.mkdir(project);
  await fsp.mkdir(outside);
});
afterEach(async () => {
  await fsp.rm(scratch, { recursive: true, force: true });
});

async function exportTree(files: Record<string, string>, dest: string, within: string | undefined): Promise<void> {
  const src = await fsp.mkdtemp(path.join(scratch, "src-"));
  for (const [name, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(src, name)), { recursive: true });
    await fsp.writeFile(path.join(src, name), content);
  }
  const [a, b] = streamPair();
  const sending = sendDirectory(a, { root: src }).catch(() => undefined);
  try {
    await receiveDirectory(b, { dest, within });
  } finally {
    a.destroy();
    await sending;
  }
}

/** A process id that is certainly not running any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

describe("resolveDestination", () => {
  it("follows a symlink that stays in the project, to its real place", async () => {
    await fsp.mkdir(path.join(project, "real"));
    await fsp.symlink("real", path.join(project, "docs"));
    expect(await resolveDestination(path.join(project, "docs/api"), project)).toBe(path.join(project, "real/api"));
  });

  it("refuses a symlink that leads out of the project, wherever it is on the path", async () => {
    await fsp.symlink(outside, path.join(project, "docs"));
    for (const dest of ["docs", "docs/api", "docs/api/deeper"]) {
      const err = await resolveDestination(path.join(project, dest), project).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FileSyncPathError);
      expect((err as Error).message).toContain(`${path.join(project, "docs")}, a symlink to ${outside} outside the project`);
    }
  });

  it("refuses a dangling symlink on the path (a mkdir would create its target)", async () => {
    await fsp.symlink(path.join(outside, "not-yet"), path.join(project, "dist"));
    await expect(resolveDestination(path.join(project, "dist"), project)).rejects.toThrow(/a symlink to .*not-yet that does not exist/);
  });

  it("follows symlinks freely for an output allowed outside the project", async () => {
    await fsp.symlink(outside, path.join(project, "docs"));
    expect(await resolveDestination(path.join(project, "docs/new"), undefined)).toBe(path.join(outside, "new"));
  });
});

describe("exports never write through a symlink out of the project", () => {
  it("refuses an output whose directory an earlier export made a symlink, and writes nothing outside", async () => {
    // The first export leaves dist/docs -> outside (a build step can make any symlink).
    await fsp.mkdir(path.join(project, "dist"));
    await fsp.symlink(outside, path.join(project, "dist/docs"));
    const err = await exportTree({ "index.html": "pwned" }, path.join(project, "dist/docs"), project).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileSyncPathError);
    expect(await fsp.readdir(outside)).toEqual([]);
    expect((await fsp.readdir(path.join(project, "dist"))).sort()).toEqual(["docs"]);
  });

  it("refuses a user's symlink in the project path unless the output is allowed outside", async () => {
    await fsp.symlink(outside, path.join(project, "out"));
    await expect(exportTree({ f: "x" }, path.join(project, "out/app"), project)).rejects.toThrow(/outside the project/);
    expect(await fsp.readdir(outside)).toEqual([]);
    await exportTree({ f: "x" }, path.join(project, "out/app"), undefined);
    expect(await fsp.readFile(path.join(outside, "app/f"), "utf8")).toBe("x");
  });

  it("checks again when moving in: a symlink that appeared during the transfer is refused", async () => {
    const dest = path.join(project, "dist/docs");
    const staging = await Staging.create(dest, { within: project });
    await fsp.writeFile(path.join(staging.root, "index.html"), "late");
    await fsp.mkdir(path.join(project, "dist"), { recursive: true });
    await fsp.symlink(outside, dest);
    await expect(staging.commit()).rejects.toThrow(/outside the project/);
    await staging.discard();
    expect(await fsp.readdir(outside)).toEqual([]);
  });
});

describe("the export lock", () => {
  it("moves concurrent exports into one place one at a time, each whole", async () => {
    const dest = path.join(project, "dist");
    for (let i = 0; i < 50; i++) {
      await fsp.mkdir(path.join(dest, `d${i}`), { recursive: true });
      await fsp.writeFile(path.join(dest, `d${i}/f`), "old");
    }
    const a = await Staging.create(dest, { within: project });
    const b = await Staging.create(dest, { within: project });
    for (const [s, tag] of [[a, "a"], [b, "b"]] as const) {
      for (let i = 0; i < 50; i++) {
        await fsp.mkdir(path.join(s.root, `d${i}`));
        await fsp.writeFile(path.join(s.root, `d${i}/f`), tag);
      }
    }
    // Without the lock, the two commits set each other's directories aside and fail or mix.
    await Promise.all([a.commit(), b.commit()]);
    const entries = await fsp.readdir(dest);
    expect(entries.length).toBe(50);
    const contents = new Set(await Promise.all(entries.map((d) => fsp.readFile(path.join(dest, d, "f"), "utf8"))));
    expect(contents.size).toBe(1);
    expect((await fsp.readdir(project)).sort()).toEqual(["dist"]);
  });

  it("waits while a live process holds it, and takes it once that process is gone", async () => {
    const holder = spawn("sleep", ["600"], { stdio: "ignore" });
    await new Promise((resolve) => holder.once("spawn", resolve));
    await fsp.writeFile(path.join(project, exportLockName), JSON.stringify({ pid: holder.pid, host: hostname(), token: "other" }));
    let ran = false;
    const waited = new Promise<number>((resolve) => {
      void withExportLock(project, async () => (ran = true), { onWait: resolve });
    });
    expect(await waited).toBe(holder.pid);
    expect(ran).toBe(false);
    const exited = new Promise((resolve) => holder.once("exit", resolve));
    holder.kill("SIGKILL");
    await exited;
    await expect.poll(() => ran, { timeout: 60_000 }).toBe(true);
    expect(await fsp.readdir(project)).toEqual([]);
  });

  it("takes over a lock left by a process that died", async () => {
    await fsp.writeFile(path.join(project, exportLockName), JSON.stringify({ pid: await deadPid(), host: hostname(), token: "dead" }));
    let waitedFor: number | undefined;
    expect(await withExportLock(project, async () => "done", { onWait: (pid) => (waitedFor = pid) })).toBe("done");
    expect(waitedFor).toBeUndefined();
    expect(await fsp.readdir(project)).toEqual([]);
  });

  it("stops waiting when aborted", async () => {
    await fsp.writeFile(path.join(project, exportLockName), JSON.stringify({ pid: process.pid, host: hostname(), token: "mine-but-other" }));
    const abort = new AbortController();
    const pending = withExportLock(project, async () => "never", { signal: abort.signal, onWait: () => abort.abort(new Error("stop")) });
    await expect(pending).rejects.toThrow(/aborted/);
  });
});

describe("leftovers of killed runs", () => {
  it("are removed when the next export prepares, while a live run's staging is kept", async () => {
    const dead = await deadPid();
    await fsp.mkdir(path.join(project, "dist"));
    await fsp.mkdir(path.join(project, `.dist.brewkit-export-${dead}-abc123`));
    await fsp.writeFile(path.join(project, `.dist.brewkit-export-${dead}-abc123/partial`), "half");
    await fsp.mkdir(path.join(project, `dist/.app.brewkit-replaced-${dead}-0011aabb`));
    const live = path.join(project, `.dist.brewkit-export-${process.pid + 0}-live99`);
    await fsp.mkdir(live);
    await exportTree({ app: "new" }, path.join(project, "dist"), project);
    expect((await fsp.readdir(project)).sort()).toEqual([path.basename(live), "dist"].sort());
    expect(await fsp.readdir(path.join(project, "dist"))).toEqual(["app"]);
  });
});

describe("uploads", () => {
  it("never include another run's staging dirs, set-aside entries or export lock", async () => {
    const { walkDirectory } = await import("../../src/filesync/index.ts");
    const { isTransientExportName } = await import("../../src/filesync/staging.ts");
    for (const dir of [".dist.brewkit-export-12-abc", "dist/.app.brewkit-replaced-12-0011aabb", "src"]) await fsp.mkdir(path.join(project, dir), { recursive: true });
    for (const file of [".dist.brewkit-export-12-abc/half", exportLockName, `${exportLockName}.12-ab`, "src/keep", "dist/app"]) await fsp.writeFile(path.join(project, file), "x");
    const listed: string[] = [];
    for await (const entry of walkDirectory(project, { skipName: isTransientExportName })) listed.push(entry.stat.path);
    expect(listed).toEqual(["dist", "dist/app", "src", "src/keep"]);
  });
});
