import { loadProject } from "./project.ts";

/** `brewkit targets`: names and descriptions; `(default)` marks what `brewkit run` builds. */
export async function targetsCommand(options: { config?: string }): Promise<number> {
  const { config } = await loadProject(options);
  const defaultValue = config.defaultName === undefined ? undefined : config.targets.get(config.defaultName) ?? config.groups.get(config.defaultName);
  const rows: Array<{ name: string; description: string; value: unknown }> = [];
  for (const [name, t] of config.targets) rows.push({ name, description: t.spec.description ?? "", value: t });
  for (const [name, g] of config.groups) rows.push({ name, description: g.description ?? `group of ${g.targets.length} targets`, value: g });
  // `default` is only listed when nothing else names the default value.
  const listed = rows.filter((r) => r.name !== "default" || !rows.some((o) => o.name !== "default" && o.value === r.value));
  listed.sort((a, b) => a.name.localeCompare(b.name));
  const width = Math.max(0, ...listed.map((r) => r.name.length));
  for (const { name, description, value } of listed) {
    const marker = value === defaultValue ? " (default)" : "";
    process.stdout.write(`${name.padEnd(width)}  ${description}${marker}`.trimEnd() + "\n");
  }
  return 0;
}
