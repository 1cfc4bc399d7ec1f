import path from "node:path";
import { formatPlatform, type Platform } from "../llb/platform.ts";
import { normalizeImageRef } from "../llb/reference.ts";
import type { Base, CopyEntry, ImageOutputSpec, OutputSpec, TarballOutputSpec, TargetOutput, TargetSpec, Target, Value, Variable } from "../model/index.ts";
import { isCacheMount, isImageRef, isScratch, isSecretMount, isTarget } from "../model/index.ts";
import { checkEnvName, checkNoTilde, fieldError, isBlank, isValue, optionalList, optionalString, stringList, valueOf, type FieldSite } from "./check.ts";
import { checkPlatform } from "./platforms.ts";
import type { PlannedBase, PlannedCache, PlannedCopy, PlannedImageConfig, PlannedImageOutput, PlannedOutput, PlannedSecret, PlannedTarballOutput, PlannedTarget } from "./types.ts";

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

const outputForms = 'e.g. output: { artifact: "/out/app", local: "bin" }, { image: "registry.example.com/app:1.2", push: true } or { tarball: "dist/app.tar", format: "docker" }';

/** Sorts a target's outputs by kind, each checked; the index of each in the list names its fields. */
function resolveOutputs(site: FieldSite, list: TargetOutput[], ctx: ResolveContext): Pick<PlannedTarget, "outputs" | "images" | "tarballs"> {
  const outputs: PlannedOutput[] = [];
  const images: PlannedImageOutput[] = [];
  const tarballs: PlannedTarballOutput[] = [];
  list.forEach((spec, index) => {
    const field = `output[${index}]`;
    if (typeof spec !== "object" || spec === null) fieldError(site, field, "OUTPUT_INVALID", "needs `artifact` and `local`, `image`, or `tarball` and `format`", outputForms);
    if ("tarball" in spec) tarballs.push(resolveTarball(site, spec, field, index, ctx));
    else if ("image" in spec) images.push(resolveImage(site, spec, field, index));
    else if ("artifact" in spec || "local" in spec) outputs.push(resolveOutput(site, spec, field, index, ctx));
    else fieldError(site, field, "OUTPUT_INVALID", "needs `artifact` and `local`, `image`, or `tarball` and `format`", outputForms);
  });
  return { outputs, images, tarballs };
}

function resolveOutput(site: FieldSite, spec: OutputSpec, field: string, index: number, ctx: ResolveContext): PlannedOutput {
  if (typeof spec.artifact !== "string" || spec.artifact === "" || !isValue(spec.local) || spec.local === "") {
    fieldError(site, field, "OUTPUT_INVALID", "needs `artifact` (a path in the result) and `local` (a host directory)", 'e.g. output: { artifact: "/out/app", local: "bin" }');
  }
  if (spec.onFailure !== undefined && typeof spec.onFailure !== "boolean") {
    fieldError(site, `${field}.onFailure`, "OUTPUT_INVALID", `must be true or false, not ${JSON.stringify(spec.onFailure)}`, 'e.g. output: { artifact: "/src/reports", local: "reports", onFailure: true }');
  }
  const output = { index, artifact: spec.artifact, local: spec.local, allowOutsideProject: spec.allowOutsideProject === true, onFailure: spec.onFailure === true };
  if (typeof spec.local === "string") checkOutputDir(site, `${field}.local`, spec.local, output.allowOutsideProject, ctx.projectDir);
  return output;
}

/** The image names of an output: one or several Values; strings must be valid references. */
function imageNames(site: FieldSite, field: string, value: unknown, required: boolean): Value[] {
  if (value === undefined && !required) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) fieldError(site, field, "IMAGE_NAME", "names no image", 'e.g. image: "registry.example.com/app:1.2"');
  return list.map((name, i) => {
    const at = Array.isArray(value) ? `${field}[${i}]` : field;
    const checked = valueOf(site, at, name, '"registry.example.com/app:1.2"');
    if (typeof checked === "string") checkImageName(site, at, checked);
    return checked;
  });
}

/** Refuses a string that is not an image reference (also used for names computed from variables). */
export function checkImageName(site: FieldSite, field: string, name: string): void {
  try {
    normalizeImageRef(name);
  } catch (err) {
    fieldError(site, field, "IMAGE_NAME", `${JSON.stringify(name)} is not a valid image name: ${(err as Error).message.replace(/^[^:]*: /, "")}`, 'use host[:port]/repository[:tag], e.g. "registry.example.com/team/app:1.2"');
  }
}

