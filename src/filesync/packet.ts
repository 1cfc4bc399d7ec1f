// Hand-written codec for fsutil.types.Packet and Stat: every file chunk of a
// transfer goes through here, and int64 fields (ns mtimes) need all 64 bits.
import { FileSyncProtocolError } from "./errors.ts";

/** fsutil.types.Packet.PacketType values. */
export const PacketType = {
  /** One entry of the listing; without a stat it ends the listing. */
  STAT: 0,
  /** Receiver asks for the content of the entry with this ID. */
  REQ: 1,
  /** A chunk of a file's content; empty data ends that file. */
  DATA: 2,
  /** Receiver has everything; the sender echoes it and the transfer is over. */
  FIN: 3,
  /** Either side failed; data holds the message. */
  ERR: 4,
} as const;

/** One of the PacketType values. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

/** fsutil.types.Stat: one file-system entry on the wire. */
export interface Stat {
  /** Slash-separated path relative to the transferred root. */
  path: string;
  /** Go os.FileMode bits (unsigned 32-bit). */
  mode: number;
  /** Numeric owner (brewkit sends 0, like the Go client). */
  uid: number;
  /** Numeric group (brewkit sends 0, like the Go client). */
  gid: number;
  /** Bytes for regular files and symlinks (target length), 0 for directories. */
  size: bigint;
  /** Modification time in nanoseconds since the Unix epoch. */
  modTime: bigint;
  /** Symlink target, or the earlier path a hard link points to. */
  linkname: string;
  /** Device major number, for character and block devices. */
  devmajor: number;
  /** Device minor number, for character and block devices. */
  devminor: number;
  /** Extended attributes; absent when there are none. */
  xattrs?: Map<string, Uint8Array>;
}

/** fsutil.types.Packet. */
export interface Packet {
  /** What the packet is; see PacketType. */
  type: PacketType;
  /** The entry of a STAT packet; absent on the end-of-listing STAT. */
  stat?: Stat;
  /** For REQ and DATA: the index of the entry in the STAT sequence. */
  id: number;
  /** A DATA chunk (empty or absent: end of file) or an ERR message. */
  data?: Uint8Array;
}

const TAG_TYPE = 0x08;
const TAG_STAT = 0x12;
const TAG_ID = 0x18;
const TAG_DATA = 0x22;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  let rest = Math.floor(n / 0x10000000);
  while (rest > 0) {
    size++;
    rest = Math.floor(rest / 0x80);
  }
  return size;
}

