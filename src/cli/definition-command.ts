import { prepareBuild } from "../build/index.ts";
import { definitionToJSON } from "../llb/index.ts";
import { newId } from "../session/ids.ts";
import { connect, tlsFromFlags, type ConnectFlags } from "./connect.ts";
import { loadProject, planProject } from "./project.ts";
import { projectSharedKey } from "./shared-key.ts";

/**
 * `brewkit definition <target>`: the LLB that `run` sends for the target's build, as
 * JSON. Base images and variables are resolved on the daemon first, as in `run`;
 * secret values never appear (only their ids).
 */
export async function definitionCommand(name: string, options: ConnectFlags & { config?: string }): Promise<number> {
  const project = await loadProject(options);
  const plan = planProject(project, [name]);
  const target = plan.requested[0] ?? name;
  const { control, platform } = await connect({ addr: options.addr, tls: tlsFromFlags(options) });
  try {
    const prepared = await prepareBuild(control, { ...plan, waves: [[target]] }, { platform, sharedKey: projectSharedKey(plan.projectDir), runId: newId() });
    const build = prepared.waves[0]![0]!.build;
    // One definition per output of the target; most targets have one.
    const json = build.map((job) => definitionToJSON(job.definition));
    process.stdout.write(`${JSON.stringify(json.length === 1 ? json[0] : json, null, 2)}\n`);
    return 0;
  } finally {
    control.close();
  }
}
