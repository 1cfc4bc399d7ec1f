import type { CollectedOutput, CompiledImageExport, ConfigSource } from "../compile/index.ts";
import { loginHint, tlsHint } from "../registry/errors.ts";
import { registryOfRef } from "../registry/hosts.ts";
import { classifyRegistryFailure, ImageLookupError, isTlsFailure } from "../resolve/index.ts";
import { BuildError } from "../errors.ts";
import { normalizeImageRef } from "../llb/index.ts";
import { everyPlannedTarget, type Plan } from "../plan/index.ts";
import type { VertexState } from "../progress/index.ts";

/**
 * Explains the failure of the step that collects an output's artifact when the artifact
 * is not in the target's result: the daemon says only that a checksum of some ref failed.
 */
export function missingArtifact(plan: Plan, name: string, output: CollectedOutput): (failed: VertexState) => BuildError | undefined {
  return (failed) => {
    if (failed.name !== output.step || !/: not found$|no such file or directory/.test(failed.error ?? "")) return undefined;
    const t = plan.targets.get(name);
    const at = t?.definedAt;
    const field = `output[${output.index}].artifact`;
    const written = t?.outputs[output.index]?.artifact;
    const asWritten = written !== undefined && written !== output.path ? ` (${JSON.stringify(written)} under the working directory)` : "";
    return new BuildError("ARTIFACT_MISSING", `${at ? `${at.file}:${at.line}: ` : ""}target "${name}", field "${field}": ${output.path}${asWritten} does not exist in the target's result`, {
      context: { file: at?.file, line: at?.line, target: name, field },
      hint: "make a command of the target write it there, or fix the path (a relative artifact path is under the target's workdir)",
    });
  };
}

/**
 * Explains a failed push of an image: a registry that refused the login (or wanted one)
 * or whose certificate the daemon does not trust is named, with what to do about it.
 */
export function imageExportFailure(name: string, image: CompiledImageExport): (failed: VertexState) => BuildError | undefined {
  return (failed) => {
    const message = failed.error ?? "";
    const pushed = /failed to push (\S+?):? /.exec(message)?.[1] ?? image.names[0];
    if (!image.push || pushed === undefined) return undefined;
    return registryFailure(name, pushed, message.replace(/^failed to push \S+: /, ""), `push ${pushed}`, `refused the push of ${pushed}`);
  };
}

/** Explains a failed export of the build cache to a registry the same way as a failed push. */
export function cacheExportFailure(name: string, refs: readonly string[]): (failed: VertexState) => BuildError | undefined {
  return (failed) => {
    if (!/^exporting cache/.test(failed.name) || refs.length === 0) return undefined;
    const message = failed.error ?? "";
    // The daemon's message names the registry it talked to; with one cache ref, that is it.
    const host = /https?:\/\/([^/\s]+)\/v2\//.exec(message)?.[1];
    const ref = refs.find((r) => host !== undefined && safeRegistryOf(r) === host) ?? refs[0]!;
    return registryFailure(name, ref, message, `export the build cache to ${ref}`, `refused the build cache export to ${ref}`);
  };
}

function safeRegistryOf(ref: string): string | undefined {
  try {
    return registryOfRef(ref);
  } catch {
    return undefined;
  }
}

function registryFailure(name: string, ref: string, detail: string, doing: string, refused: string): BuildError | undefined {
  const host = safeRegistryOf(ref);
  if (host === undefined) return undefined;
  if (isTlsFailure(detail)) {
    return new BuildError("REGISTRY_TLS", `target "${name}": the registry ${host} could not be reached securely to ${doing} (${detail})`, { context: { target: name }, hint: tlsHint(host) });
  }
  switch (classifyRegistryFailure(detail)) {
    case "unauthorized":
      return new BuildError("REGISTRY_UNAUTHORIZED", `target "${name}": the registry ${host} ${refused}: wrong or missing credentials (${detail})`, { context: { target: name }, hint: loginHint(host) });
    case "unreachable":
      return new BuildError("REGISTRY_UNREACHABLE", `target "${name}": the registry ${host} could not be reached to ${doing} (${detail})`, {
        context: { target: name },
        hint: `check that the registry runs and that the daemon reaches ${host} (the daemon pushes, not brewkit; a registry on this machine's loopback is reached only by a daemon on this machine)`,
      });
    default:
      return undefined;
  }
}

/**
 * A failed image lookup, located: the lookup happens before any op is solved, so the
 * daemon's error cannot carry the config's lines; it names the first target (in the
 * plan's order) whose base is the image, as BuildKit's Dockerfile frontend names the
 * `FROM` line of an image it could not resolve.
 */
export function locatedImageFailure(plan: Plan, sources: ReadonlyMap<string, ConfigSource>, err: unknown): unknown {
  if (!(err instanceof ImageLookupError)) return err;
  const users = everyPlannedTarget(plan).filter((t) => t.base.kind === "image" && normalizeImageRef(t.base.ref) === err.ref);
  const t = users.find((u) => u.definedAt) ?? users[0];
  if (!t) return err;
  const at = t.definedAt;
  const file = at ? (sources.get(at.file)?.name ?? at.file) : undefined;
  const where = at ? `${file}:${at.line}: ` : "";
  const more = users.length > 1 ? ` (and ${users.length - 1} more)` : "";
  return new ImageLookupError(err.ref, err.code, `${where}target "${t.name}"${more}, field "from": ${err.message}`, {
    hint: err.hint,
    context: { target: t.name, field: "from", ...(at ? { file, line: at.line } : {}) },
    cause: err,
  });
}
