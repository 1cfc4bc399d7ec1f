import { UserInputError } from "../errors.ts";
import type { Pb_Platform } from "../proto/generated.ts";

/**
 * An OCI platform, spelled like BuildKit's `pb.Platform` so that values from
 * `ListWorkers` can be passed straight in.
 */
export interface Platform {
  /** Operating system, e.g. `linux`. */
  readonly OS: string;
  /** CPU architecture, e.g. `amd64`, `arm64`. */
  readonly Architecture: string;
  /** Architecture variant, e.g. `v7` for `arm`. */
  readonly Variant?: string;
  /** OS version (Windows only). */
  readonly OSVersion?: string;
  /** Required OS features (Windows only). */
  readonly OSFeatures?: readonly string[];
}

function normalizeArch(arch: string, variant: string): [string, string] {
  arch = arch.toLowerCase();
  variant = variant.toLowerCase();
  switch (arch) {
    case "i386":
      return ["386", ""];
    case "x86_64":
    case "x86-64":
    case "amd64":
      return ["amd64", variant === "v1" ? "" : variant];
    case "aarch64":
    case "arm64":
      if (["8", "v8", "v8.0"].includes(variant)) return ["arm64", ""];
      if (["9", "9.0", "v9.0"].includes(variant)) return ["arm64", "v9"];
      return ["arm64", variant];
    case "armhf":
      return ["arm", "v7"];
    case "armel":
      return ["arm", "v6"];
    case "arm":
      if (variant === "" || variant === "7") return ["arm", "v7"];
      if (["5", "6", "8"].includes(variant)) return ["arm", "v" + variant];
      return ["arm", variant];
    default:
      return [arch, variant];
  }
}

/**
 * The canonical form of a platform (containerd's `platforms.Normalize`): `aarch64`
 * becomes `arm64`, `arm` gets its default `v7`, and so on. An empty OS means linux
 * (Go would read the host's OS here; builds are pure, so linux is assumed).
 */
export function normalizePlatform(p: Platform): Platform {
  const os = p.OS === "" ? "linux" : p.OS.toLowerCase() === "macos" ? "darwin" : p.OS.toLowerCase();
  const [arch, variant] = normalizeArch(p.Architecture, p.Variant ?? "");
  const out: { -readonly [K in keyof Platform]: Platform[K] } = { OS: os, Architecture: arch };
  if (variant !== "") out.Variant = variant;
  if (p.OSVersion) out.OSVersion = p.OSVersion;
  if (p.OSFeatures && p.OSFeatures.length > 0) out.OSFeatures = [...new Set(p.OSFeatures)].sort();
  return out;
}

/** Parses `os/arch[/variant]` (e.g. `linux/arm64`, `linux/arm/v7`) and normalizes it. */
export function parsePlatform(spec: string): Platform {
  const parts = spec.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new UserInputError("LLB_INVALID_PLATFORM", `invalid platform "${spec}"`, {
      hint: "use os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7",
    });
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  return normalizePlatform(variant === undefined ? { OS: os, Architecture: arch } : { OS: os, Architecture: arch, Variant: variant });
}

/** `os/arch[/variant]` of a platform. */
export function formatPlatform(p: Platform): string {
  return [p.OS, p.Architecture, p.Variant].filter((s) => s).join("/");
}

/** The platform as the protobuf message carried in `Op.platform`. */
export function platformToPb(p: Platform): Pb_Platform {
  const out: Pb_Platform = { Architecture: p.Architecture, OS: p.OS };
  if (p.Variant) out.Variant = p.Variant;
  if (p.OSVersion) out.OSVersion = p.OSVersion;
  if (p.OSFeatures) out.OSFeatures = [...p.OSFeatures];
  return out;
}
