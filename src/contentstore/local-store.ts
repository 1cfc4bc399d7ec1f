import { createHash, randomBytes, type Hash } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { withExportLock } from "../filesync/export-lock.ts";

/** Why a content store operation failed, as containerd's errdefs name it (the daemon reads the gRPC code). */
export class ContentStoreError extends Error {
  constructor(
    readonly kind: "not-found" | "already-exists" | "invalid" | "failed-precondition" | "out-of-range" | "unavailable",
    message: string,
  ) {
    super(message);
    this.name = "ContentStoreError";
  }
}

const digestRe = /^sha256:([0-9a-f]{64})$/;

/** What the store knows of a blob. */
export interface BlobInfo {
  digest: string;
  size: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A write in progress, by the ref its writer chose. */
export interface IngestStatus {
  ref: string;
  offset: number;
  total: number;
  expected: string;
  startedAt: Date;
  updatedAt: Date;
}

interface Ingest extends IngestStatus {
  /** A writer holds it: one writer per ref at a time, as containerd locks it. */
  locked: boolean;
  file: string;
  hash: Hash;
  handle: fsp.FileHandle;
}

/**
 * An OCI image layout directory (`blobs/sha256/<hex>`, `index.json`, `oci-layout`) as a
 * content store, the way BuildKit's client keeps a `type=local` build cache. Blobs are
 * written into `ingest/` and renamed into place only once their digest is checked; a
 * blob's path comes from its (checked) digest alone, so nothing is written outside the
 * directory.
 */
export class LocalContentStore {
  private readonly ingests = new Map<string, Ingest>();
  // Refs whose write is being set up: locked already, before their ingest exists.
  private readonly starting = new Set<string>();

  constructor(readonly root: string) {}

  /** The path of a blob; the digest must be a sha256 digest. */
  blobPath(digest: string): string {
    const hex = digestRe.exec(digest)?.[1];
    if (!hex) throw new ContentStoreError("invalid", `${JSON.stringify(digest)} is not a sha256 digest`);
    return path.join(this.root, "blobs", "sha256", hex);
  }

  /** The blob's size and times; a not-found error when the store does not have it. */
  async info(digest: string): Promise<BlobInfo> {
    const stat = await fsp.stat(this.blobPath(digest)).catch(() => undefined);
    if (!stat?.isFile()) throw new ContentStoreError("not-found", `content ${digest}: not found`);
    return { digest, size: stat.size, createdAt: stat.birthtime.getTime() ? stat.birthtime : stat.mtime, updatedAt: stat.mtime };
  }

  /** Every blob. */
  async list(): Promise<BlobInfo[]> {
    const names = await fsp.readdir(path.join(this.root, "blobs", "sha256")).catch(() => [] as string[]);
    const infos = await Promise.all(names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => this.info(`sha256:${n}`).catch(() => undefined)));
    return infos.filter((i): i is BlobInfo => i !== undefined);
  }

  /** Removes a blob. */
  async delete(digest: string): Promise<void> {
    await this.info(digest);
    await fsp.rm(this.blobPath(digest), { force: true });
  }

  /** Opens a blob for reading. */
  async open(digest: string): Promise<fsp.FileHandle> {
    await this.info(digest);
    return fsp.open(this.blobPath(digest), "r");
  }

  /** The writes in progress. */
  statuses(): IngestStatus[] {
    return [...this.ingests.values()].map(statusOf);
  }

  /** The write in progress under `ref`. */
  status(ref: string): IngestStatus {
    const ingest = this.ingests.get(ref);
    if (!ingest) throw new ContentStoreError("not-found", `no write in progress for ${ref}`);
    return statusOf(ingest);
  }

  /**
   * Starts (or resumes) the write of `ref` and locks it for this writer until `release`,
   * `commit` or `abort`: another writer of the same ref gets an unavailable error, on
   * which containerd's writers wait and retry. An already-exists error when `expected` is
   * stored already.
   */
  async begin(ref: string, total: number, expected: string): Promise<IngestStatus> {
    if (ref === "") throw new ContentStoreError("invalid", "first message must have a reference");
    if (this.ingests.get(ref)?.locked || this.starting.has(ref)) throw new ContentStoreError("unavailable", `ref ${ref} is locked by another writer`);
    // Taken before the first await: two writers of one ref never both get here.
    this.starting.add(ref);
    try {
      return await this.start(ref, total, expected);
    } finally {
      this.starting.delete(ref);
    }
  }

  private async start(ref: string, total: number, expected: string): Promise<IngestStatus> {
    if (expected) await this.refuseExisting(expected);
    let ingest = this.ingests.get(ref);
    if (!ingest) {
      const dir = path.join(this.root, "ingest");
      await fsp.mkdir(dir, { recursive: true });
      const file = path.join(dir, `${createHash("sha256").update(ref).digest("hex").slice(0, 32)}-${randomBytes(4).toString("hex")}`);
      const now = new Date();
      ingest = { ref, file, locked: true, offset: 0, total, expected, startedAt: now, updatedAt: now, hash: createHash("sha256"), handle: await fsp.open(file, "w+", 0o644) };
      this.ingests.set(ref, ingest);
    }
    ingest.locked = true;
    if (total > 0) ingest.total = total;
    if (expected) ingest.expected = expected;
    return statusOf(ingest);
  }

