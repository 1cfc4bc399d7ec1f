import { existsSync } from "node:fs";
import path from "node:path";
import { UserInputError } from "../errors.ts";

/** The file name brewkit looks for. */
export const configFileName = "brewkit.config.ts";

/** The config to use: `explicit` if given, else the nearest brewkit.config.ts from `cwd` upwards. */
export function findConfigFile(cwd: string, explicit?: string): string {
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit);
    if (!existsSync(file)) {
      throw new UserInputError("CONFIG_NOT_FOUND", `config file ${file} does not exist`, { hint: "check the --config path" });
    }
    return file;
  }
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, configFileName);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new UserInputError("CONFIG_NOT_FOUND", `no ${configFileName} in ${cwd} or any parent directory`, {
    hint: `create one (see the README), or pass --config <file>`,
  });
}
