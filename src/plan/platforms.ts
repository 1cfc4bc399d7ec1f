import { parsePlatform, type Platform } from "../llb/index.ts";

const knownOS = new Set(["linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix", "android", "ios", "js", "wasip1", "plan9", "dragonfly"]);
const knownArch = new Set(["amd64", "arm64", "arm", "386", "ppc64le", "ppc64", "s390x", "riscv64", "mips64le", "mips64", "mipsle", "mips", "loong64", "wasm"]);

/** Parses and checks a platform string; undefined with a reason when it is not one BuildKit knows. */
export function checkPlatform(spec: string): { platform?: Platform; problem?: string } {
  let platform: Platform;
  try {
    platform = parsePlatform(spec);
  } catch {
    return { problem: `"${spec}" is not of the form os/arch or os/arch/variant` };
  }
  if (!knownOS.has(platform.OS)) return { problem: `unknown operating system "${platform.OS}" in "${spec}"` };
  if (!knownArch.has(platform.Architecture)) return { problem: `unknown architecture "${platform.Architecture}" in "${spec}"` };
  return { platform };
}
