import path from "node:path";
import type { Base, CopyEntry, OutputSpec, Target, TargetSpec, Variable } from "../model/index.ts";
import { isCacheMount, isImageRef, isScratch, isSecretMount, isTarget } from "../model/index.ts";
import { checkEnvName, checkNoTilde, fieldError, isBlank, isValue, optionalList, optionalString, stringList, valueOf, type FieldSite } from "./check.ts";
import { checkPlatform } from "./platforms.ts";
import type { PlannedBase, PlannedCache, PlannedCopy, PlannedOutput, PlannedSecret, PlannedTarget } from "./types.ts";

/** Inputs of planning one target that come from outside the model. */
export interface ResolveContext {
  projectDir: string;
  /** Exclude patterns of the project's ignore file (relative to the project). */
  ignorePatterns: string[];
  /** The name of a target value: its export name, else `path` (how it was reached, e.g. `app>from`) made unique. */
  nameOf(target: Target, path: string): string;
}

const networks = new Set(["default", "none", "host"]);

/** True when `child` is `parent` or inside it. */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

// The path through which a target reached from `site`'s `field` is named, e.g. `app>copy[1].from`.
function reachedName(site: FieldSite, ctx: ResolveContext, target: Target, field: string): string {
  return ctx.nameOf(target, `${site.target}>${field}`);
}

function resolveBase(site: FieldSite, from: Base | undefined, ctx: ResolveContext): PlannedBase {
  if (typeof from === "string") {
    if (from.trim() === "") fieldError(site, "from", "FROM_EMPTY", "is an empty image reference", 'name an image, e.g. from: "debian:bookworm", or use scratch');
    return { kind: "image", ref: from };
  }
  if (isImageRef(from)) return { kind: "image", ref: from.ref };
  if (isScratch(from)) return { kind: "scratch" };
  if (isTarget(from)) return { kind: "target", name: reachedName(site, ctx, from, "from") };
  return fieldError(site, "from", "FROM_INVALID", from === undefined ? "is missing" : "must be an image reference string, image(...), another target, or scratch", 'set the base, e.g. from: "debian:bookworm" or from: scratch');
}

function resolveCopy(site: FieldSite, entry: CopyEntry, field: string, ctx: ResolveContext): PlannedCopy {
  const spec = typeof entry === "string" ? { src: entry } : entry;
  if (typeof spec !== "object" || spec === null || typeof spec.src !== "string" || spec.src === "") {
    fieldError(site, `${field}.src`, "COPY_SRC", "must be a non-empty path", 'e.g. copy: "src" or copy: { src: "src", dest: "/app/src" }');
  }
  const dest = spec.dest === undefined ? undefined : valueOf(site, `${field}.dest`, spec.dest, '"/app"');
  const include = stringList(site, `${field}.include`, spec.include);
  const exclude = stringList(site, `${field}.exclude`, spec.exclude);
  if (spec.from !== undefined) {
    if (!isTarget(spec.from)) fieldError(site, `${field}.from`, "COPY_FROM", "must be a target", "copy from another target's result: copy: { from: build, src: \"/out/app\" }");
    return { kind: "target", from: reachedName(site, ctx, spec.from, `${field}.from`), src: spec.src, dest, include, exclude };
  }
  const abs = path.resolve(ctx.projectDir, spec.src);
  const inProject = isInside(ctx.projectDir, abs);
  const hostRoot = inProject ? ctx.projectDir : path.dirname(abs);
  const srcPath = inProject ? path.relative(ctx.projectDir, abs).split(path.sep).join("/") || "." : path.basename(abs);
  const under = (p: string) => (srcPath === "." ? p : path.posix.join(srcPath, p));
  return {
    kind: "host",
    hostRoot,
    srcPath,
    dest,
    include: include.length ? include.map(under) : srcPath === "." ? [] : [srcPath],
    exclude: [...(inProject ? ctx.ignorePatterns : []), ...exclude.map(under)],
  };
}

