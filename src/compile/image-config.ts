import { formatPlatform, type Platform, type State } from "../llb/index.ts";
import type { Plan, PlannedTarget } from "../plan/index.ts";
import { imageConfigKey } from "./target-compiler.ts";
import type { BaseImageConfig } from "./types.ts";

/** The OCI image config written with an image: the fields brewkit sets, and whatever else the base had. */
export interface ImageConfigJson {
  architecture: string;
  os: string;
  variant?: string;
  config: {
    Env?: string[];
    WorkingDir?: string;
    User?: string;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, object> | null;
    [key: string]: unknown;
  };
  history?: unknown[];
  [key: string]: unknown;
}

/** The image config fields a target and its base chain set, before the state's env, workdir and user. */
interface InheritedConfig {
  /** The base image's config (history included), or none for scratch. */
  base: { [key: string]: unknown } | undefined;
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  labels: Map<string, string>;
  expose: Set<string>;
}

/**
 * The config of the image made of target `name`, as Docker writes one: the base image's
 * config and history carried over; `Env`, `WorkingDir` and `User` as the target's steps
 * saw them (read from its final `state`); `Entrypoint`, `Cmd`, `Labels` and
 * `ExposedPorts` from the target and the targets it is built on. Setting an entrypoint
 * clears the inherited command, as in a Dockerfile. The exporter recomputes `rootfs` and
 * adds a history entry for every new layer. Pure.
 */
export function imageConfigOf(
  plan: Plan,
  name: string,
  state: State,
  platform: Platform,
  baseConfigs: ReadonlyMap<string, BaseImageConfig> | undefined,
  render: (value: PlannedTarget["imageConfig"]["labels"][number][1]) => string,
): ImageConfigJson {
  const inherited = inheritedConfig(plan, name, baseConfigs, render);
  const base = structuredClone(inherited.base ?? {}) as Partial<ImageConfigJson>;
  // Recomputed by the exporter from the layers; a date of the base would be wrong here.
  delete base.rootfs;
  delete base.created;
  const out: ImageConfigJson = { ...base, architecture: platform.Architecture, os: platform.OS, config: { ...(base.config ?? {}) } };
  if (platform.Variant) out.variant = platform.Variant;
  else delete out.variant;
  const config = out.config;
  config.Env = state.getEnvList().map(([k, v]) => `${k}=${v}`);
  config.WorkingDir = state.getDir();
  const user = state.getUser();
  if (user !== undefined) config.User = user;
  setOrDelete(config, "Entrypoint", inherited.entrypoint);
  setOrDelete(config, "Cmd", inherited.cmd);
  setOrDelete(config, "Labels", inherited.labels.size ? Object.fromEntries(inherited.labels) : undefined);
  setOrDelete(config, "ExposedPorts", inherited.expose.size ? Object.fromEntries([...inherited.expose].map((p) => [p, {}])) : undefined);
  out.history ??= [];
  return out;
}

function setOrDelete(config: ImageConfigJson["config"], key: string, value: unknown): void {
  if (value === undefined) delete config[key];
  else config[key] = value;
}

function inheritedConfig(plan: Plan, name: string, baseConfigs: ReadonlyMap<string, BaseImageConfig> | undefined, render: (value: PlannedTarget["imageConfig"]["labels"][number][1]) => string): InheritedConfig {
  const t = plan.targets.get(name);
  if (!t) throw new Error(`internal: target "${name}" is not in the plan`);
  let from: InheritedConfig;
  if (t.base.kind === "target") from = inheritedConfig(plan, t.base.name, baseConfigs, render);
  else {
    const raw = t.base.kind === "image" ? baseConfigs?.get(imageConfigKey(t.base.ref, t.platform))?.raw : undefined;
    const config = (raw?.config ?? {}) as ImageConfigJson["config"];
    from = {
      base: raw,
      entrypoint: config.Entrypoint ?? undefined,
      cmd: config.Cmd ?? undefined,
      labels: new Map(Object.entries(config.Labels ?? {})),
      expose: new Set(Object.keys(config.ExposedPorts ?? {})),
    };
  }
  const own = t.imageConfig;
  const entrypoint = own.entrypoint ?? from.entrypoint;
  const cmd = own.cmd ?? (own.entrypoint !== undefined ? undefined : from.cmd);
  const labels = new Map(from.labels);
  for (const [k, v] of own.labels) labels.set(k, render(v));
  return { base: from.base, entrypoint, cmd, labels, expose: new Set([...from.expose, ...own.expose]) };
}

/** The platform id BuildKit keys per-platform results and metadata by, e.g. `linux/arm/v7`. */
export function platformId(platform: Platform): string {
  return formatPlatform(platform);
}
