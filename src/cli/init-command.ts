import { cpSync, existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../daemon/paths.ts";
import { UserInputError } from "../errors.ts";

/** Where the templates `brewkit init` offers live. */
export const templatesDir = path.join(packageRoot, "templates");

/** The names of the shipped templates. */
export function templateNames(): string[] {
  return readdirSync(templatesDir).filter((name) => statSync(path.join(templatesDir, name)).isDirectory()).sort();
}

function filesUnder(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(path.join(dir, entry.name), path.join(prefix, entry.name)) : [path.join(prefix, entry.name)],
  );
}

/** `brewkit init [template]`: writes a working project into the current directory; never overwrites a file. */
export async function initCommand(template: string | undefined, options: { dir?: string }): Promise<number> {
  const name = template ?? "shell";
  const names = templateNames();
  if (!names.includes(name)) {
    throw new UserInputError("UNKNOWN_TEMPLATE", `unknown template "${name}"`, { hint: `choose one of: ${names.join(", ")}` });
  }
  const source = path.join(templatesDir, name);
  const dest = path.resolve(options.dir ?? ".");
  const files = filesUnder(source);
  const taken = files.filter((f) => existsSync(path.join(dest, f)));
  if (taken.length > 0) {
    throw new UserInputError("INIT_WOULD_OVERWRITE", `${dest} already has ${taken.join(", ")}`, {
      hint: "run `brewkit init` in an empty directory, or move those files away first",
    });
  }
  cpSync(source, dest, { recursive: true, errorOnExist: true, force: false });
  process.stdout.write(`created a ${name} project in ${dest}:\n${files.map((f) => `  ${f}`).join("\n")}\n`);
  process.stdout.write("next: install brewkit in the project (npm install --save-dev brewkit), then run `brewkit run`\n");
  return 0;
}
