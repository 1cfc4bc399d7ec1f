/** A mistake on the command line, said in terms of what the user typed, with the fix. */
export interface UsageError {
  message: string;
  hint: string;
}

/**
 * Rewrites an error of the command-line parser (`message`) for the command `command`
 * (undefined for none) and the arguments `args` the user gave: the parser names an
 * unknown option by its camel-cased key (`--fooBar` for `--foo-bar`, `--cache` for
 * `--no-cache`), which is not what was typed. Undefined for a message it does not know.
 */
export function usageError(message: string, args: readonly string[], command: string | undefined): UsageError | undefined {
  const hint = `run \`brewkit${command ? ` ${command}` : ""} --help\` for ${command ? "its" : "the"} usage and options`;
  const where = command ? ` for \`brewkit ${command}\`` : "";
  const unknown = /^Unknown option `(-{1,2})([^`]+)`$/.exec(message);
  if (unknown) return { message: `unknown option ${typedOption(unknown[1]!, unknown[2]!, args)}${where}`, hint };
  const missingValue = /^option `(--?[^\s`]+)([^`]*)` value is missing$/.exec(message);
  if (missingValue) return { message: `option ${missingValue[1]} needs a value (${missingValue[1]}${missingValue[2]})`, hint };
  const missingArgs = /^missing required args for command `([^`]+)`$/.exec(message);
  if (missingArgs) return { message: `missing arguments: the usage is \`brewkit ${missingArgs[1]}\``, hint };
  const unused = /^Unused args: (.+)$/.exec(message);
  if (unused) return { message: `unexpected arguments${where}: ${unused[1]}`, hint };
  return undefined;
}

/** The option as the user typed it, found among `args` by the key the parser made of it. */
function typedOption(dashes: string, key: string, args: readonly string[]): string {
  for (const arg of args) {
    if (arg === "--") break;
    if (!arg.startsWith("-")) continue;
    const name = arg.replace(/^-+/, "").split("=", 1)[0]!;
    if (name === key || camelCase(name) === key || (name.startsWith("no-") && camelCase(name.slice(3)) === key)) return arg.split("=", 1)[0]!;
  }
  return `${dashes}${key}`;
}

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