function int64Size(v: bigint): number {
  if (v >= 0n && v <= MAX_SAFE) return varintSize(Number(v));
  let u = BigInt.asUintN(64, v);
  let size = 1;
  while (u >= 0x80n) {
    size++;
    u >>= 7n;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n > 0x7fffffff) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

function writeInt64(buf: Buffer, pos: number, v: bigint): number {
  if (v >= 0n && v <= MAX_SAFE) return writeVarint(buf, pos, Number(v));
  // Negative int64s are sent as their 64-bit two's complement: ten bytes.
  let u = BigInt.asUintN(64, v);
  while (u >= 0x80n) {
    buf[pos++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[pos++] = Number(u);
  return pos;
}

function statSize(stat: Stat, pathLength: number, linkLength: number): number {
  let size = 0;
  if (pathLength > 0) size += 1 + varintSize(pathLength) + pathLength;
  if (stat.mode !== 0) size += 1 + varintSize(stat.mode >>> 0);
  if (stat.uid !== 0) size += 1 + varintSize(stat.uid >>> 0);
  if (stat.gid !== 0) size += 1 + varintSize(stat.gid >>> 0);
  if (stat.size !== 0n) size += 1 + int64Size(stat.size);
  if (stat.modTime !== 0n) size += 1 + int64Size(stat.modTime);
  if (linkLength > 0) size += 1 + varintSize(linkLength) + linkLength;
  if (stat.devmajor !== 0) size += 1 + int64Size(BigInt(stat.devmajor));
  if (stat.devminor !== 0) size += 1 + int64Size(BigInt(stat.devminor));
  if (stat.xattrs) {
    for (const [key, value] of stat.xattrs) {
      const entry = xattrEntrySize(key, value);
      size += 1 + varintSize(entry) + entry;
    }
  }
  return size;
}

function xattrEntrySize(key: string, value: Uint8Array): number {
  const keyLength = Buffer.byteLength(key);
  return 1 + varintSize(keyLength) + keyLength + 1 + varintSize(value.length) + value.length;
}

function writeString(buf: Buffer, pos: number, tag: number, value: string, length: number): number {
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, length);
  return pos + buf.write(value, pos, length, "utf8");
}

function writeStat(buf: Buffer, pos: number, stat: Stat, pathLength: number, linkLength: number): number {
  if (pathLength > 0) pos = writeString(buf, pos, 0x0a, stat.path, pathLength);
  if (stat.mode !== 0) {
    buf[pos++] = 0x10;
    pos = writeVarint(buf, pos, stat.mode >>> 0);
  }
  if (stat.uid !== 0) {
    buf[pos++] = 0x18;
    pos = writeVarint(buf, pos, stat.uid >>> 0);
  }
  if (stat.gid !== 0) {
    buf[pos++] = 0x20;
    pos = writeVarint(buf, pos, stat.gid >>> 0);
  }
  if (stat.size !== 0n) {
    buf[pos++] = 0x28;
    pos = writeInt64(buf, pos, stat.size);
  }
  if (stat.modTime !== 0n) {
    buf[pos++] = 0x30;
    pos = writeInt64(buf, pos, stat.modTime);
  }
  if (linkLength > 0) pos = writeString(buf, pos, 0x3a, stat.linkname, linkLength);
  if (stat.devmajor !== 0) {
    buf[pos++] = 0x40;
    pos = writeInt64(buf, pos, BigInt(stat.devmajor));
  }
  if (stat.devminor !== 0) {
    buf[pos++] = 0x48;
    pos = writeInt64(buf, pos, BigInt(stat.devminor));
  }
  if (stat.xattrs) {
    for (const [key, value] of stat.xattrs) {
      buf[pos++] = 0x52;
      pos = writeVarint(buf, pos, xattrEntrySize(key, value));
      pos = writeString(buf, pos, 0x0a, key, Buffer.byteLength(key));
      buf[pos++] = 0x12;
      pos = writeVarint(buf, pos, value.length);
      buf.set(value, pos);
      pos += value.length;
    }
  }
  return pos;
}

/** Encodes a Packet; proto3 defaults are omitted, so the end-of-listing STAT is zero bytes. */
export function encodePacket(packet: Packet): Buffer {
  let size = 0;
  if (packet.type !== 0) size += 1 + varintSize(packet.type);
  let pathLength = 0;
  let linkLength = 0;
  let statLength = 0;
  if (packet.stat) {
    pathLength = Buffer.byteLength(packet.stat.path);
    linkLength = Buffer.byteLength(packet.stat.linkname);
    statLength = statSize(packet.stat, pathLength, linkLength);
    size += 1 + varintSize(statLength) + statLength;
  }
  const id = packet.id >>> 0;
  if (id !== 0) size += 1 + varintSize(id);
  const data = packet.data;
  if (data && data.length > 0) size += 1 + varintSize(data.length) + data.length;

  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (packet.type !== 0) {
    buf[pos++] = TAG_TYPE;
    pos = writeVarint(buf, pos, packet.type);
  }
  if (packet.stat) {
    buf[pos++] = TAG_STAT;
    pos = writeVarint(buf, pos, statLength);
    pos = writeStat(buf, pos, packet.stat, pathLength, linkLength);
  }
  if (id !== 0) {
    buf[pos++] = TAG_ID;
    pos = writeVarint(buf, pos, id);
  }
  if (data && data.length > 0) {
    buf[pos++] = TAG_DATA;
    pos = writeVarint(buf, pos, data.length);
    buf.set(data, pos);
    pos += data.length;
  }
  return buf;
}

/** Bytes to keep free in front of a chunk so frameDataPacket can add the header in place. */
export const DATA_HEADER_ROOM = 16;

/**
 * Turns `buffer[DATA_HEADER_ROOM, DATA_HEADER_ROOM + length)` into an encoded
 * DATA packet for `id` without copying the chunk; returns a view of `buffer`.
 */
export function frameDataPacket(buffer: Buffer, id: number, length: number): Buffer {
  id >>>= 0;
  const header = 2 + (id !== 0 ? 1 + varintSize(id) : 0) + (length > 0 ? 1 + varintSize(length) : 0);
  const start = DATA_HEADER_ROOM - header;
  let pos = start;
  buffer[pos++] = TAG_TYPE;
  buffer[pos++] = PacketType.DATA;
  if (id !== 0) {
    buffer[pos++] = TAG_ID;
    pos = writeVarint(buffer, pos, id);
  }
  if (length > 0) {
    buffer[pos++] = TAG_DATA;
    writeVarint(buffer, pos, length);
  }
  return buffer.subarray(start, DATA_HEADER_ROOM + length);
}

class Reader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    end: number,
  ) {
    this.pos = start;
    this.end = end;
  }

  private fail(what: string): never {
    throw new FileSyncProtocolError(`malformed packet: ${what}`);
  }

  byte(): number {
    if (this.pos >= this.end) this.fail("truncated");
    return this.buf[this.pos++]!;
  }

  /** A varint of up to 64 bits reduced to its low 32 bits (uint32, enum and tag fields). */
  uint32(): number {
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      const b = this.byte();
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
    }
    return this.fail("varint too long");
  }

  int64(): bigint {
    // Up to 7 bytes (49 bits) fit a double exactly; longer ones go through bigint.
    let low = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.byte();
      low += (b & 0x7f) * scale;
      if (b < 0x80) return BigInt(low);
      scale *= 0x80;
    }
    let result = BigInt(low);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, result);
    }
    return this.fail("varint too long");
  }

  length(): number {
    const n = this.uint32();
    if (n > this.end - this.pos) this.fail("length beyond end");
    return n;
  }

  bytes(): Buffer {
    const n = this.length();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    const n = this.length();
    const out = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.int64();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.length());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) this.fail("truncated");
    this.pos += n;
  }
}

