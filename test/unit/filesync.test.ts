import { createHash, randomBytes } from "node:crypto";
import { promises as fsp, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Duplex } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DATA_HEADER_ROOM,
  FileMode,
  FileSyncPathError,
  FileSyncProtocolError,
  PacketType,
  PeerError,
  TransferAbortedError,
  UnsafePathError,
  comparePath,
  compareUtf8,
  decodePacket,
  encodePacket,
  fileModeFromPosix,
  frameDataPacket,
  posixFromFileMode,
  posixPermissions,
  receiveDirectory,
  sendDirectory,
  walkDirectory,
} from "../../src/filesync/index.ts";
import type { Packet, Stat } from "../../src/filesync/index.ts";

// ---------------------------------------------------------------------------
// Helpers

/**
 * Two object-mode Duplexes wired back to back, like the two ends of a gRPC
 * stream: a write on one side is one message on the other. Backpressure is
 * real (a write's callback waits until the other side reads), and `tap` sees
 * every message with its direction.
 */
function streamPair(options: { highWaterMark?: number; tap?: (from: "a" | "b", message: Buffer) => void } = {}): [Duplex, Duplex] {
  const hwm = options.highWaterMark ?? 16;
  let blockedA: (() => void) | undefined;
  let blockedB: (() => void) | undefined;
  const a: Duplex = new Duplex({
    objectMode: true,
    highWaterMark: hwm,
    read() {
      const resume = blockedB;
      blockedB = undefined;
      resume?.();
    },
    write(chunk: Buffer, _encoding, callback) {
      options.tap?.("a", chunk);
      if (b.push(chunk)) callback();
      else blockedA = callback;
    },
    final(callback) {
      b.push(null);
      callback();
    },
  });
  const b: Duplex = new Duplex({
    objectMode: true,
    highWaterMark: hwm,
    read() {
      const resume = blockedA;
      blockedA = undefined;
      resume?.();
    },
    write(chunk: Buffer, _encoding, callback) {
      options.tap?.("b", chunk);
      if (a.push(chunk)) callback();
      else blockedB = callback;
    },
    final(callback) {
      a.push(null);
      callback();
    },
  });
  return [a, b];
}

/** A hand-driven protocol peer on one end of a stream pair. */
class ScriptedPeer {
  private readonly inbox: Packet[] = [];
  private waiting: ((p: Packet) => void) | undefined;

  constructor(readonly stream: Duplex) {
    stream.on("data", (message: Buffer) => {
      const packet = decodePacket(message);
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(packet);
      } else this.inbox.push(packet);
    });
  }

  send(packet: Packet): void {
    this.stream.write(encodePacket(packet));
  }

  stat(stat: Partial<Stat> & { path: string }): void {
    this.send({ type: PacketType.STAT, id: 0, stat: { ...baseStat, ...stat } });
  }

  endListing(): void {
    this.stream.write(Buffer.alloc(0));
  }

  next(): Promise<Packet> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  received(): Packet[] {
    return this.inbox;
  }
}

const baseStat: Stat = { path: "", mode: 0o644, uid: 0, gid: 0, size: 0n, modTime: 1_700_000_000_123_456_789n, linkname: "", devmajor: 0, devminor: 0 };
const dirMode = (perm: number) => (FileMode.Dir | perm) >>> 0;
const linkMode = (FileMode.Symlink | 0o777) >>> 0;

let scratch: string;
beforeEach(async () => {
  scratch = await fsp.mkdtemp(path.join(os.tmpdir(), "brewkit-filesync-"));
});
afterEach(async () => {
  // Exported trees may contain read-only directories.
  await makeWritable(scratch);
  await fsp.rm(scratch, { recursive: true, force: true });
});

async function makeWritable(p: string): Promise<void> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (!st?.isDirectory()) return;
  await fsp.chmod(p, 0o755);
  for (const name of await fsp.readdir(p)) await makeWritable(path.join(p, name));
}

async function listPaths(root: string, options: Parameters<typeof walkDirectory>[1] = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of walkDirectory(root, options)) out.push(entry.stat.path);
  return out;
}

/** Everything that should survive a transfer, per path. */
async function snapshot(root: string): Promise<Record<string, { mode: string; size: bigint; link: string; mtime: bigint; sha?: string }>> {
  const out: Record<string, { mode: string; size: bigint; link: string; mtime: bigint; sha?: string }> = {};
  for await (const { stat, hostPath } of walkDirectory(root)) {
    const entry: { mode: string; size: bigint; link: string; mtime: bigint; sha?: string } = {
      mode: stat.mode.toString(8),
      size: stat.size,
      link: stat.linkname,
      mtime: stat.modTime,
    };
    if ((stat.mode & FileMode.Type) === 0) entry.sha = createHash("sha256").update(await fsp.readFile(hostPath)).digest("hex");
    out[stat.path] = entry;
  }
  return out;
}

async function dirEntries(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).sort();
}

// ---------------------------------------------------------------------------

