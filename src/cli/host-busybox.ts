import { closeSync, openSync, readSync, realpathSync } from "node:fs";
import path from "node:path";
import { findOnPath } from "../daemon/which.ts";
import { UserInputError } from "../errors.ts";
import type { Platform } from "../llb/index.ts";

// ELF e_machine values, by the architecture names of OCI platforms.
const machines: Record<number, string> = { 3: "386", 8: "mips", 20: "ppc", 21: "ppc64le", 22: "s390x", 40: "arm", 62: "amd64", 183: "arm64", 243: "riscv64", 258: "loong64" };
const PT_INTERP = 3;

/** What the ELF header of an executable says: its architecture, and whether it needs a dynamic loader. */
export function readElf(header: Buffer): { architecture: string | undefined; dynamic: boolean } | undefined {
  if (header.length < 52 || header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = header[4] === 2;
  const little = header[5] === 1;
  const u16 = (at: number) => (little ? header.readUInt16LE(at) : header.readUInt16BE(at));
  const u32 = (at: number) => (little ? header.readUInt32LE(at) : header.readUInt32BE(at));
  const phoff = is64 ? Number(little ? header.readBigUInt64LE(0x20) : header.readBigUInt64BE(0x20)) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  let dynamic = false;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > header.length) break;
    if (u32(at) === PT_INTERP) dynamic = true;
  }
  return { architecture: machines[u16(18)], dynamic };
}

const installHint = "install a static busybox (Debian/Ubuntu: apt-get install busybox-static), or run the copy in an image with sh and cp (--image <ref>) or in a target of the config (--target <name>)";

/**
 * The static busybox of this machine that runs a cache transfer without a registry, as
 * the directory and file name to upload. It must need no library and match the
 * daemon's architecture; otherwise the error says what to install or pass instead.
 */
export function hostBusybox(platform: Platform, command: string, candidates = ["/usr/bin/busybox", "/bin/busybox", findOnPath("busybox")]): { dir: string; name: string } {
  const found = candidates.find((p): p is string => p !== undefined && readHeader(p) !== undefined);
  if (!found) throw new UserInputError("BUSYBOX_MISSING", `\`brewkit ${command}\` runs its copy with this machine's static busybox, so that it needs no registry, and there is none (looked in /usr/bin, /bin and PATH)`, { hint: installHint });
  const real = realpathSync(found);
  const elf = readElf(readHeader(real)!);
  if (!elf) throw new UserInputError("BUSYBOX_UNUSABLE", `${real} is not an executable brewkit can run in a container (not an ELF binary)`, { hint: installHint });
  if (elf.dynamic) throw new UserInputError("BUSYBOX_UNUSABLE", `${real} is linked dynamically: on an empty filesystem it would find none of its libraries`, { hint: installHint });
  if (elf.architecture !== platform.Architecture) {
    throw new UserInputError("BUSYBOX_UNUSABLE", `${real} is built for ${elf.architecture ?? "an unknown architecture"}, but the daemon builds for ${platform.Architecture}`, { hint: "run the copy in an image with sh and cp (--image <ref>) or in a target of the config (--target <name>)" });
  }
  return { dir: path.dirname(real), name: path.basename(real) };
}

// The program headers of an executable sit right after its ELF header: 4 KiB holds them.
function readHeader(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const buffer = Buffer.alloc(4096);
    return buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
