// Exports this machine cannot write are host errors naming the destination and the
// cause, not failed steps; the names brewkit makes beside an export stay within the
// file system's limit of 255 bytes.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HostError } from "../../src/errors.ts";
import { FileSyncIOError, FileSyncPathError } from "../../src/filesync/index.ts";
import { Staging } from "../../src/filesync/staging.ts";
import { exportWriteError } from "../../src/solve/export-failure.ts";

function errno(code: string, message: string, syscall: string, file?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}, ${syscall}${file ? ` '${file}'` : ""}`), { code, syscall, ...(file ? { path: file } : {}) });
}

describe("an export the host cannot write", () => {
  it("a full disk names the destination, and says to free space", () => {
    const cause = new FileSyncIOError("cannot write", "/p/out/.out.brewkit-export-x/big.bin", errno("ENOSPC", "no space left on device", "write"));
    const err = exportWriteError("big", { dest: "/p/out", error: cause });
    expect(err).toBeInstanceOf(HostError);
    expect(err.message).toBe('target "big": cannot write its output to /p/out: the file system is full (no space left on device)');
    expect((err as HostError).hint).toBe("free space on the file system that holds /p/out, or write the output elsewhere (output.local)");
    expect((err as HostError).hint).not.toContain("fix the command");
  });

  it("a name too long says which name, and how long it is", () => {
    const long = "n".repeat(300);
    const cause = new FileSyncPathError("cannot prepare the export destination", `/p/${long}`, { cause: errno("ENAMETOOLONG", "name too long", "mkdtemp", `/p/.${long}.brewkit-export-XXXXXX`) });
    const err = exportWriteError("t", { dest: `/p/${long}`, error: cause });
    expect(err.message).toBe(`target "t": cannot write its output to /p/${long}: the name ".${"n".repeat(39)}…" is 323 bytes long, more than the file system allows (255)`);
    expect((err as HostError).code).toBe("EXPORT_ENAMETOOLONG");
  });

  it("other causes are named with their code; errors that are not the host's are passed on", () => {
    expect(exportWriteError("t", { dest: "/p/out", error: errno("EROFS", "read-only file system", "open", "/p/out/x") }).message).toBe('target "t": cannot write its output to /p/out: the file system is read-only');
    expect(exportWriteError("t", { dest: "/p/out", error: errno("EIO", "i/o error", "write") }).message).toMatch(/^target "t": cannot write its output to \/p\/out: EIO: /);
    const protocol = new FileSyncPathError("the export destination exists and is not a directory", "/p/out");
    expect(exportWriteError("t", { dest: "/p/out", error: protocol })).toBe(protocol);
  });
});

describe("names brewkit makes beside an export", () => {
  it("fit a destination whose name is as long as a name may be", async () => {
    const parent = mkdtempSync(path.join(tmpdir(), "brewkit-staging-"));
    const dest = path.join(parent, "d".repeat(255));
    const staging = await Staging.create(dest);
    writeFileSync(path.join(staging.root, "f".repeat(250)), "one");
    await staging.commit();
    // Again: the file it replaces is set aside under a name of its own.
    const again = await Staging.create(dest);
    writeFileSync(path.join(again.root, "f".repeat(250)), "two");
    await again.commit();
    expect(readFileSync(path.join(dest, "f".repeat(250)), "utf8")).toBe("two");
    expect(readdirSync(parent)).toEqual(["d".repeat(255)]);
    expect(readdirSync(dest)).toEqual(["f".repeat(250)]);
  });

  it("cut a name of several-byte characters between characters", async () => {
    const parent = mkdtempSync(path.join(tmpdir(), "brewkit-staging-"));
    const dest = path.join(parent, "é".repeat(127));
    mkdirSync(dest);
    const staging = await Staging.create(dest);
    expect(Buffer.byteLength(path.basename(staging.root))).toBeLessThanOrEqual(255);
    expect(path.basename(staging.root)).toMatch(/^\.(é)+\.brewkit-export-/);
    await staging.discard();
  });
});