function resolveOutput(site: FieldSite, spec: OutputSpec, field: string, ctx: ResolveContext): PlannedOutput {
  if (typeof spec !== "object" || spec === null || typeof spec.artifact !== "string" || spec.artifact === "" || !isValue(spec.local) || spec.local === "") {
    fieldError(site, field, "OUTPUT_INVALID", "needs `artifact` (a path in the result) and `local` (a host directory)", 'e.g. output: { artifact: "/out/app", local: "bin" }');
  }
  if (spec.onFailure !== undefined && typeof spec.onFailure !== "boolean") {
    fieldError(site, `${field}.onFailure`, "OUTPUT_INVALID", `must be true or false, not ${JSON.stringify(spec.onFailure)}`, 'e.g. output: { artifact: "/src/reports", local: "reports", onFailure: true }');
  }
  const output = { artifact: spec.artifact, local: spec.local, allowOutsideProject: spec.allowOutsideProject === true, onFailure: spec.onFailure === true };
  if (typeof spec.local === "string") checkOutputDir(site, `${field}.local`, spec.local, output.allowOutsideProject, ctx.projectDir);
  return output;
}

/** Checks (and resolves) an output's host directory: inside the project unless allowed, never the project itself. */
export function checkOutputDir(site: FieldSite, field: string, local: string, allowOutsideProject: boolean, projectDir: string): string {
  checkNoTilde(site, field, local, 'local: "dist"', " with allowOutsideProject: true");
  const dest = path.resolve(projectDir, local);
  if (!isInside(projectDir, dest) && !allowOutsideProject) {
    fieldError(site, field, "OUTPUT_OUTSIDE_PROJECT", `${local} is outside the project directory ${projectDir}`, "write inside the project, or set allowOutsideProject: true on this output");
  }
  if (dest === projectDir || isInside(dest, projectDir)) {
    fieldError(site, field, "OUTPUT_IS_PROJECT", `${local} would replace the project directory`, 'export into a subdirectory, e.g. local: "dist"');
  }
  return dest;
}

function resolveCommands(site: FieldSite, spec: Pick<TargetSpec, "command" | "commands">): PlannedTarget["commands"] {
  const { command, commands } = spec;
  if (command !== undefined && commands !== undefined) fieldError(site, "commands", "COMMAND_TWICE", "set either `command` or `commands`, not both", "move `command` into the `commands` list");
  if (commands !== undefined && !Array.isArray(commands)) fieldError(site, "commands", "FIELD_TYPE", "must be a list of commands", 'e.g. commands: ["make", ["make", "test"]]');
  const list = commands ?? (command === undefined ? [] : [command]);
  return list.map((c, i) => {
    const field = commands ? `commands[${i}]` : "command";
    if (isValue(c)) {
      // `sh -c ""` succeeds without doing anything: an empty command is a mistake, not a no-op.
      if (isBlank(c)) fieldError(site, field, "COMMAND_EMPTY", "is an empty command", 'give the command to run, e.g. command: "make build", or leave `command` out to run nothing');
      return ["/bin/sh", "-c", c];
    }
    if (Array.isArray(c) && c.length > 0 && c.every(isValue)) {
      if (isBlank(c[0]!)) fieldError(site, `${field}[0]`, "COMMAND_EMPTY", "is empty: the first element names the program to run", 'e.g. command: ["make", "build"]');
      return [...c];
    }
    return fieldError(site, field, "COMMAND_INVALID", "must be a shell string or a non-empty array of strings", 'e.g. command: "make build" or command: ["make", "build"]');
  });
}

function resolveSecrets(site: FieldSite, value: unknown): PlannedSecret[] {
  return optionalList(site, "secrets", value as unknown[] | undefined).map((s, i) => {
    if (!isSecretMount(s)) fieldError(site, `secrets[${i}]`, "FIELD_TYPE", "must be made by secret()", 'e.g. secrets: [secret("npm", "/root/.npmrc")]');
    if (typeof s.id !== "string" || s.id === "") fieldError(site, `secrets[${i}]`, "SECRET_ID", "needs a non-empty id", 'e.g. secret("npm", "/root/.npmrc")');
    if (!s.path && !s.env) fieldError(site, `secrets[${i}]`, "SECRET_TARGET", `secret "${s.id}" needs a file path or { env: "NAME" }`, 'e.g. secret("npm", "/root/.npmrc") or secret("token", { env: "TOKEN" })');
    return { id: s.id, path: s.path, env: s.env, optional: s.optional, mode: s.mode, uid: s.uid, gid: s.gid };
  });
}

