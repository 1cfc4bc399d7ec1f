import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ContentStoreError, indexDigest, LocalContentStore, putIndex } from "../../src/contentstore/local-store.ts";

const root = mkdtempSync(path.join(tmpdir(), "brewkit-content-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const digestOf = (data: string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;
const kindOf = async (p: Promise<unknown>) => ((await p.then(() => undefined, (e: unknown) => e)) as ContentStoreError | undefined)?.kind;

describe("a local content store (a type=local build cache)", () => {
  it("writes a blob in parts and moves it into blobs/sha256 only once its size and digest are checked", async () => {
    const store = new LocalContentStore(path.join(root, "a"));
    const data = "hello, cache";
    await store.begin("layer-1", data.length, digestOf(data));
    await store.write("layer-1", 0, Buffer.from("hello, "));
    expect(store.status("layer-1").offset).toBe(7);
    expect(await kindOf(store.info(digestOf(data)))).toBe("not-found");
    await store.write("layer-1", 7, Buffer.from("cache"));
    expect(await store.commit("layer-1", data.length, digestOf(data))).toBe(digestOf(data));
    expect(readFileSync(store.blobPath(digestOf(data)), "utf8")).toBe(data);
    expect((await store.info(digestOf(data))).size).toBe(data.length);
    expect(readdirSync(path.join(root, "a", "ingest"))).toEqual([]);
  });

  it("refuses a wrong digest or size, a write at a gap, and a blob it has already; nothing half-written stays", async () => {
    const store = new LocalContentStore(path.join(root, "b"));
    await store.begin("x", 0, "");
    await store.write("x", 0, Buffer.from("abc"));
    expect(await kindOf(store.write("x", 5, Buffer.from("z")))).toBe("out-of-range");
    expect(await kindOf(store.commit("x", 0, digestOf("abd")))).toBe("failed-precondition");
    expect(readdirSync(path.join(root, "b", "ingest"))).toEqual([]);
    await store.begin("y", 0, "");
    await store.write("y", 0, Buffer.from("abc"));
    expect(await kindOf(store.commit("y", 4, ""))).toBe("failed-precondition");
    await store.begin("z", 3, digestOf("abc"));
    await store.write("z", 0, Buffer.from("abc"));
    await store.commit("z", 3, digestOf("abc"));
    expect(await kindOf(store.begin("again", 3, digestOf("abc")))).toBe("already-exists");
    expect(await kindOf(store.info("sha256:../../etc/passwd"))).toBe("invalid");
  });

  it("lets one writer at a time hold a ref, even when two start at once (the other is told to retry)", async () => {
    const store = new LocalContentStore(path.join(root, "c"));
    const kinds = await Promise.all([kindOf(store.begin("same", 3, digestOf("abc"))), kindOf(store.begin("same", 3, digestOf("abc")))]);
    expect(kinds.filter((k) => k === "unavailable")).toHaveLength(1);
    expect(kinds.filter((k) => k === undefined)).toHaveLength(1);
    await store.write("same", 0, Buffer.from("ab"));
    store.release("same");
    // A later writer resumes where the first left off.
    expect((await store.begin("same", 3, "")).offset).toBe(2);
    await store.write("same", 2, Buffer.from("c"));
    expect(await store.commit("same", 3, "")).toBe(digestOf("abc"));
  });

  it("records the exported cache in index.json under its tag, replacing the tag's entry, and finds it again", async () => {
    const dir = path.join(root, "d");
    await putIndex(dir, { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digestOf("1"), size: 1 }, "latest");
    await putIndex(dir, { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digestOf("2"), size: 1 }, "other");
    await putIndex(dir, { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digestOf("3"), size: 1 }, "latest");
    const index = JSON.parse(readFileSync(path.join(dir, "index.json"), "utf8"));
    expect(index.schemaVersion).toBe(2);
    expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([digestOf("2"), digestOf("3")]);
    expect(JSON.parse(readFileSync(path.join(dir, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    expect(await indexDigest(dir, "latest")).toBe(digestOf("3"));
    expect(await indexDigest(dir, "none")).toBeUndefined();
    expect(await indexDigest(path.join(root, "missing"), "latest")).toBeUndefined();
    expect(existsSync(path.join(dir, ".brewkit-export.lock"))).toBe(false);
  });
});
