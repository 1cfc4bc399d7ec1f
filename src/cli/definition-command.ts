import { compileTarget } from "../compile/index.ts";
import { definitionToJSON } from "../llb/index.ts";
import type { Platform } from "../llb/index.ts";
import { connect, tlsFromFlags, type ConnectFlags } from "./connect.ts";
import { loadProject, planProject } from "./project.ts";
import { projectSharedKey } from "./shared-key.ts";

/** `brewkit definition <target>`: the LLB that `run` would send, as JSON. */
export async function definitionCommand(name: string, options: ConnectFlags & { config?: string }): Promise<number> {
  const project = await loadProject(options);
  const plan = planProject(project, [name]);
  const target = plan.requested[0] ?? name;
  // The platform comes from the daemon when one is reachable, as in `run`.
  const platform = await connect({ addr: options.addr, tls: tlsFromFlags(options) })
    .then(({ control, platform }) => (control.close(), platform))
    .catch((): Platform => ({ OS: "linux", Architecture: process.arch === "arm64" ? "arm64" : "amd64" }));
  // The build phase: one definition per output of the target; most targets have one.
  const { build } = compileTarget(plan, target, { platform, localUniqueId: projectSharedKey(plan.projectDir) });
  const json = build.map((job) => definitionToJSON(job.definition));
  process.stdout.write(`${JSON.stringify(json.length === 1 ? json[0] : json, null, 2)}\n`);
  return 0;
}
