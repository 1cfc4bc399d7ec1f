// Transfers keep every entry as it was, whichever of the receiver's ways of creating it
// applies: final modes given at create time or set afterwards (umask, special bits,
// read-only directories), directories and symlinks created while their parents are still
// being created, and files that change between the listing and their request.
import { createHash } from "node:crypto";
import { promises as fsp, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Duplex } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileMode, FileSyncIOError, PacketType, decodePacket, encodePacket, receiveDirectory, sendDirectory, walkDirectory } from "../../src/filesync/index.ts";
import type { Stat } from "../../src/filesync/index.ts";
import { isTransientExportName } from "../../src/filesync/staging.ts";

/** Two object-mode Duplexes back to back; `tap` sees every message, with the side that wrote it. */
function streamPair(tap?: (from: "sender" | "receiver", message: Buffer) => void): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (name: "sender" | "receiver", other: () => Duplex) =>
    new Duplex({
      objectMode: true,
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        tap?.(name, chunk);
        other().push(chunk);
        callback();
      },
      final(callback) {
        other().push(null);
        callback();
      },
    });
  sides.push(make("sender", () => sides[1]!), make("receiver", () => sides[0]!));
  return [sides[0]!, sides[1]!];
}

interface Entry {
  mode: string;
  size: bigint;
  link: string;
  mtime: bigint;
  sha?: string;
  inode?: string;
}

/** Every entry below `root` as a transfer must keep it; hard links share an inode label. */
async function snapshot(root: string): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {};
  const inodes = new Map<bigint, string>();
  for await (const { stat, hostPath } of walkDirectory(root)) {
    const entry: Entry = { mode: stat.mode.toString(8), size: stat.size, link: stat.linkname, mtime: stat.modTime };
    if ((stat.mode & FileMode.Type) === 0) {
      entry.sha = createHash("sha256").update(await fsp.readFile(hostPath)).digest("hex");
      const ino = (await fsp.lstat(hostPath, { bigint: true })).ino;
      if (!inodes.has(ino)) inodes.set(ino, stat.path);
      entry.inode = inodes.get(ino);
      // The walk reports later links to an inode as hard links; compare them by inode only.
      entry.link = "";
    }
    out[stat.path] = entry;
  }
  return out;
}

function expectSameTree(actual: Record<string, Entry>, expected: Record<string, Entry>): void {
  expect(Object.keys(actual)).toEqual(Object.keys(expected));
  for (const [p, want] of Object.entries(expected)) {
    const got = actual[p]!;
    expect({ path: p, mode: got.mode, size: got.size, link: got.link, sha: got.sha, inode: got.inode }).toEqual({ path: p, mode: want.mode, size: want.size, link: want.link, sha: want.sha, inode: want.inode });
    // Host mtimes are set through a double of seconds: allow the 2 µs the receiver allows.
    const drift = got.mtime > want.mtime ? got.mtime - want.mtime : want.mtime - got.mtime;
    expect(drift, `mtime of ${p}`).toBeLessThan(2000n);
  }
}

async function makeWritable(p: string): Promise<void> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (!st?.isDirectory()) return;
  await fsp.chmod(p, 0o755);
  for (const name of await fsp.readdir(p)) await makeWritable(path.join(p, name));
}

let scratch: string;
let savedUmask: number;
beforeEach(async () => {
  savedUmask = process.umask();
  scratch = await fsp.mkdtemp(path.join(os.tmpdir(), "brewkit-fidelity-"));
});
afterEach(async () => {
  process.umask(savedUmask);
  await makeWritable(scratch);
  await fsp.rm(scratch, { recursive: true, force: true });
});

const fileModes = [0o644, 0o666, 0o600, 0o640, 0o444, 0o400, 0o755, 0o777, 0o700, 0o4755, 0o2755, 0o1644, 0o6711];
const dirModes = [0o755, 0o777, 0o700, 0o750, 0o775, 0o711, 0o555, 0o500, 0o1777, 0o2775, 0o3770];

/** A tree with every mode above, nested and empty dirs, symlinks, hard links and empty files, each with its own mtime. */
async function buildTree(root: string): Promise<void> {
  let t = 1_500_000_000;
  const stamp = async (p: string) => {
    t += 1.125;
    await fsp.lutimes(p, t, t);
  };
  const chmods: Array<[string, number]> = [];
  for (const [i, mode] of dirModes.entries()) {
    const dir = path.join(root, `dir-${mode.toString(8)}`);
    await fsp.mkdir(path.join(dir, "inner", "deeper"), { recursive: true });
    await fsp.writeFile(path.join(dir, "inner", "deeper", "leaf"), `leaf ${i}\n`);
    await fsp.writeFile(path.join(dir, "file"), `in ${mode.toString(8)}\n`.repeat(i + 1));
    await fsp.mkdir(path.join(dir, "empty"));
    await fsp.symlink("inner/deeper/leaf", path.join(dir, "link"));
    for (const p of [path.join(dir, "inner", "deeper", "leaf"), path.join(dir, "file"), path.join(dir, "link")]) await stamp(p);
    chmods.push([path.join(dir, "inner", "deeper"), mode], [path.join(dir, "inner"), mode], [path.join(dir, "empty"), mode], [dir, mode]);
  }
  await fsp.mkdir(path.join(root, "files"));
  for (const mode of fileModes) {
    const file = path.join(root, "files", `f-${mode.toString(8)}`);
    await fsp.writeFile(file, `mode ${mode.toString(8)}\n`);
    await fsp.chmod(file, mode);
    await stamp(file);
  }
  await fsp.writeFile(path.join(root, "files", "empty"), "");
  await fsp.chmod(path.join(root, "files", "empty"), 0o664);
  await stamp(path.join(root, "files", "empty"));
  await fsp.link(path.join(root, "files", "f-755"), path.join(root, "files", "hard-755"));
  await fsp.symlink("/absolute/elsewhere", path.join(root, "files", "abs-link"));
  await fsp.symlink("../missing", path.join(root, "files", "dangling"));
  await stamp(path.join(root, "files", "abs-link"));
  // A deep chain: every level is created after the one above it.
  let deep = path.join(root, "deep");
  for (let level = 0; level < 40; level++) {
    await fsp.mkdir(deep);
    await fsp.writeFile(path.join(deep, `f${level}`), `${level}`);
    deep = path.join(deep, `d${level}`);
  }
  // Children first, so that read-only parents do not stop the chmods below them.
  for (const [p, mode] of chmods) {
    await fsp.chmod(p, mode);
    await stamp(p);
  }
  await stamp(path.join(root, "files"));
}

