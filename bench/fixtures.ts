import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** A small seeded PRNG (mulberry32): the same seed always gives the same fixture. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a generated context holds. */
export interface ContextFixture {
  dir: string;
  files: number;
  bytes: number;
  /** A file to change for "one file changed" runs. */
  sample: string;
}

/**
 * Writes `files` files totalling about `totalBytes` into `dir`, in nested directories,
 * with mixed sizes: most small (source-like), a few large (assets). Content is
 * pseudo-random so nothing compresses or deduplicates.
 */
export function generateContext(dir: string, files: number, totalBytes: number, seed = 42): ContextFixture {
  const random = prng(seed);
  // 90% small files share 10% of the bytes; 10% large files share the rest.
  const large = Math.max(1, Math.floor(files / 10));
  const small = files - large;
  const smallSize = Math.max(1, Math.floor((totalBytes * 0.1) / small));
  const largeSize = Math.max(1, Math.floor((totalBytes * 0.9) / large));
  let bytes = 0;
  let sample = "";
  const chunk = Buffer.alloc(Math.ceil((Math.max(smallSize, largeSize) * 2) / 4) * 4);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  for (let i = 0; i < files; i++) {
    const isLarge = i % 10 === 9;
    const size = Math.max(1, Math.floor((isLarge ? largeSize : smallSize) * (0.5 + random())));
    const rel = path.join(`d${i % 50}`, `s${Math.floor(i / 50) % 20}`, `f${i}.${isLarge ? "bin" : "txt"}`);
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    const offset = Math.floor(random() * (chunk.length - size));
    writeFileSync(file, chunk.subarray(offset, offset + size));
    bytes += size;
    if (i === 0) sample = file;
  }
  return { dir, files, bytes, sample };
}

/** A config with `count` independent targets on a busybox base, plus the `all` group. */
export function manyTargetsConfig(count: number): string {
  const lines = ['import { target, scratch, group } from "brewkit";', "", 'export const base = target({ from: scratch, copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" }, command: ["/bin/busybox", "--install", "-s", "/bin"] });'];
  for (let i = 0; i < count; i++) {
    lines.push(`export const t${i} = target({ from: base, workdir: "/w${i}", env: { N: "${i}" }, commands: ["echo ${i} > /n", ["sh", "-c", "cat /n"]] });`);
  }
  lines.push(`export const all = group(${Array.from({ length: count }, (_, i) => `t${i}`).join(", ")});`);
  return `${lines.join("\n")}\n`;
}