function resolveCaches(site: FieldSite, value: unknown, ctx: ResolveContext): PlannedCache[] {
  return optionalList(site, "cache", value as unknown[] | undefined).map((c, i) => {
    if (!isCacheMount(c)) fieldError(site, `cache[${i}]`, "FIELD_TYPE", "must be made by cache()", 'e.g. cache: [cache("go-mod", "/go/pkg/mod")]');
    if (typeof c.id !== "string" || c.id === "" || typeof c.path !== "string" || c.path === "") {
      fieldError(site, `cache[${i}]`, "CACHE_INVALID", "needs an id and a path", 'e.g. cache("go-mod", "/go/pkg/mod")');
    }
    if (typeof c.hostDir === "string") checkNoTilde(site, `cache[${i}].hostDir`, c.hostDir, 'hostDir: ".cache/deps"');
    const hostDir = c.hostDir === undefined ? undefined : path.resolve(ctx.projectDir, c.hostDir);
    if (hostDir !== undefined && !isInside(ctx.projectDir, hostDir)) {
      fieldError(site, `cache[${i}].hostDir`, "CACHE_HOSTDIR_OUTSIDE", `${c.hostDir} is outside the project directory ${ctx.projectDir}`, "keep the host folder of a cache inside the project");
    }
    return { id: c.id, path: c.path, sharing: c.sharing, hostDir };
  });
}

/** What a target or a variable's command is made of, before normalisation. */
export type ResolvableSpec = Pick<TargetSpec, "from" | "workdir" | "env" | "copy" | "command"> & Partial<TargetSpec>;

/** Normalises and checks one target (or a variable's command). */
export function resolveTarget(name: string, spec: ResolvableSpec, source: Target | Variable, ctx: ResolveContext): PlannedTarget {
  // The definition site is read only when an error names it (see callerLocation).
  const site: FieldSite = {
    target: name,
    get at() {
      return source.definedAt;
    },
  };
  if (typeof spec !== "object" || spec === null) fieldError(site, "spec", "FIELD_TYPE", "must be an object", "pass an object to target({...})");
  const platformSpec = optionalString(site, "platform", spec.platform, '"linux/arm64"');
  let platform;
  if (platformSpec !== undefined) {
    const checked = checkPlatform(platformSpec);
    if (!checked.platform) fieldError(site, "platform", "PLATFORM_INVALID", checked.problem ?? "invalid", 'use os/arch[/variant], e.g. "linux/amd64", "linux/arm64" or "linux/arm/v7"');
    platform = checked.platform;
  }
  const network = spec.network ?? "default";
  if (!networks.has(network)) fieldError(site, "network", "NETWORK_INVALID", `unknown network mode ${JSON.stringify(network)}`, 'use "default", "none" or "host"');
  if (spec.env !== undefined && (typeof spec.env !== "object" || spec.env === null || Array.isArray(spec.env))) {
    fieldError(site, "env", "FIELD_TYPE", "must be an object of names to values", 'e.g. env: { CGO_ENABLED: "0" }');
  }
  if (spec.ssh !== undefined && typeof spec.ssh !== "boolean" && (typeof spec.ssh !== "object" || spec.ssh === null || Array.isArray(spec.ssh))) {
    fieldError(site, "ssh", "FIELD_TYPE", "must be true, false or { id, path }", 'e.g. ssh: true or ssh: { id: "default" }');
  }
  const ssh = spec.ssh === undefined || spec.ssh === false ? undefined : spec.ssh === true ? { id: "default", path: undefined } : { id: spec.ssh.id ?? "default", path: spec.ssh.path };
  return {
    name,
    description: optionalString(site, "description", spec.description, '"builds the app"'),
    get definedAt() {
      return source.definedAt;
    },
    base: resolveBase(site, spec.from, ctx),
    platform,
    workdir: optionalString(site, "workdir", spec.workdir, '"/src"'),
    env: Object.entries(spec.env ?? {}).map(([k, v]) => [checkEnvName(site, k), valueOf(site, `env.${k}`, v, '"value"')]),
    user: optionalString(site, "user", spec.user, '"1000:1000"'),
    copies: optionalList(site, "copy", spec.copy).map((c, i) => resolveCopy(site, c, `copy[${i}]`, ctx)),
    caches: resolveCaches(site, spec.cache, ctx),
    secrets: resolveSecrets(site, spec.secrets),
    ssh,
    network,
    commands: resolveCommands(site, spec),
    outputs: optionalList(site, "output", spec.output).map((o, i) => resolveOutput(site, o, `output[${i}]`, ctx)),
    dependsOn: optionalList(site, "dependsOn", spec.dependsOn).map((d, i) => {
      if (!isTarget(d)) fieldError(site, `dependsOn[${i}]`, "FIELD_TYPE", "must be a target", "list target values, e.g. dependsOn: [lint, test]");
      return reachedName(site, ctx, d, `dependsOn[${i}]`);
    }),
    source,
  };
}