function resolveImage(site: FieldSite, spec: ImageOutputSpec, field: string, index: number): PlannedImageOutput {
  if (spec.push !== undefined && typeof spec.push !== "boolean") fieldError(site, `${field}.push`, "FIELD_TYPE", "must be true or false", "e.g. push: true");
  return { index, names: imageNames(site, `${field}.image`, spec.image, true), push: spec.push === true };
}

const tarballFormats = new Set(["docker", "oci"]);

function resolveTarball(site: FieldSite, spec: TarballOutputSpec, field: string, index: number, ctx: ResolveContext): PlannedTarballOutput {
  const file = valueOf(site, `${field}.tarball`, spec.tarball, '"dist/app.tar"');
  if (isBlank(file)) fieldError(site, `${field}.tarball`, "OUTPUT_INVALID", "is empty", 'name the archive file, e.g. tarball: "dist/app.tar"');
  if (!tarballFormats.has(spec.format)) {
    fieldError(site, `${field}.format`, "TARBALL_FORMAT", spec.format === undefined ? "is missing" : `must be "docker" or "oci", not ${JSON.stringify(spec.format)}`, 'format: "docker" (for `docker load`) or format: "oci"');
  }
  const output = { index, file, format: spec.format, names: imageNames(site, `${field}.image`, spec.image, false), allowOutsideProject: spec.allowOutsideProject === true };
  if (typeof file === "string") checkTarballFile(site, `${field}.tarball`, file, output.allowOutsideProject, ctx.projectDir);
  return output;
}

/** Checks (and resolves) an archive's host file: inside the project unless allowed, and not a directory path. */
export function checkTarballFile(site: FieldSite, field: string, file: string, allowOutsideProject: boolean, projectDir: string): string {
  checkNoTilde(site, field, file, 'tarball: "dist/app.tar"', " with allowOutsideProject: true");
  if (file.endsWith("/") || file.endsWith("/.") || file.endsWith("/..") || file === "." || file === "..") {
    fieldError(site, field, "OUTPUT_INVALID", `${file} names a directory; the archive is a file`, 'e.g. tarball: "dist/app.tar"');
  }
  const dest = path.resolve(projectDir, file);
  if (!isInside(projectDir, dest) && !allowOutsideProject) {
    fieldError(site, field, "OUTPUT_OUTSIDE_PROJECT", `${file} is outside the project directory ${projectDir}`, "write inside the project, or set allowOutsideProject: true on this output");
  }
  if (dest === projectDir || isInside(dest, projectDir)) fieldError(site, field, "OUTPUT_IS_PROJECT", `${file} would replace the project directory`, 'e.g. tarball: "dist/app.tar"');
  return dest;
}

/** A command of the image config: an argv, or a shell string (`/bin/sh -c`). */
function imageCommand(site: FieldSite, field: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") {
    if (value.trim() === "") fieldError(site, field, "COMMAND_EMPTY", "is an empty command", `e.g. ${field}: ["/app/server"], or leave it out`);
    return ["/bin/sh", "-c", value];
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) fieldError(site, field, "FIELD_TYPE", "must be a list of strings or a shell string", `e.g. ${field}: ["/app/server", "--port", "8080"]`);
  return [...value];
}

