import { UserInputError } from "../errors.ts";
import { renderMermaidGraph, renderTextGraph } from "../graph/index.ts";
import { loadProject, planProject } from "./project.ts";

/** `brewkit graph [target]`: what a target is built from, as text or Mermaid. */
export async function graphCommand(name: string | undefined, options: { config?: string; format?: string }): Promise<number> {
  const format = options.format ?? "text";
  if (format !== "text" && format !== "mermaid") {
    throw new UserInputError("GRAPH_FORMAT", `unknown graph format "${format}"`, { hint: "use --format text or --format mermaid" });
  }
  const project = await loadProject(options);
  const plan = planProject(project, name === undefined ? [] : [name]);
  const out = format === "mermaid" ? renderMermaidGraph(plan) : plan.requested.map((root) => renderTextGraph(plan, root)).join("\n\n");
  process.stdout.write(`${out}\n`);
  return 0;
}