function readXattr(r: Reader, into: Map<string, Uint8Array>): void {
  const end = r.length() + r.pos;
  const sub = new Reader(r.buf, r.pos, end);
  let key = "";
  let value: Uint8Array = Buffer.alloc(0);
  while (sub.pos < end) {
    const tag = sub.uint32();
    if (tag === 0x0a) key = sub.string();
    else if (tag === 0x12) value = sub.bytes();
    else sub.skip(tag & 7);
  }
  r.pos = end;
  into.set(key, value);
}

function readStat(r: Reader): Stat {
  const end = r.length() + r.pos;
  const sub = new Reader(r.buf, r.pos, end);
  const stat: Stat = { path: "", mode: 0, uid: 0, gid: 0, size: 0n, modTime: 0n, linkname: "", devmajor: 0, devminor: 0 };
  while (sub.pos < end) {
    const tag = sub.uint32();
    switch (tag) {
      case 0x0a:
        stat.path = sub.string();
        break;
      case 0x10:
        stat.mode = sub.uint32();
        break;
      case 0x18:
        stat.uid = sub.uint32();
        break;
      case 0x20:
        stat.gid = sub.uint32();
        break;
      case 0x28:
        stat.size = sub.int64();
        break;
      case 0x30:
        stat.modTime = sub.int64();
        break;
      case 0x3a:
        stat.linkname = sub.string();
        break;
      case 0x40:
        stat.devmajor = Number(sub.int64());
        break;
      case 0x48:
        stat.devminor = Number(sub.int64());
        break;
      case 0x52:
        stat.xattrs ??= new Map();
        readXattr(sub, stat.xattrs);
        break;
      default:
        sub.skip(tag & 7);
    }
  }
  r.pos = end;
  return stat;
}

/** Decodes one Packet; `data` is a view into `bytes`, not a copy. Throws FileSyncProtocolError when malformed. */
export function decodePacket(bytes: Uint8Array): Packet {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(buf, 0, buf.length);
  const packet: Packet = { type: PacketType.STAT, id: 0 };
  while (r.pos < r.end) {
    const tag = r.uint32();
    switch (tag) {
      case TAG_TYPE:
        packet.type = (r.uint32() | 0) as PacketType;
        break;
      case TAG_STAT:
        packet.stat = readStat(r);
        break;
      case TAG_ID:
        packet.id = r.uint32();
        break;
      case TAG_DATA:
        packet.data = r.bytes();
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return packet;
}
