import type { ControlClient } from "../client/control.ts";
import type { GatewayClient } from "../client/gateway.ts";
import { BrewkitError, BuildError, isGatewayFailure } from "../errors.ts";
import { formatPlatform, type Platform } from "../llb/platform.ts";
import { normalizeImageRef } from "../llb/reference.ts";
import type { ResolveMode } from "../llb/source.ts";
import { withGatewayBuild, type GatewayBuildOptions } from "../solve/gateway-build.ts";
import { describeRegistryFailure } from "./registry-errors.ts";

/** The OCI image config fields brewkit reads (`application/vnd.oci.image.config.v1+json`). */
export interface OciImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
  config?: {
    Env?: string[];
    WorkingDir?: string;
    User?: string;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Labels?: Record<string, string> | null;
  };
  [key: string]: unknown;
}

/** What a base image contributes to a build, read from its registry config. */
export interface ImageConfig {
  /** The fully qualified reference that was resolved, e.g. `docker.io/library/busybox:latest`. */
  ref: string;
  /** Digest of the platform's manifest; pin the image with `<ref>@<digest>`. */
  digest: string;
  /**
   * `Config.Env` as pairs, in order; a name set twice keeps its last value at its last
   * position, like BuildKit's `WithImageConfig`. Apply them with `State.env` in order.
   */
  env: Array<[string, string]>;
  /** `Config.WorkingDir` as an absolute path (relative ones are joined to `/`); unset means `/`. */
  workdir?: string;
  /** `Config.User` (`name`, `uid`, `uid:gid`, ...); unset means root. BuildKit's LLB does not apply it by itself. */
  user?: string;
  /** The image's platform (`os`, `architecture`, `variant`, ...), exactly as the config spells it. */
  platform?: Platform;
  /** `Config.Entrypoint`, when set. */
  entrypoint?: string[];
  /** `Config.Cmd`, when set. */
  cmd?: string[];
  /** The whole parsed config, e.g. as the base of an exported image's config. */
  raw: OciImageConfig;
}

/** Options of the image config lookups. */
export interface ResolveImageConfigOptions {
  /** `pull` always asks the registry, `local` prefers the daemon's copy; `default` when unset. */
  resolveMode?: ResolveMode;
}

/** Options of `resolveImageConfigs`: lookup options plus the gateway build's settings. */
export type ResolveImageConfigsOptions = ResolveImageConfigOptions & Omit<GatewayBuildOptions, "name" | "localDirs"> & { name?: string };

/**
 * Resolves the config of every image in `refs` for `platform`, all in one gateway build
 * and in parallel. The map is keyed by the references exactly as given; spellings of
 * the same image (`busybox`, `docker.io/library/busybox:latest`) are looked up once.
 */
export async function resolveImageConfigs(
  control: ControlClient,
  refs: readonly string[],
  platform: Platform,
  options: ResolveImageConfigsOptions,
): Promise<Map<string, ImageConfig>> {
  // Invalid references fail here, before any build starts.
  const normalized = new Map(refs.map((ref) => [ref, normalizeImageRef(ref)]));
  if (normalized.size === 0) return new Map();
  const { resolveMode, name, ...build } = options;
  return withGatewayBuild(control, { ...build, name: name ?? "resolve base images" }, (bridge) =>
    resolveImageConfigsWith(bridge, [...normalized.keys()], platform, { resolveMode }),
  );
}

/** Like `resolveImageConfigs`, inside a gateway build that is already running. */
export async function resolveImageConfigsWith(
  bridge: GatewayClient,
  refs: readonly string[],
  platform: Platform,
  options: ResolveImageConfigOptions = {},
): Promise<Map<string, ImageConfig>> {
  const lookups = new Map<string, Promise<ImageConfig>>();
  for (const ref of refs) {
    const full = normalizeImageRef(ref);
    if (!lookups.has(full)) lookups.set(full, resolveImageConfig(bridge, full, platform, options));
  }
  // Settle every lookup so none fails unobserved, then report the first failure in `refs` order.
  const results = await Promise.allSettled(lookups.values());
  const byImage = new Map([...lookups.keys()].map((full, i) => [full, results[i]!]));
  const out = new Map<string, ImageConfig>();
  for (const ref of refs) {
    const result = byImage.get(normalizeImageRef(ref))!;
    if (result.status === "rejected") throw result.reason;
    out.set(ref, result.value);
  }
  return out;
}

/** Resolves one image's config inside a running gateway build; failures say why, naming the image. */
export async function resolveImageConfig(bridge: GatewayClient, ref: string, platform: Platform, options: ResolveImageConfigOptions = {}): Promise<ImageConfig> {
  const full = normalizeImageRef(ref);
  let resolved;
  try {
    resolved = await bridge.resolveImageConfig(full, platform, {
      resolveMode: options.resolveMode,
      // Shown as a step, like the Dockerfile frontend's lookups.
      logName: `[internal] load metadata for ${full}`,
    });
  } catch (err) {
    // Cancellation and an unreachable daemon are not the image's fault.
    if (err instanceof BrewkitError && !isGatewayFailure(err.code)) throw err;
    throw describeRegistryFailure(ref, formatPlatform(platform), err);
  }
  return parseImageConfig(resolved.ref, resolved.digest, resolved.config);
}

/** Reads the parts of an OCI image config JSON that a build applies. */
export function parseImageConfig(ref: string, digest: string, json: Uint8Array | string): ImageConfig {
  let raw: OciImageConfig;
  try {
    raw = JSON.parse(typeof json === "string" ? json : Buffer.from(json).toString("utf8")) as OciImageConfig;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new TypeError("not a JSON object");
  } catch (err) {
    throw new BuildError("IMAGE_CONFIG_INVALID", `the config of image "${ref}" is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const config = raw.config ?? {};
  const out: ImageConfig = { ref, digest, env: parseEnv(config.Env ?? []), raw };
  if (config.WorkingDir) out.workdir = absoluteDir(config.WorkingDir);
  if (config.User) out.user = config.User;
  if (raw.os && raw.architecture) {
    const platform: { -readonly [K in keyof Platform]: Platform[K] } = { OS: raw.os, Architecture: raw.architecture };
    if (raw.variant) platform.Variant = raw.variant;
    if (raw["os.version"]) platform.OSVersion = raw["os.version"];
    if (raw["os.features"]?.length) platform.OSFeatures = [...raw["os.features"]];
    out.platform = platform;
  }
  if (config.Entrypoint) out.entrypoint = [...config.Entrypoint];
  if (config.Cmd) out.cmd = [...config.Cmd];
  return out;
}

function parseEnv(entries: readonly string[]): Array<[string, string]> {
  const env = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const key = eq === -1 ? entry : entry.slice(0, eq);
    // Go skips entries with an empty name; `NAME` alone sets an empty value.
    if (key === "") continue;
    env.delete(key);
    env.set(key, eq === -1 ? "" : entry.slice(eq + 1));
  }
  return [...env];
}

function absoluteDir(dir: string): string {
  const parts: string[] = [];
  for (const part of dir.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}