describe("packet encoding", () => {
  const fullStat: Stat = {
    path: "a/é/b",
    mode: 0x800001ed,
    uid: 1000,
    gid: 4294967295,
    size: 1n << 40n,
    modTime: 1_795_588_586_190_734_123n,
    linkname: "target",
    devmajor: 3,
    devminor: -1,
    xattrs: new Map([["user.k", Buffer.from("v")]]),
  };

  it("round-trips every Stat field, keeping int64 precision beyond 2^53", () => {
    const decoded = decodePacket(encodePacket({ type: PacketType.STAT, id: 0, stat: fullStat }));
    expect(decoded.type).toBe(PacketType.STAT);
    expect(decoded.stat).toEqual(fullStat);
    expect(decoded.stat!.modTime > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  });

  it("round-trips negative int64 values as ten-byte varints", () => {
    const stat = { ...baseStat, path: "x", modTime: -1n, size: -(1n << 62n) };
    const bytes = encodePacket({ type: PacketType.STAT, id: 0, stat });
    expect(decodePacket(bytes).stat).toEqual(stat);
    expect(bytes.includes(Buffer.from("30ffffffffffffffffff01", "hex"))).toBe(true);
  });

  it("produces the bytes Go's fsutil types produce", () => {
    // Captured from fsutil's generated (vtproto) marshaller for the same packet.
    const go = "12390a03612f6210ed838080082880808080802030ab869495e4c9cdf5183a0178400348ffffffffffffffffff01520b0a06757365722e6b1201761807";
    const stat: Stat = { ...fullStat, path: "a/b", uid: 0, gid: 0, linkname: "x" };
    expect(encodePacket({ type: PacketType.STAT, id: 7, stat }).toString("hex")).toBe(go);
    expect(decodePacket(Buffer.from(go, "hex"))).toEqual({ type: PacketType.STAT, id: 7, stat });
  });

  it("encodes the end-of-listing STAT as zero bytes, and decodes zero bytes back to it", () => {
    expect(encodePacket({ type: PacketType.STAT, id: 0 }).length).toBe(0);
    expect(decodePacket(Buffer.alloc(0))).toEqual({ type: PacketType.STAT, id: 0 });
  });

  it("encodes DATA end-of-file as type and id only", () => {
    expect(encodePacket({ type: PacketType.DATA, id: 0 }).toString("hex")).toBe("0802");
    expect(encodePacket({ type: PacketType.DATA, id: 5, data: Buffer.alloc(0) }).toString("hex")).toBe("08021805");
  });

  it("round-trips REQ, DATA, FIN and ERR", () => {
    const packets: Packet[] = [
      { type: PacketType.REQ, id: 300 },
      { type: PacketType.DATA, id: 4_000_000_000, data: Buffer.from("chunk") },
      { type: PacketType.FIN, id: 0 },
      { type: PacketType.ERR, id: 0, data: Buffer.from("boom") },
    ];
    for (const p of packets) expect(decodePacket(encodePacket(p))).toEqual(p);
  });

  it("frames DATA chunks in place exactly like encodePacket", () => {
    for (const [id, length] of [
      [0, 1],
      [1, 127],
      [128, 128],
      [70000, 70000],
      [4_294_967_295, 16384],
      [9, 0],
    ] as const) {
      const data = randomBytes(length);
      const buf = Buffer.alloc(DATA_HEADER_ROOM + length);
      data.copy(buf, DATA_HEADER_ROOM);
      expect(frameDataPacket(buf, id, length).equals(encodePacket({ type: PacketType.DATA, id, data }))).toBe(true);
    }
  });

  it("rejects truncated packets", () => {
    const bytes = encodePacket({ type: PacketType.STAT, id: 0, stat: fullStat });
    expect(() => decodePacket(bytes.subarray(0, bytes.length - 3))).toThrow(FileSyncProtocolError);
  });
});

describe("file modes", () => {
  it("converts POSIX st_mode to Go os.FileMode bits", () => {
    expect(fileModeFromPosix(0o040755)).toBe(0x800001ed);
    expect(fileModeFromPosix(0o120777)).toBe(0x080001ff);
    expect(fileModeFromPosix(0o104755)).toBe(0x008001ed);
    expect(fileModeFromPosix(0o041777)).toBe(0x801001ff);
    expect(fileModeFromPosix(0o020620)).toBe((FileMode.Device | FileMode.CharDevice | 0o620) >>> 0);
    expect(fileModeFromPosix(0o010644)).toBe((FileMode.NamedPipe | 0o644) >>> 0);
  });

  it("converts back, special bits included", () => {
    for (const st of [0o040755, 0o120777, 0o104755, 0o102711, 0o041777, 0o100600, 0o060660, 0o020620]) {
      expect(posixFromFileMode(fileModeFromPosix(st))).toBe(st);
    }
    expect(posixPermissions(fileModeFromPosix(0o106755))).toBe(0o6755);
  });
});

describe("path order", () => {
  it("sorts / before every other byte (a/b before a-c)", () => {
    const paths = ["a-c", "a/b", "a", "a.d", "a/b/c", "ab"];
    expect([...paths].sort(comparePath)).toEqual(["a", "a/b", "a/b/c", "a-c", "a.d", "ab"]);
  });

  it("compares UTF-8 bytes, not UTF-16 code units", () => {
    // U+FF21 is EF BC A1 in UTF-8, U+1F600 is F0 9F 98 80; JS's own order is the reverse.
    expect("\u{1F600}" < "\uFF21").toBe(true);
    expect(compareUtf8("\uFF21", "\u{1F600}")).toBeLessThan(0);
    expect(comparePath("\uFF21", "\u{1F600}")).toBeLessThan(0);
  });
});

describe("walkDirectory", () => {
  it("walks depth-first with siblings in UTF-8 byte order, root excluded", async () => {
    await fsp.mkdir(path.join(scratch, "a"));
    for (const name of ["a/b", "a-c", "a.d", "ab", "\uFF21", "\u{1F600}", "B"]) await fsp.writeFile(path.join(scratch, name), "");
    expect(await listPaths(scratch)).toEqual(["B", "a", "a/b", "a-c", "a.d", "ab", "\uFF21", "\u{1F600}"]);
  });

  it("reports Go file modes, ns mtimes, real sizes, uid/gid 0 and unfollowed symlinks", async () => {
    await fsp.mkdir(path.join(scratch, "dir"));
    await fsp.writeFile(path.join(scratch, "dir/run.sh"), "#!/bin/sh\n");
    await fsp.chmod(path.join(scratch, "dir/run.sh"), 0o755);
    await fsp.chmod(path.join(scratch, "dir"), 0o750);
    await fsp.symlink("dir/run.sh", path.join(scratch, "link"));
    const stats = new Map<string, Stat>();
    for await (const e of walkDirectory(scratch)) stats.set(e.stat.path, e.stat);
    const script = await fsp.lstat(path.join(scratch, "dir/run.sh"), { bigint: true });
    expect(stats.get("dir/run.sh")).toEqual({ ...baseStat, path: "dir/run.sh", mode: 0o755, size: 10n, modTime: script.mtimeNs });
    expect(stats.get("dir")).toMatchObject({ mode: dirMode(0o750), size: 0n, uid: 0, gid: 0 });
    expect(stats.get("link")).toMatchObject({ mode: linkMode, linkname: "dir/run.sh", size: 10n });
  });

  it("sends later links to the same inode as hard links to the first path", async () => {
    await fsp.writeFile(path.join(scratch, "a"), "data");
    await fsp.link(path.join(scratch, "a"), path.join(scratch, "b"));
    const stats: Stat[] = [];
    for await (const e of walkDirectory(scratch)) stats.push(e.stat);
    expect(stats.map((s) => [s.path, s.linkname])).toEqual([
      ["a", ""],
      ["b", "a"],
    ]);
  });

  it("applies exclude patterns with exceptions, emitting the parents of re-included entries first", async () => {
    await fsp.mkdir(path.join(scratch, "node_modules/pkg/lib"), { recursive: true });
    await fsp.writeFile(path.join(scratch, "node_modules/pkg/lib/index.js"), "");
    await fsp.writeFile(path.join(scratch, "node_modules/pkg/README.md"), "");
    await fsp.mkdir(path.join(scratch, "src"));
    await fsp.writeFile(path.join(scratch, "src/main.ts"), "");
    expect(await listPaths(scratch, { excludePatterns: ["node_modules"] })).toEqual(["src", "src/main.ts"]);
    expect(await listPaths(scratch, { excludePatterns: ["node_modules", "!**/README.md"] })).toEqual([
      "node_modules",
      "node_modules/pkg",
      "node_modules/pkg/README.md",
      "src",
      "src/main.ts",
    ]);
  });

  it("applies include patterns, keeping parents and everything below a matched dir", async () => {
    await fsp.mkdir(path.join(scratch, "a/b/c"), { recursive: true });
    await fsp.writeFile(path.join(scratch, "a/b/c/f.txt"), "");
    await fsp.writeFile(path.join(scratch, "a/x.go"), "");
    await fsp.writeFile(path.join(scratch, "top.go"), "");
    expect(await listPaths(scratch, { includePatterns: ["a/b"] })).toEqual(["a", "a/b", "a/b/c", "a/b/c/f.txt"]);
    expect(await listPaths(scratch, { includePatterns: ["**/*.go"] })).toEqual(["a", "a/x.go", "top.go"]);
  });

  it("follows symlinks named in followPaths to their targets", async () => {
    await fsp.mkdir(path.join(scratch, "real/sub"), { recursive: true });
    await fsp.writeFile(path.join(scratch, "real/sub/file"), "");
    await fsp.writeFile(path.join(scratch, "other"), "");
    await fsp.symlink("real/sub", path.join(scratch, "alias"));
    expect(await listPaths(scratch, { followPaths: ["alias"] })).toEqual(["alias", "real", "real/sub", "real/sub/file"]);
  });

  it("rejects a root that is not a directory", async () => {
    await fsp.writeFile(path.join(scratch, "file"), "");
    await expect(listPaths(path.join(scratch, "file"))).rejects.toThrow(FileSyncPathError);
    await expect(listPaths(path.join(scratch, "missing"))).rejects.toThrow(FileSyncPathError);
  });
});

// ---------------------------------------------------------------------------

async function buildSourceTree(root: string): Promise<void> {
  await fsp.mkdir(path.join(root, "bin"));
  await fsp.mkdir(path.join(root, "src/deep/er"), { recursive: true });
  await fsp.writeFile(path.join(root, "bin/tool"), "#!/bin/sh\necho hi\n");
  await fsp.chmod(path.join(root, "bin/tool"), 0o755);
  await fsp.writeFile(path.join(root, "bin/suid"), "x");
  await fsp.chmod(path.join(root, "bin/suid"), 0o4755);
  await fsp.writeFile(path.join(root, "src/deep/er/leaf.txt"), "leaf");
  await fsp.writeFile(path.join(root, "src/empty"), "");
  await fsp.writeFile(path.join(root, "src/private"), "secret");
  await fsp.chmod(path.join(root, "src/private"), 0o600);
  await fsp.writeFile(path.join(root, "big.bin"), randomBytes(6 * 1024 * 1024 + 123));
  await fsp.symlink("src/deep/er/leaf.txt", path.join(root, "rel-link"));
  await fsp.symlink("/nonexistent/absolute", path.join(root, "abs-link"));
  await fsp.link(path.join(root, "src/deep/er/leaf.txt"), path.join(root, "src/hardlink"));
  await fsp.mkdir(path.join(root, "sticky"));
  await fsp.chmod(path.join(root, "sticky"), 0o1777);
  await fsp.mkdir(path.join(root, "ro/inner"), { recursive: true });
  await fsp.writeFile(path.join(root, "ro/inner/f"), "f");
  await fsp.chmod(path.join(root, "ro/inner"), 0o500);
  await fsp.chmod(path.join(root, "ro"), 0o555);
  // Distinct ns timestamps so that a lost mtime shows.
  await fsp.utimes(path.join(root, "src/deep/er/leaf.txt"), 1_600_000_000.25, 1_600_000_000.25);
  await fsp.lutimes(path.join(root, "rel-link"), 1_500_000_000.5, 1_500_000_000.5);
  await fsp.utimes(path.join(root, "src/deep"), 1_400_000_000.75, 1_400_000_000.75);
}

function expectSameTree(actual: Awaited<ReturnType<typeof snapshot>>, expected: Awaited<ReturnType<typeof snapshot>>): void {
  expect(Object.keys(actual)).toEqual(Object.keys(expected));
  for (const [p, want] of Object.entries(expected)) {
    const got = actual[p]!;
    expect({ path: p, mode: got.mode, size: got.size, link: got.link, sha: got.sha }).toEqual({ path: p, mode: want.mode, size: want.size, link: want.link, sha: want.sha });
    // utimes takes a double, truncated to microseconds after rounding: allow up to 2 µs.
    const drift = got.mtime > want.mtime ? got.mtime - want.mtime : want.mtime - got.mtime;
    expect(drift, `mtime of ${p}`).toBeLessThan(2000n);
  }
}

describe("sendDirectory ↔ receiveDirectory", () => {
  it("copies a tree: files, empty files, nested dirs, symlinks, hard links, modes, mtimes and a large streamed file", async () => {
    const src = path.join(scratch, "src");
    const dest = path.join(scratch, "out");
    await fsp.mkdir(src);
    await buildSourceTree(src);
    const before = await snapshot(src);

    const requested: number[] = [];
    const stats: Stat[] = [];
    let largestMessage = 0;
    const [senderEnd, receiverEnd] = streamPair({
      highWaterMark: 2,
      tap: (from, message) => {
        const packet = decodePacket(message);
        largestMessage = Math.max(largestMessage, message.length);
        if (from === "b" && packet.type === PacketType.REQ) requested.push(packet.id);
        if (from === "a" && packet.type === PacketType.STAT && packet.stat) stats.push(packet.stat);
      },
    });
    const sentFiles: Array<[string, number]> = [];
    const [sent, received] = await Promise.all([
      sendDirectory(senderEnd, { root: src, onFileSent: (p, n) => sentFiles.push([p, n]) }),
      receiveDirectory(receiverEnd, { dest }),
    ]);

    expectSameTree(await snapshot(dest), before);

    // Only non-empty regular files that are not hard links are asked for, once each.
    const wanted = stats
      .map((s, id) => ({ s, id }))
      .filter(({ s }) => (s.mode & FileMode.Type) === 0 && s.linkname === "" && s.size > 0n)
      .map(({ id }) => id);
    expect([...requested].sort((x, y) => x - y)).toEqual(wanted);
    expect(new Set(requested).size).toBe(requested.length);
    expect(sentFiles.map(([p]) => p).sort()).toEqual(wanted.map((id) => stats[id]!.path).sort());

    const totalBytes = Object.values(before).reduce((n, e) => n + (e.sha && e.link === "" ? Number(e.size) : 0), 0);
    expect(sent).toEqual({ entries: stats.length, filesSent: wanted.length, bytesSent: totalBytes });
    expect(received).toEqual({ entries: stats.length, files: stats.filter((s) => (s.mode & FileMode.Type) === 0).length, bytes: totalBytes, reused: 0 });
    // The 6 MiB file went in bounded chunks, not as one message.
    expect(largestMessage).toBeLessThanOrEqual(64 * 1024 + DATA_HEADER_ROOM);
    // Nothing is left beside dest.
    expect(await dirEntries(scratch)).toEqual(["out", "src"]);
  });

  it("moves 20,000 files, every one requested up front, with a bounded number of files open", async () => {
    const src = path.join(scratch, "src");
    for (let d = 0; d < 100; d++) {
      const dir = path.join(src, `dir${d}`);
      await fsp.mkdir(dir, { recursive: true });
      await Promise.all(Array.from({ length: 200 }, (_, f) => fsp.writeFile(path.join(dir, `file${f}`), `${d}/${f}`)));
    }
    let outstanding = 0;
    let maxOutstanding = 0;
    const [a, b] = streamPair({
      tap: (from, message) => {
        const p = decodePacket(message);
        if (from === "b" && p.type === PacketType.REQ) maxOutstanding = Math.max(maxOutstanding, ++outstanding);
        if (from === "a" && p.type === PacketType.DATA && !p.data?.length) outstanding--;
      },
    });
    const openFiles = () => readdirSync("/proc/self/fd").length;
    const before = openFiles();
    let maxOpen = 0;
    const sampler = setInterval(() => (maxOpen = Math.max(maxOpen, openFiles())), 1);
    const dest = path.join(scratch, "out");
    try {
      const [sent, received] = await Promise.all([sendDirectory(a, { root: src }), receiveDirectory(b, { dest })]);
      expect(sent.filesSent).toBe(20_000);
      expect(received).toMatchObject({ entries: 20_100, files: 20_000 });
    } finally {
      clearInterval(sampler);
    }
    const copied = await listPaths(dest);
    expect(copied).toEqual(await listPaths(src));
    expect(copied).toEqual([...copied].sort(comparePath));
    expect(await fsp.readFile(path.join(dest, "dir42/file7"), "utf8")).toBe("42/7");
    // The sender's queue is kept full: far more requests in flight than files open.
    expect(maxOutstanding).toBeGreaterThan(1_000);
    // 64 receiving plus the sender's few: nowhere near one per file.
    expect(maxOpen - before).toBeLessThanOrEqual(64 + 16);
    expect(maxOpen - before).toBeGreaterThan(0);
  }, 60_000);

  it("sends only what the patterns select", async () => {
    const src = path.join(scratch, "src");
    await fsp.mkdir(path.join(src, "node_modules/x"), { recursive: true });
    await fsp.writeFile(path.join(src, "node_modules/x/index.js"), "js");
    await fsp.writeFile(path.join(src, "node_modules/x/README.md"), "md");
    await fsp.writeFile(path.join(src, "main.ts"), "ts");
    const dest = path.join(scratch, "out");
    const [a, b] = streamPair();
    await Promise.all([sendDirectory(a, { root: src, excludePatterns: ["node_modules", "!node_modules/x/README.md"] }), receiveDirectory(b, { dest })]);
    expect(await listPaths(dest)).toEqual(["main.ts", "node_modules", "node_modules/x", "node_modules/x/README.md"]);
  });

  it.runIf(process.getuid?.() === 0)("gives every entry the requested owner", async () => {
    const src = path.join(scratch, "src");
    await fsp.mkdir(path.join(src, "d"), { recursive: true });
    await fsp.writeFile(path.join(src, "d/f"), "x");
    await fsp.symlink("d/f", path.join(src, "l"));
    const dest = path.join(scratch, "out");
    const [a, b] = streamPair();
    await Promise.all([sendDirectory(a, { root: src }), receiveDirectory(b, { dest, uid: 1234, gid: 2345 })]);
    for (const p of ["d", "d/f", "l"]) {
      const st = await fsp.lstat(path.join(dest, p));
      expect([p, st.uid, st.gid]).toEqual([p, 1234, 2345]);
    }
  });
});

describe("sendDirectory", () => {
  async function startSender(files: Record<string, string>) {
    const root = path.join(scratch, "src");
    await fsp.mkdir(root);
    for (const [name, content] of Object.entries(files)) await fsp.writeFile(path.join(root, name), content);
    const [a, b] = streamPair();
    const peer = new ScriptedPeer(b);
    const done = sendDirectory(a, { root });
    const listing: Stat[] = [];
    for (;;) {
      const p = await peer.next();
      if (!p.stat) break;
      listing.push(p.stat);
    }
    return { root, peer, done, listing };
  }

  it("answers REQ with DATA chunks and an empty DATA, then echoes FIN", async () => {
    const { peer, done, listing } = await startSender({ a: "alpha", b: "beta" });
    expect(listing.map((s) => s.path)).toEqual(["a", "b"]);
    peer.send({ type: PacketType.REQ, id: 1 });
    expect(await peer.next()).toEqual({ type: PacketType.DATA, id: 1, data: Buffer.from("beta") });
    expect(await peer.next()).toEqual({ type: PacketType.DATA, id: 1 });
    peer.send({ type: PacketType.FIN, id: 0 });
    expect(await peer.next()).toEqual({ type: PacketType.FIN, id: 0 });
    await expect(done).resolves.toEqual({ entries: 2, filesSent: 1, bytesSent: 4 });
  });

  it("sends a file that vanished after the listing as empty", async () => {
    const { root, peer, done } = await startSender({ gone: "content" });
    await fsp.rm(path.join(root, "gone"));
    peer.send({ type: PacketType.REQ, id: 0 });
    expect(await peer.next()).toEqual({ type: PacketType.DATA, id: 0 });
    peer.send({ type: PacketType.FIN, id: 0 });
    await expect(done).resolves.toMatchObject({ filesSent: 1, bytesSent: 0 });
  });

  it("rejects a REQ for an unknown or already served id and tells the receiver", async () => {
    const { peer, done } = await startSender({ a: "x" });
    peer.send({ type: PacketType.REQ, id: 0 });
    await peer.next();
    await peer.next();
    peer.send({ type: PacketType.REQ, id: 0 });
    await expect(done).rejects.toThrow(/invalid file id 0/);
    const err = await peer.next();
    expect(err.type).toBe(PacketType.ERR);
    expect(Buffer.from(err.data!).toString()).toMatch(/invalid file id 0/);
  });

  it("fails with the receiver's message on ERR", async () => {
    const { peer, done } = await startSender({ a: "x" });
    peer.send({ type: PacketType.ERR, id: 0, data: Buffer.from("disk full") });
    await expect(done).rejects.toThrow(PeerError);
    await expect(done).rejects.toThrow(/disk full/);
  });

  it("fails when the receiver goes away without FIN", async () => {
    const { peer, done } = await startSender({ a: "x" });
    peer.stream.end();
    await expect(done).rejects.toThrow(FileSyncProtocolError);
  });
});

// ---------------------------------------------------------------------------

describe("receiveDirectory safety", () => {
  let dest: string;
  beforeEach(async () => {
    dest = path.join(scratch, "dest");
    await fsp.mkdir(dest);
    await fsp.writeFile(path.join(dest, "mine.txt"), "user data");
  });

  async function expectUntouched(): Promise<void> {
    expect(await dirEntries(dest)).toEqual(["mine.txt"]);
    expect(await fsp.readFile(path.join(dest, "mine.txt"), "utf8")).toBe("user data");
    // No staging directory left behind, nothing written next to dest.
    expect(await dirEntries(scratch)).toEqual(["dest"]);
  }

  async function receiveScript(script: (peer: ScriptedPeer) => void | Promise<void>, signal?: AbortSignal) {
    const [a, b] = streamPair();
    const peer = new ScriptedPeer(a);
    const done = receiveDirectory(b, { dest, signal });
    done.catch(() => undefined);
    await script(peer);
    return { done, peer };
  }

  const unsafe: Array<[string, Array<Partial<Stat> & { path: string }>]> = [
    ["a parent escape", [{ path: "../evil" }]],
    ["a nested parent escape", [{ path: "a", mode: dirMode(0o755) }, { path: "a/../../evil" }]],
    ["an absolute path", [{ path: "/tmp/evil" }]],
    ["a write through a symlink received earlier", [{ path: "link", mode: linkMode, linkname: ".." }, { path: "link/evil" }]],
    ["a write through an absolute symlink", [{ path: "link", mode: linkMode, linkname: "/tmp" }, { path: "link/evil" }]],
  ];
  for (const [name, entries] of unsafe) {
    it(`refuses ${name} and leaves dest untouched`, async () => {
      const { done, peer } = await receiveScript((peer) => {
        for (const e of entries) peer.stat({ size: 1n, ...e });
        peer.endListing();
      });
      await expect(done).rejects.toThrow(UnsafePathError);
      await expectUntouched();
      // The sender is told why.
      const packets = peer.received();
      expect(packets.some((p) => p.type === PacketType.ERR)).toBe(true);
    });
  }

  const disorderly: Array<[string, Array<Partial<Stat> & { path: string }>]> = [
    ["siblings out of order", [{ path: "b" }, { path: "a" }]],
    ["a duplicate entry", [{ path: "a" }, { path: "a" }]],
    ["a child before its directory", [{ path: "a/b" }]],
    ["a child after its directory was left", [{ path: "a", mode: dirMode(0o755) }, { path: "b" }, { path: "a/c" }]],
    ["JS string order instead of path order", [{ path: "a-c" }, { path: "a", mode: dirMode(0o755) }, { path: "a/b" }]],
    ["a child of a regular file", [{ path: "f" }, { path: "f/x" }]],
    ["an unclean path", [{ path: "a", mode: dirMode(0o755) }, { path: "a//b" }]],
    ["a hard link to an unknown path", [{ path: "b", linkname: "a" }]],
  ];
  for (const [name, entries] of disorderly) {
    it(`rejects ${name}`, async () => {
      const { done } = await receiveScript((peer) => {
        for (const e of entries) peer.stat(e);
        peer.endListing();
      });
      await expect(done).rejects.toThrow(FileSyncProtocolError);
      await expectUntouched();
    });
  }

  it("fails with the sender's message on ERR", async () => {
    const { done } = await receiveScript((peer) => {
      peer.stat({ path: "a", size: 3n });
      peer.send({ type: PacketType.ERR, id: 0, data: Buffer.from("no space left") });
    });
    await expect(done).rejects.toThrow(PeerError);
    await expectUntouched();
  });

  it("fails when the sender ends the stream without FIN", async () => {
    const { done } = await receiveScript(async (peer) => {
      peer.stat({ path: "a", size: 3n });
      peer.endListing();
      const req = await peer.next();
      peer.send({ type: PacketType.DATA, id: req.id, data: Buffer.from("abc") });
      peer.stream.end();
    });
    await expect(done).rejects.toThrow(FileSyncProtocolError);
    await expectUntouched();
  });

  it("rejects DATA for a file it did not request", async () => {
    const { done } = await receiveScript((peer) => {
      peer.stat({ path: "a", size: 3n });
      peer.send({ type: PacketType.DATA, id: 7, data: Buffer.from("abc") });
    });
    await expect(done).rejects.toThrow(/invalid file request 7/);
    await expectUntouched();
  });

  it("stops on abort, removing what it wrote", async () => {
    const controller = new AbortController();
    const { done } = await receiveScript(async (peer) => {
      peer.stat({ path: "d", mode: dirMode(0o755) });
      peer.stat({ path: "d/f", size: 10n });
      peer.endListing();
      const req = await peer.next();
      peer.send({ type: PacketType.DATA, id: req.id, data: Buffer.from("01234") });
      controller.abort(new Error("user pressed ctrl-c"));
    }, controller.signal);
    await expect(done).rejects.toThrow(TransferAbortedError);
    await expectUntouched();
  });

  it("refuses a destination that is a file", async () => {
    const [, b] = streamPair();
    await expect(receiveDirectory(b, { dest: path.join(dest, "mine.txt") })).rejects.toThrow(FileSyncPathError);
    await expectUntouched();
  });

  it("succeeds when the sender cancels the stream right after receiving its FIN (the daemon does)", async () => {
    const [a, b] = streamPair();
    const peer = new ScriptedPeer(a);
    const done = receiveDirectory(b, { dest });
    peer.stat({ path: "new.txt", size: 2n });
    peer.endListing();
    expect(await peer.next()).toEqual({ type: PacketType.REQ, id: 0 });
    peer.send({ type: PacketType.DATA, id: 0, data: Buffer.from("hi") });
    peer.send({ type: PacketType.DATA, id: 0 });
    expect(await peer.next()).toEqual({ type: PacketType.FIN, id: 0 });
    // No FIN back: the stream is torn down, as a cancelled gRPC call is.
    b.destroy(new Error("CANCELLED"));
    await expect(done).resolves.toEqual({ entries: 1, files: 1, bytes: 2, reused: 0 });
    expect(await fsp.readFile(path.join(dest, "new.txt"), "utf8")).toBe("hi");
  });

  it("still fails when the stream goes away before its own FIN", async () => {
    const [a, b] = streamPair();
    const peer = new ScriptedPeer(a);
    const done = receiveDirectory(b, { dest });
    done.catch(() => undefined);
    peer.stat({ path: "new.txt", size: 2n });
    peer.endListing();
    expect(await peer.next()).toEqual({ type: PacketType.REQ, id: 0 });
    b.destroy(new Error("CANCELLED"));
    await expect(done).rejects.toThrow();
    await expectUntouched();
  });

  it("treats FIN after its own FIN as success, without waiting for the stream to end", async () => {
    const { done, peer } = await receiveScript(async (peer) => {
      peer.stat({ path: "new.txt", size: 2n });
      peer.endListing();
      const req = await peer.next();
      expect(req).toEqual({ type: PacketType.REQ, id: 0 });
      peer.send({ type: PacketType.DATA, id: 0, data: Buffer.from("hi") });
      peer.send({ type: PacketType.DATA, id: 0 });
    });
    expect(await peer.next()).toEqual({ type: PacketType.FIN, id: 0 });
    peer.send({ type: PacketType.FIN, id: 0 });
    await expect(done).resolves.toEqual({ entries: 1, files: 1, bytes: 2, reused: 0 });
    expect(await fsp.readFile(path.join(dest, "new.txt"), "utf8")).toBe("hi");
  });
});

describe("receiveDirectory into an existing destination", () => {
  it("replaces same-named top-level entries whole and keeps everything else", async () => {
    const dest = path.join(scratch, "dest");
    await fsp.mkdir(path.join(dest, "out"), { recursive: true });
    await fsp.writeFile(path.join(dest, "out/stale.txt"), "old build");
    await fsp.writeFile(path.join(dest, "keep.txt"), "unrelated");
    await fsp.writeFile(path.join(dest, "was-file"), "file");
    await fsp.mkdir(path.join(dest, "was-dir/sub"), { recursive: true });

    const src = path.join(scratch, "src");
    await fsp.mkdir(path.join(src, "out"), { recursive: true });
    await fsp.writeFile(path.join(src, "out/fresh.txt"), "new build");
    await fsp.mkdir(path.join(src, "was-file"));
    await fsp.writeFile(path.join(src, "was-file/inside"), "x");
    await fsp.writeFile(path.join(src, "was-dir"), "now a file");

    const [a, b] = streamPair();
    await Promise.all([sendDirectory(a, { root: src }), receiveDirectory(b, { dest })]);

    expect(await listPaths(dest)).toEqual(["keep.txt", "out", "out/fresh.txt", "was-dir", "was-file", "was-file/inside"]);
    expect(await fsp.readFile(path.join(dest, "keep.txt"), "utf8")).toBe("unrelated");
    expect(await fsp.readFile(path.join(dest, "was-dir"), "utf8")).toBe("now a file");
    expect(await dirEntries(scratch)).toEqual(["dest", "src"]);
  });

  it("links unchanged files from the destination instead of requesting them, when asked to", async () => {
    const src = path.join(scratch, "src");
    const dest = path.join(scratch, "dest");
    await fsp.mkdir(path.join(src, "deep"), { recursive: true });
    await fsp.writeFile(path.join(src, "same.txt"), "unchanged content");
    await fsp.writeFile(path.join(src, "deep/changes.txt"), "version 1");
    let [a, b] = streamPair();
    await Promise.all([sendDirectory(a, { root: src }), receiveDirectory(b, { dest, reuseUnchanged: true })]);

    await fsp.writeFile(path.join(src, "deep/changes.txt"), "version 2!");
    const sent: string[] = [];
    [a, b] = streamPair();
    const [, received] = await Promise.all([
      sendDirectory(a, { root: src, onFileSent: (p) => sent.push(p) }),
      receiveDirectory(b, { dest, reuseUnchanged: true }),
    ]);
    expect(sent).toEqual(["deep/changes.txt"]);
    expect(received.reused).toBe(1);
    expect(await fsp.readFile(path.join(dest, "same.txt"), "utf8")).toBe("unchanged content");
    expect(await fsp.readFile(path.join(dest, "deep/changes.txt"), "utf8")).toBe("version 2!");
    expect(await dirEntries(scratch)).toEqual(["dest", "src"]);
  });

  it("never reuses a file reached through a symlinked directory of the destination", async () => {
    const outside = path.join(scratch, "outside");
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, "secret.txt"), "host file");
    const mtime = (await fsp.stat(path.join(outside, "secret.txt"))).mtime;
    const dest = path.join(scratch, "dest");
    await fsp.mkdir(dest);
    await fsp.symlink(outside, path.join(dest, "dir"));

    const src = path.join(scratch, "src");
    await fsp.mkdir(path.join(src, "dir"), { recursive: true });
    await fsp.writeFile(path.join(src, "dir/secret.txt"), "host file");
    await fsp.chmod(path.join(src, "dir/secret.txt"), (await fsp.stat(path.join(outside, "secret.txt"))).mode & 0o7777);
    await fsp.utimes(path.join(src, "dir/secret.txt"), mtime, mtime);
    const sent: string[] = [];
    const [a, b] = streamPair();
    const [, received] = await Promise.all([
      sendDirectory(a, { root: src, onFileSent: (p) => sent.push(p) }),
      receiveDirectory(b, { dest, reuseUnchanged: true }),
    ]);
    expect(received.reused).toBe(0);
    expect(sent).toEqual(["dir/secret.txt"]);
    expect((await fsp.lstat(path.join(dest, "dir"))).isDirectory()).toBe(true);
    expect((await fsp.stat(path.join(outside, "secret.txt"))).nlink).toBe(1);
  });

  it("creates a missing destination and its parents", async () => {
    const src = path.join(scratch, "src");
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(src, "f"), "x");
    const dest = path.join(scratch, "not/yet/there");
    const [a, b] = streamPair();
    await Promise.all([sendDirectory(a, { root: src }), receiveDirectory(b, { dest })]);
    expect(await listPaths(dest)).toEqual(["f"]);
    expect(await dirEntries(path.join(scratch, "not/yet"))).toEqual(["there"]);
  });
});
