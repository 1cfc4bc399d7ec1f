import type { Plan, PlannedTarget } from "../plan/index.ts";

/** One edge of the target graph: `from` needs `to`. */
export interface GraphEdge {
  from: string;
  to: string;
  /** How: the base, a dependency built first, or a copy from the other target's result. */
  kind: "from" | "dependsOn" | "copy";
}

/** The edges between the planned targets, in plan order. */
export function targetEdges(plan: Plan): GraphEdge[] {
  const edges: GraphEdge[] = [];
  for (const t of plan.targets.values()) {
    if (t.base.kind === "target") edges.push({ from: t.name, to: t.base.name, kind: "from" });
    for (const dep of t.dependsOn) edges.push({ from: t.name, to: dep, kind: "dependsOn" });
    for (const c of t.copies) if (c.kind === "target") edges.push({ from: t.name, to: c.from, kind: "copy" });
  }
  return edges;
}

function baseLabel(t: PlannedTarget): string {
  return t.base.kind === "image" ? `image ${t.base.ref}` : t.base.kind === "scratch" ? "scratch" : `target ${t.base.name}`;
}

/** The graph below `root` as an indented tree; a target seen before is marked instead of repeated. */
export function renderTextGraph(plan: Plan, root: string): string {
  const lines: string[] = [];
  const edges = targetEdges(plan);
  const seen = new Set<string>();
  const walk = (name: string, prefix: string, via: string, last: boolean, top: boolean) => {
    const t = plan.targets.get(name);
    const branch = top ? "" : last ? "└─ " : "├─ ";
    const label = `${via}${name}${t && t.base.kind !== "target" ? ` (${baseLabel(t)})` : ""}`;
    if (seen.has(name)) {
      lines.push(`${prefix}${branch}${label} …`);
      return;
    }
    seen.add(name);
    lines.push(`${prefix}${branch}${label}`);
    const children = edges.filter((e) => e.from === name);
    const childPrefix = top ? "" : prefix + (last ? "   " : "│  ");
    children.forEach((e, i) => walk(e.to, childPrefix, e.kind === "from" ? "from " : e.kind === "dependsOn" ? "after " : "copies ", i === children.length - 1, false));
  };
  walk(root, "", "", true, true);
  return lines.join("\n");
}

function mermaidId(name: string): string {
  return `t_${name.replace(/[^A-Za-z0-9_]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`;
}

/** The whole planned graph as a Mermaid flowchart (arrows point at what a target needs). */
export function renderMermaidGraph(plan: Plan): string {
  const lines = ["flowchart TD"];
  for (const t of plan.targets.values()) {
    const extra = t.base.kind === "target" ? "" : `<br/><small>${baseLabel(t)}</small>`;
    lines.push(`  ${mermaidId(t.name)}["${t.name.replace(/"/g, "#quot;")}${extra}"]`);
  }
  const arrow = { from: "-->|from|", dependsOn: "-.->|after|", copy: "==>|copy|" } as const;
  for (const e of targetEdges(plan)) lines.push(`  ${mermaidId(e.from)} ${arrow[e.kind]} ${mermaidId(e.to)}`);
  return lines.join("\n");
}
