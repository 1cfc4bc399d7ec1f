import path from "node:path";
import type { CopySpec, OutputSpec, Target } from "../model/index.ts";
import { isImageRef, isScratch, isTarget } from "../model/index.ts";
import { PlanError } from "./errors.ts";
import type { PlannedBase, PlannedCopy, PlannedOutput, PlannedTarget } from "./types.ts";

/** Inputs of planning one target that come from outside the model. */
export interface ResolveContext {
  projectDir: string;
  /** Exclude patterns of the project's ignore file (relative to the project). */
  ignorePatterns: string[];
  /** The name of another target value (exported or synthesised). */
  nameOf(target: Target): string;
}

const posix = path.posix;

function asList<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function resolveBase(name: string, t: Target, ctx: ResolveContext): PlannedBase {
  const from = t.spec.from;
  if (typeof from === "string") {
    if (from.trim() === "") throw new PlanError("FROM_EMPTY", "`from` is an empty image reference", { target: name, field: "from", at: t.definedAt, hint: 'name an image, e.g. from: "debian:bookworm", or use scratch' });
    return { kind: "image", ref: from };
  }
  if (isImageRef(from)) return { kind: "image", ref: from.ref };
  if (isScratch(from)) return { kind: "scratch" };
  if (isTarget(from)) return { kind: "target", name: ctx.nameOf(from) };
  throw new PlanError("FROM_INVALID", "`from` must be an image reference string, image(...), another target, or scratch", {
    target: name, field: "from", at: t.definedAt, hint: "set `from` to the base of this target",
  });
}

function resolveCopy(name: string, t: Target, entry: string | CopySpec, index: number, workdir: string, ctx: ResolveContext): PlannedCopy {
  const spec: CopySpec = typeof entry === "string" ? { src: entry } : entry;
  const field = `copy[${index}]`;
  if (typeof spec?.src !== "string" || spec.src === "") {
    throw new PlanError("COPY_SRC", "`src` must be a non-empty host path", { target: name, field, at: t.definedAt, hint: 'e.g. copy: "src" or copy: { src: "src", dest: "/app/src" }' });
  }
  const abs = path.resolve(ctx.projectDir, spec.src);
  const inProject = isInside(ctx.projectDir, abs);
  const hostRoot = inProject ? ctx.projectDir : path.dirname(abs);
  const srcPath = inProject ? path.relative(ctx.projectDir, abs).split(path.sep).join("/") || "." : path.basename(abs);
  const under = (p: string) => (srcPath === "." ? p : posix.join(srcPath, p));
  const include = spec.include?.length ? spec.include.map(under) : srcPath === "." ? [] : [srcPath];
  const exclude = [...(inProject ? ctx.ignorePatterns : []), ...(spec.exclude ?? []).map(under)];
  const destDefault = srcPath === "." ? "." : srcPath;
  const dest = posix.resolve(workdir, spec.dest ?? (inProject ? destDefault : posix.basename(abs)));
  return { hostRoot, srcPath, dest, include, exclude };
}

function resolveOutput(name: string, t: Target, spec: OutputSpec, index: number, workdir: string, ctx: ResolveContext): PlannedOutput {
  const field = `output[${index}]`;
  if (typeof spec?.artifact !== "string" || spec.artifact === "" || typeof spec.local !== "string" || spec.local === "") {
    throw new PlanError("OUTPUT_INVALID", "an output needs `artifact` (path in the result) and `local` (host directory)", {
      target: name, field, at: t.definedAt, hint: 'e.g. output: { artifact: "/out/app", local: "bin" }',
    });
  }
  const dest = path.resolve(ctx.projectDir, spec.local);
  if (!isInside(ctx.projectDir, dest) && spec.allowOutsideProject !== true) {
    throw new PlanError("OUTPUT_OUTSIDE_PROJECT", `\`local\` (${spec.local}) is outside the project directory ${ctx.projectDir}`, {
      target: name, field: `${field}.local`, at: t.definedAt, hint: "write inside the project, or set allowOutsideProject: true on this output",
    });
  }
  if (dest === ctx.projectDir) {
    throw new PlanError("OUTPUT_IS_PROJECT", "`local` must not be the project directory itself", {
      target: name, field: `${field}.local`, at: t.definedAt, hint: 'export into a subdirectory, e.g. local: "dist"',
    });
  }
  return { artifact: posix.resolve(workdir, spec.artifact), dest };
}

function commandsOf(name: string, t: Target): string[][] {
  const { command, commands } = t.spec;
  if (command !== undefined && commands !== undefined) {
    throw new PlanError("COMMAND_TWICE", "set either `command` or `commands`, not both", { target: name, field: "commands", at: t.definedAt, hint: "move `command` into the `commands` list" });
  }
  const list = commands ?? (command === undefined ? [] : [command]);
  return list.map((c, i) => {
    if (typeof c === "string") return ["/bin/sh", "-c", c];
    if (Array.isArray(c) && c.length > 0 && c.every((a) => typeof a === "string")) return [...c];
    throw new PlanError("COMMAND_INVALID", "a command is a shell string or a non-empty array of strings", {
      target: name, field: commands ? `commands[${i}]` : "command", at: t.definedAt, hint: 'e.g. command: "make build" or command: ["make", "build"]',
    });
  });
}

/** Normalises one target: absolute paths, resolved base, commands as argv. */
export function resolveTarget(name: string, t: Target, ctx: ResolveContext): PlannedTarget {
  const spec = t.spec;
  const workdir = posix.resolve("/", spec.workdir ?? "/");
  return {
    name,
    description: spec.description,
    definedAt: t.definedAt,
    base: resolveBase(name, t, ctx),
    workdir,
    env: Object.entries(spec.env ?? {}).map(([k, v]) => [k, String(v)]),
    copies: asList(spec.copy).map((c, i) => resolveCopy(name, t, c, i, workdir, ctx)),
    caches: (spec.cache ?? []).map((c) => ({ id: c.id, path: posix.resolve(workdir, c.path), sharing: c.sharing })),
    commands: commandsOf(name, t),
    outputs: asList(spec.output).map((o, i) => resolveOutput(name, t, o, i, workdir, ctx)),
    dependsOn: (spec.dependsOn ?? []).map((d) => ctx.nameOf(d)),
    source: t,
  };
}