async function transfer(src: string, dest: string): Promise<void> {
  const [senderEnd, receiverEnd] = streamPair();
  await Promise.all([sendDirectory(senderEnd, { root: src }), receiveDirectory(receiverEnd, { dest })]);
}

describe("a received tree", () => {
  for (const umask of [0o022, 0o077, 0o000, 0o027, 0o002]) {
    it(`has every mode, mtime, content, symlink and hard link of the sent one under umask ${umask.toString(8).padStart(3, "0")}`, async () => {
      const src = path.join(scratch, "src");
      await fsp.mkdir(src);
      process.umask(0o022);
      await buildTree(src);
      const before = await snapshot(src);
      process.umask(umask);
      await transfer(src, path.join(scratch, "out"));
      expectSameTree(await snapshot(path.join(scratch, "out")), before);
    });
  }

  it("fails whole when a directory cannot be created, leaving nothing beside or in dest", async () => {
    const dest = path.join(scratch, "out");
    await fsp.mkdir(dest);
    await fsp.writeFile(path.join(dest, "kept"), "old");
    const stat = (p: string, mode: number, size = 0n): Stat => ({ path: p, mode, uid: 0, gid: 0, size, modTime: 1_700_000_000_000_000_000n, linkname: "", devmajor: 0, devminor: 0 });
    // A name longer than any file system allows: mkdir fails on the thread pool, after the listing moved on.
    const long = "x".repeat(300);
    const [senderEnd, receiverEnd] = streamPair();
    senderEnd.on("data", () => undefined);
    for (const s of [stat("a", (FileMode.Dir | 0o755) >>> 0), stat(`a/${long}`, (FileMode.Dir | 0o755) >>> 0), stat(`a/${long}/f`, 0o644, 3n), stat("b", 0o644, 0n)]) {
      senderEnd.write(encodePacket({ type: PacketType.STAT, id: 0, stat: s }));
    }
    senderEnd.write(Buffer.alloc(0));
    await expect(receiveDirectory(receiverEnd, { dest })).rejects.toBeInstanceOf(FileSyncIOError);
    expect(await fsp.readdir(scratch)).toEqual(["out"]);
    expect(await fsp.readdir(dest)).toEqual(["kept"]);
  });
});

describe("an upload", () => {
  it("sends a file's content as it is when the daemon asks for it, when it grew or shrank after the listing", async () => {
    const src = path.join(scratch, "src");
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(src, "grows"), "short");
    await fsp.writeFile(path.join(src, "shrinks"), "a much longer first version");
    const grown = "grown well past its listed size\n".repeat(3000);
    const listed: string[] = [];
    const [senderEnd, receiverEnd] = streamPair((from, message) => {
      const packet = decodePacket(message);
      if (from === "sender" && packet.type === PacketType.STAT && packet.stat) listed.push(packet.stat.path);
      // The file changes while its request is on the way (before the sender reads it).
      if (from === "receiver" && packet.type === PacketType.REQ) {
        const name = listed[packet.id];
        if (name === "grows") writeFileSync(path.join(src, name), grown);
        if (name === "shrinks") writeFileSync(path.join(src, name), "tiny");
      }
    });
    const dest = path.join(scratch, "out");
    await Promise.all([sendDirectory(senderEnd, { root: src }), receiveDirectory(receiverEnd, { dest })]);
    expect(await fsp.readFile(path.join(dest, "grows"), "utf8")).toBe(grown);
    expect(await fsp.readFile(path.join(dest, "shrinks"), "utf8")).toBe("tiny");
  });

  it("never lists brewkit's staging dirs, set-aside entries or lock, even where the patterns would re-include what is in them", async () => {
    const src = path.join(scratch, "src");
    for (const dir of ["src/.out.brewkit-export-7-abcdef", "src/out/.app.brewkit-replaced-7-00112233", "src/keep"]) await fsp.mkdir(path.join(scratch, dir), { recursive: true });
    for (const file of [".out.brewkit-export-7-abcdef/keep", "out/.app.brewkit-replaced-7-00112233/keep", ".brewkit-export.lock", ".brewkit-export.lock.7-ab", "keep/keep", "out/app"]) await fsp.writeFile(path.join(src, file), "x");
    const listed: string[] = [];
    for await (const entry of walkDirectory(src, { excludePatterns: ["*", "!**/keep", "!out"], skipName: isTransientExportName })) listed.push(entry.stat.path);
    expect(listed).toEqual(["keep", "keep/keep", "out", "out/app"]);
  });
});
