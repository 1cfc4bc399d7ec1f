import { loadProject } from "./project.ts";

/** `brewkit targets`: names and descriptions. */
export async function targetsCommand(options: { config?: string }): Promise<number> {
  const { config } = await loadProject(options);
  const rows: Array<[string, string]> = [];
  for (const [name, t] of config.targets) if (name !== "default") rows.push([name, t.spec.description ?? ""]);
  for (const [name, g] of config.groups) if (name !== "default") rows.push([name, g.description ?? `group of ${g.targets.length} targets`]);
  rows.sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(0, ...rows.map(([n]) => n.length));
  for (const [name, description] of rows) {
    const marker = config.defaultName && (config.targets.get(config.defaultName) === config.targets.get(name) && config.targets.has(name) || config.defaultName === name) ? " (default)" : "";
    process.stdout.write(`${name.padEnd(width)}  ${description}${marker}\n`);
  }
  return 0;
}