function resolveImageConfig(site: FieldSite, spec: Partial<TargetSpec>): PlannedImageConfig {
  if (spec.labels !== undefined && (typeof spec.labels !== "object" || spec.labels === null || Array.isArray(spec.labels))) {
    fieldError(site, "labels", "FIELD_TYPE", "must be an object of names to values", 'e.g. labels: { "org.opencontainers.image.source": "https://example.com/app" }');
  }
  const labels = Object.entries(spec.labels ?? {}).map(([k, v]): [string, Value] => {
    if (k === "") fieldError(site, "labels", "LABEL_NAME", "has a label with an empty name", 'name every label, e.g. labels: { "version": "1.2" }');
    return [k, valueOf(site, `labels.${k}`, v, '"value"')];
  });
  const expose = optionalList(site, "expose", spec.expose).map((port, i) => {
    const text = typeof port === "number" ? String(port) : port;
    const match = typeof text === "string" ? /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(text) : null;
    if (!match || Number(match[1]) < 1 || Number(match[1]) > 65535) {
      fieldError(site, `expose[${i}]`, "EXPOSE_INVALID", `${JSON.stringify(port)} is not a port`, 'e.g. expose: [8080, "53/udp"] (a port from 1 to 65535, optionally /tcp, /udp or /sctp)');
    }
    return `${Number(match[1])}/${match[2] ?? "tcp"}`;
  });
  return { entrypoint: imageCommand(site, "entrypoint", spec.entrypoint), cmd: imageCommand(site, "cmd", spec.cmd), labels, expose: [...new Set(expose)] };
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

function resolvePlatforms(site: FieldSite, value: unknown): Pick<PlannedTarget, "platform" | "platforms"> {
  if (value === undefined) return { platform: undefined, platforms: [] };
  const one = (text: unknown, field: string): Platform => {
    const checked = checkPlatform(optionalString(site, field, text, '"linux/arm64"')!);
    if (!checked.platform) fieldError(site, field, "PLATFORM_INVALID", checked.problem ?? "invalid", 'use os/arch[/variant], e.g. "linux/amd64", "linux/arm64" or "linux/arm/v7"');
    return checked.platform;
  };
  if (!Array.isArray(value)) return { platform: one(value, "platform"), platforms: [] };
  if (value.length === 0) fieldError(site, "platform", "PLATFORM_INVALID", "is an empty list", 'name one platform or several, e.g. platform: ["linux/amd64", "linux/arm64"]');
  const platforms = value.map((p, i) => one(p, `platform[${i}]`));
  const ids = platforms.map(formatPlatform);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) fieldError(site, "platform", "PLATFORM_TWICE", `names ${twice} twice`, "list each platform once");
  return { platform: undefined, platforms };
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
  const { platform, platforms } = resolvePlatforms(site, spec.platform);
  const network = spec.network ?? "default";
  if (!networks.has(network)) fieldError(site, "network", "NETWORK_INVALID", `unknown network mode ${JSON.stringify(network)}`, 'use "default", "none" or "host"');
  if (spec.env !== undefined && (typeof spec.env !== "object" || spec.env === null || Array.isArray(spec.env))) {
    fieldError(site, "env", "FIELD_TYPE", "must be an object of names to values", 'e.g. env: { CGO_ENABLED: "0" }');
  }
  if (spec.ssh !== undefined && typeof spec.ssh !== "boolean" && (typeof spec.ssh !== "object" || spec.ssh === null || Array.isArray(spec.ssh))) {
    fieldError(site, "ssh", "FIELD_TYPE", "must be true, false or { id, path }", 'e.g. ssh: true or ssh: { id: "default" }');
  }
  const outputs = resolveOutputs(site, optionalList(site, "output", spec.output), ctx);
  if (platforms.length > 0 && outputs.outputs.length > 0) {
    fieldError(site, `output[${outputs.outputs[0]!.index}]`, "PLATFORMS_ARTIFACT", "copies an artifact to the host, which a target built for several platforms cannot do (one artifact per platform would land in one place)", "export images of it ({ image } or { tarball, format: \"oci\" }), or make a target per platform for artifacts");
  }
  const dockerArchive = outputs.tarballs.find((t) => t.format === "docker");
  if (platforms.length > 1 && dockerArchive) {
    fieldError(site, `output[${dockerArchive.index}].format`, "PLATFORMS_DOCKER_ARCHIVE", "is docker, whose archives hold one platform, but the target is built for several", 'use format: "oci" (an index with a manifest per platform), or one target per platform');
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
    platforms,
    workdir: optionalString(site, "workdir", spec.workdir, '"/src"'),
    env: Object.entries(spec.env ?? {}).map(([k, v]) => [checkEnvName(site, k), valueOf(site, `env.${k}`, v, '"value"')]),
    user: optionalString(site, "user", spec.user, '"1000:1000"'),
    copies: optionalList(site, "copy", spec.copy).map((c, i) => resolveCopy(site, c, `copy[${i}]`, ctx)),
    caches: resolveCaches(site, spec.cache, ctx),
    secrets: resolveSecrets(site, spec.secrets),
    ssh,
    network,
    commands: resolveCommands(site, spec),
    ...outputs,
    imageConfig: resolveImageConfig(site, spec),
    dependsOn: optionalList(site, "dependsOn", spec.dependsOn).map((d, i) => {
      if (!isTarget(d)) fieldError(site, `dependsOn[${i}]`, "FIELD_TYPE", "must be a target", "list target values, e.g. dependsOn: [lint, test]");
      return reachedName(site, ctx, d, `dependsOn[${i}]`);
    }),
    source,
  };
}
