import { prepareBuild } from "../build/index.ts";
import { UserInputError } from "../errors.ts";
import { definitionToJSON } from "../llb/index.ts";
import type { Pb_Definition } from "../proto/generated.ts";
import { codecFor } from "../proto/registry.ts";
import { newId } from "../session/ids.ts";
import { connect, tlsFromFlags, type ConnectFlags } from "./connect.ts";
import { loadProject, planProject } from "./project.ts";
import { projectSharedKey } from "./shared-key.ts";

/**
 * `brewkit definition <target>`: the LLB that `run` sends for the target's build, as
 * JSON. Base images and variables are resolved on the daemon first, as in `run`;
 * secret values never appear (only their ids).
 */
export async function definitionCommand(name: string, options: ConnectFlags & { config?: string; format?: string }): Promise<number> {
  const format = options.format ?? "json";
  if (format !== "json" && format !== "pb") throw new UserInputError("DEFINITION_FORMAT", `unknown definition format "${format}"`, { hint: "use --format json or --format pb" });
  const project = await loadProject(options);
  const plan = planProject(project, [name]);
  const target = plan.requested[0] ?? name;
  const { control, platform } = await connect({ addr: options.addr, tls: tlsFromFlags(options) });
  try {
    // The project's key instead of a per-run id on local sources: the same config prints the same definition.
    const sharedKey = projectSharedKey(plan.projectDir);
    const prepared = await prepareBuild(control, { ...plan, waves: [[target]] }, { platform, sharedKey, runId: newId(), localUniqueId: sharedKey });
    const build = prepared.waves[0]![0]!.build;
    if (format === "pb") {
      // The bytes `buildctl build` reads from stdin: the first (usually only) Solve of the target.
      process.stdout.write(codecFor<Pb_Definition>("pb.Definition").encode(build[0]!.definition));
      return 0;
    }
    // One definition per output of the target; most targets have one.
    const json = build.map((job) => definitionToJSON(job.definition));
    process.stdout.write(`${JSON.stringify(json.length === 1 ? json[0] : json, null, 2)}\n`);
    return 0;
  } finally {
    control.close();
  }
}
