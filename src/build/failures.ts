import type { CollectedOutput, ConfigSource } from "../compile/index.ts";
import { BuildError } from "../errors.ts";
import { normalizeImageRef } from "../llb/index.ts";
import { everyPlannedTarget, type Plan } from "../plan/index.ts";
import type { VertexState } from "../progress/index.ts";
import { ImageLookupError } from "../resolve/index.ts";

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
