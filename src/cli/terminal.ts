import { UserInputError } from "../errors.ts";
import type { ShellTerminal } from "../solve/index.ts";

/** Fails unless stdin and stdout are a terminal, naming what needs one. */
export function requireTerminal(what: string, streams: { stdin: { isTTY?: boolean }; stdout: { isTTY?: boolean } } = process): void {
  if (streams.stdin.isTTY && streams.stdout.isTTY) return;
  throw new UserInputError("SHELL_NEEDS_TTY", `${what} needs a terminal, and ${streams.stdin.isTTY ? "stdout" : "stdin"} is not one`, {
    hint: "run it from an interactive terminal (not a pipe, a file or CI), or leave the option out",
  });
}

/** The shell's argv from `--shell`: words split on spaces (default `/bin/sh`). */
export function shellArgv(flag: string | undefined): string[] {
  const words = (flag ?? "/bin/sh").split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) throw new UserInputError("SHELL_INVALID", "--shell is empty", { hint: "name a shell, e.g. --shell /bin/bash" });
  return words;
}

/**
 * This process's terminal for a shell in a container: raw mode while attached (every
 * key, Ctrl-C included, goes to the shell, not to brewkit), window size changes passed
 * on, output written as it comes.
 */
export function processTerminal(stdin: NodeJS.ReadStream = process.stdin, stdout: NodeJS.WriteStream = process.stdout): ShellTerminal {
  return {
    size: () => ({ rows: stdout.rows || 24, cols: stdout.columns || 80 }),
    write: (data) => stdout.write(data),
    attach: (shell) => {
      const wasRaw = stdin.isRaw;
      stdin.setRawMode?.(true);
      const onData = (data: Buffer) => shell.write(data);
      const onResize = () => shell.resize(stdout.rows || 24, stdout.columns || 80);
      stdin.on("data", onData);
      stdout.on("resize", onResize);
      stdin.resume();
      return () => {
        stdin.off("data", onData);
        stdout.off("resize", onResize);
        stdin.setRawMode?.(wasRaw);
        stdin.pause();
      };
    },
  };
}
