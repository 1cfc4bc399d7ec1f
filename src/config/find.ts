import { existsSync } from "node:fs";
import path from "node:path";
import { UserInputError } from "../errors.ts";

/** The file names brewkit looks for, in order: TypeScript first, plain JavaScript too. */
export const configFileNames = ["brewkit.config.ts", "brewkit.config.mts", "brewkit.config.js", "brewkit.config.mjs"];

/** The usual config file name. */
export const configFileName = configFileNames[0]!;

/** The config to use: `explicit` if given, else the nearest brewkit config from `cwd` upwards. */
export function findConfigFile(cwd: string, explicit?: string): string {
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) {
      throw new UserInputError("CONFIG_NOT_FOUND", `config file ${file} does not exist`, { hint: "check the --config path" });
    }
    return file;
  }
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    for (const name of configFileNames) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    if (path.dirname(dir) === dir) break;
  }
  throw new UserInputError("CONFIG_NOT_FOUND", `no ${configFileNames.join(", ")} in ${cwd} or any parent directory`, {
    hint: "create one with `brewkit init`, or pass --config <file>",
  });
}