  /** Unlocks `ref` when its writer went away without committing: a later writer resumes it. */
  release(ref: string): void {
    const ingest = this.ingests.get(ref);
    if (ingest) ingest.locked = false;
  }

  /** Appends `data` at `offset` (which must be the current end, or 0 to start over). */
  async write(ref: string, offset: number, data: Uint8Array): Promise<IngestStatus> {
    const ingest = this.ingests.get(ref);
    if (!ingest) throw new ContentStoreError("not-found", `no write in progress for ${ref}`);
    if (offset > 0 && offset !== ingest.offset) throw new ContentStoreError("out-of-range", `write @${offset} must occur at current offset ${ingest.offset}`);
    if (offset === 0 && ingest.offset > 0) {
      await ingest.handle.truncate(0);
      ingest.offset = 0;
      ingest.hash = createHash("sha256");
    }
    if (data.length > 0) {
      await ingest.handle.write(data, 0, data.length, ingest.offset);
      ingest.hash.update(data);
      ingest.offset += data.length;
      ingest.updatedAt = new Date();
    }
    return statusOf(ingest);
  }

  /** The digest of what `ref` holds so far. */
  digestOf(ref: string): string {
    const ingest = this.ingests.get(ref);
    return ingest ? `sha256:${ingest.hash.copy().digest("hex")}` : "";
  }

  /** Checks size and digest and moves the written blob into place; the write ends either way. */
  async commit(ref: string, total: number, expected: string): Promise<string> {
    const ingest = this.ingests.get(ref);
    if (!ingest) throw new ContentStoreError("not-found", `no write in progress for ${ref}`);
    const size = total > 0 ? total : ingest.total;
    const want = expected || ingest.expected;
    const digest = this.digestOf(ref);
    try {
      if (size > 0 && ingest.offset !== size) throw new ContentStoreError("failed-precondition", `unexpected commit size ${ingest.offset}, expected ${size}`);
      if (want && want !== digest) throw new ContentStoreError("failed-precondition", `unexpected commit digest ${digest}, expected ${want}`);
      await ingest.handle.close();
      const target = this.blobPath(digest);
      if (await exists(target)) throw new ContentStoreError("already-exists", `content ${digest}: already exists`);
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await fsp.rename(ingest.file, target);
      return digest;
    } finally {
      await this.drop(ingest);
    }
  }

  /** Ends the write of `ref`, removing what it wrote. */
  async abort(ref: string): Promise<void> {
    const ingest = this.ingests.get(ref);
    if (!ingest) throw new ContentStoreError("not-found", `no write in progress for ${ref}`);
    await this.drop(ingest);
  }

  /** Ends every write in progress (the session is over). */
  async close(): Promise<void> {
    await Promise.all([...this.ingests.values()].map((i) => this.drop(i)));
  }

  private async drop(ingest: Ingest): Promise<void> {
    this.ingests.delete(ingest.ref);
    await ingest.handle.close().catch(() => undefined);
    await fsp.rm(ingest.file, { force: true }).catch(() => undefined);
  }

  private async refuseExisting(digest: string): Promise<void> {
    if (await exists(this.blobPath(digest))) throw new ContentStoreError("already-exists", `blob with expected digest ${digest} exists`);
  }
}

function statusOf(i: IngestStatus): IngestStatus {
  return { ref: i.ref, offset: i.offset, total: i.total, expected: i.expected, startedAt: i.startedAt, updatedAt: i.updatedAt };
}

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(() => true, () => false);
}

/** A manifest entry of an OCI `index.json`. */
export interface IndexDescriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

const refNameKey = "org.opencontainers.image.ref.name";

/**
 * Records `desc` in the layout's `index.json` under `tag` (replacing the entry of that tag),
 * and writes `oci-layout`: what BuildKit's client does once a local cache is exported.
 * The file is replaced whole, under the directory's export lock.
 */
export async function putIndex(root: string, desc: IndexDescriptor, tag: string): Promise<void> {
  await fsp.mkdir(root, { recursive: true });
  await withExportLock(root, async () => {
    await writeWhole(path.join(root, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    const index = await readIndex(root);
    const manifests = (index.manifests ?? []).filter((m) => m.annotations?.[refNameKey] !== tag);
    manifests.push({ ...desc, annotations: { ...(desc.annotations ?? {}), [refNameKey]: tag } });
    await writeWhole(path.join(root, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", ...index, manifests }));
  });
}

/** The digest `index.json` records under `tag`; undefined when there is no index or no such tag. */
export async function indexDigest(root: string, tag: string): Promise<string | undefined> {
  const index = await readIndex(root);
  return (index.manifests ?? []).find((m) => m.annotations?.["io.containerd.image.name"] === tag || m.annotations?.[refNameKey] === tag)?.digest;
}

async function readIndex(root: string): Promise<{ manifests?: IndexDescriptor[]; [key: string]: unknown }> {
  const text = await fsp.readFile(path.join(root, "index.json"), "utf8").catch(() => "");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as { manifests?: IndexDescriptor[] };
  } catch (err) {
    throw new Error(`${path.join(root, "index.json")} is not valid JSON: ${(err as Error).message}`);
  }
}

async function writeWhole(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}`;
  await fsp.writeFile(temp, text, { mode: 0o644 });
  await fsp.rename(temp, file);
}
