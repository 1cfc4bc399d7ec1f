import { cac } from "cac";
import { BrewkitError } from "../errors.ts";
import { trace } from "../trace.ts";
import { signalExitCode } from "./signals.ts";
import { outputRedactor, redactWrites } from "./redacted-output.ts";
import { usageError } from "./usage-error.ts";
import { version } from "./version.ts";

process.once("exit", () => trace("exit"));
// Secret values never reach the terminal or a log, whoever prints them (errors and --debug stacks included).
redactWrites(process.stdout, outputRedactor);
redactWrites(process.stderr, outputRedactor);

// Each command loads its own module graph only when it runs, so `--help` and a
// command's start-up never pay for the others.
const cli = cac("brewkit");

cli.option("--config <file>", "Config file (default: nearest brewkit.config.ts)");
cli.option("--addr <address>", "BuildKit daemon address, unix:///path.sock or tcp://host:port (default: $BUILDKIT_HOST, else brewkit's own daemon)");
cli.option("--tlscacert <file>", "CA certificate of a tcp:// daemon (enables TLS)");
cli.option("--tlscert <file>", "Client certificate for a tcp:// daemon (mutual TLS)");
cli.option("--tlskey <file>", "Client key for a tcp:// daemon (mutual TLS)");
cli.option("--tlsservername <name>", "Server name expected in the daemon's certificate");
cli.option("--debug", "Print stack traces of errors");

const run = cli
  .command("run [...targets]", "Build targets (default: the config's default export, or `all`) and write their outputs")
  .option("--progress <mode>", "Progress output: auto (tty on a terminal, else plain), tty, plain, rawjson or quiet", { default: "auto" })
  .option("--metadata-file <file>", "Write a JSON record of the run (steps, cache hits, transfers) to <file>")
  .option("--secret <spec>", "Secret value: id=NAME,env=VARIABLE or id=NAME,src=FILE (repeatable)")
  .option("--ssh <spec>", "SSH agent to forward: default, or ID=SOCKET (repeatable; default uses SSH_AUTH_SOCK)")
  .option("--cache-to <spec>", "Export the build cache, buildx syntax: type=registry,ref=REF[,mode=max], type=inline or type=local,dest=DIR (repeatable; replaces the config's buildCache)")
  .option("--cache-from <spec>", "Import build cache: type=registry,ref=REF, type=local,src=DIR, or just REF (repeatable; replaces the config's buildCache)")
  .option("--watch", "Keep watching the inputs and rebuild on changes")
  .option("-i, --interactive", "When a command fails, open a shell in its container (its files, mounts, env, workdir and user as it left them); needs a terminal")
  .option("--shell <cmd>", "The shell --interactive opens (default: /bin/sh)")
  .example("brewkit run build")
  .example("brewkit run -i test")
  .action(async (targets: string[], options) => (await import("./run-command.ts")).runCommand(targets, withoutCacheFlag(options)));

const watch = cli
  .command("watch [...targets]", "Build, then rebuild whenever a copied file or the config changes (Ctrl-C to stop)")
  .option("--progress <mode>", "Progress output: auto, tty, plain, rawjson or quiet", { default: "auto" })
  .option("--secret <spec>", "Secret value: id=NAME,env=VARIABLE or id=NAME,src=FILE (repeatable)")
  .option("--ssh <spec>", "SSH agent to forward: default, or ID=SOCKET (repeatable)")
  .option("-i, --interactive", "When a command fails, open a shell in its container; needs a terminal")
  .option("--shell <cmd>", "The shell --interactive opens (default: /bin/sh)")
  .option("--cache-to <spec>", "Export the build cache after each build, buildx syntax: type=registry,ref=REF[,mode=max], type=inline or type=local,dest=DIR (repeatable; replaces the config's buildCache)")
  .option("--cache-from <spec>", "Import build cache: type=registry,ref=REF, type=local,src=DIR, or just REF (repeatable; replaces the config's buildCache)")
  .action(async (targets: string[], options) => (await import("./watch-command.ts")).watchCommand(targets, withoutCacheFlag(options)));

cli
  .command("shell <target>", "Build a target and open a shell on its result, with its commands' env, workdir, user, caches, secrets and ssh; needs a terminal")
  .option("--shell <cmd>", "The shell to run (default: /bin/sh)")
  .option("--progress <mode>", "Progress output of the build: auto, tty, plain, rawjson or quiet", { default: "auto" })
  .option("--secret <spec>", "Secret value: id=NAME,env=VARIABLE or id=NAME,src=FILE (repeatable)")
  .option("--ssh <spec>", "SSH agent to forward: default, or ID=SOCKET (repeatable)")
  .action(async (target: string, options) => (await import("./shell-command.ts")).shellCommand(target, options));

cli
  .command("definition <target>", "Print the LLB definition of a target's build (JSON, or protobuf bytes for `buildctl build`)")
  .option("--format <format>", "json or pb", { default: "json" })
  .action(async (target: string, options) => (await import("./definition-command.ts")).definitionCommand(target, options));

cli.command("targets", "List the targets of the config").action(async (options) => (await import("./targets-command.ts")).targetsCommand(options));

cli
  .command("check", "Typecheck the config and validate every target, without building")
  .action(async (options) => (await import("./check.ts")).checkCommand(options));

cli
  .command("daemon <action>", "Manage brewkit's local buildkitd: install, start, stop, status, logs")
  .option("--lines <n>", "Log lines to print (logs)", { default: 50 })
  .action(async (action: string, options) => (await import("./daemon-command.ts")).daemonCommand(action, options));

cli
  .command("cache <action> [id] [dir]", "The daemon's cache: `cache du`, `cache prune [--all]`, `cache export <id> <dir>` (a cache mount to a host folder), `cache import <id> <dir>`")
  .option("--all", "prune: remove every unused record")
  .option("--image <ref>", "Image that runs the copy; it needs sh and cp (default: this machine's static busybox, so no registry is needed)")
  .option("--target <name>", "Run the copy in this target of the config (it needs sh and cp)")
  .option("--progress <mode>", "Progress output: auto, plain or quiet", { default: "auto" })
  .action(async (action: string, id: string | undefined, dir: string | undefined, options) => (await import("./cache-command.ts")).cacheCommand(action, id, dir, options));

cli
  .command("init [template]", "Write a working brewkit.config.ts project from a template (default: shell)")
  .option("--dir <dir>", "Directory to write into (default: the current one)")
  .action(async (template: string | undefined, options) => (await import("./init-command.ts")).initCommand(template, options));

cli
  .command("graph [target]", "Print what a target (default: the default target) is built from")
  .option("--format <format>", "text or mermaid", { default: "text" })
  .action(async (target: string | undefined, options) => (await import("./graph-command.ts")).graphCommand(target, options));

noCacheOption(run, "Run every step anew instead of taking it from the build cache (what it makes still goes into the cache)");
noCacheOption(watch, "Run every step anew on every build instead of taking it from the build cache");

// `--no-cache`, without the "(default: true)" the parser gives a negated flag in the help.
function noCacheOption(command: ReturnType<typeof cli.command>, description: string): void {
  command.option("--no-cache", description);
  delete command.options.at(-1)!.config.default;
}

// The parser files `--no-cache` under `cache`, a name the run's own build cache options
// use: it is handed on as `ignoreCache`.
function withoutCacheFlag<T extends { cache?: unknown }>(options: T): Omit<T, "cache"> & { ignoreCache: boolean } {
  const { cache, ...rest } = options;
  return { ...rest, ignoreCache: cache === false };
}

cli.help();
cli.version(version);

async function report(err: unknown, debug: boolean): Promise<number> {
  if (err instanceof BrewkitError) {
    process.stderr.write(`error: ${err.message}\n`);
    // A run the user stopped needs no fix.
    if (err.hint && err.code !== "CANCELLED") process.stderr.write(`hint: ${err.hint}\n`);
    if (debug) {
      // The stable code, for scripts and bug reports: see src/error-codes.ts.
      process.stderr.write(`code: ${err.code}\n${err.stack}\n`);
      // Loaded only here: decoding the daemon's details needs the protobuf schema.
      const { errorDetailsOf } = await import("../client/error-details.ts");
      for (const stack of errorDetailsOf(err)?.stacks ?? []) process.stderr.write(`${stack}\n`);
    }
    return err.code === "CANCELLED" ? (signalExitCode() ?? 130) : 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  const usage = err instanceof Error && err.name === "CACError" ? usageError(message, process.argv.slice(2), cli.matchedCommand?.name) : undefined;
  if (usage) {
    process.stderr.write(`error: ${usage.message}\nhint: ${usage.hint}\n`);
    return 1;
  }
  process.stderr.write(`error: ${message}\n`);
  if (debug) process.stderr.write(`${(err as Error)?.stack ?? ""}\n`);
  else process.stderr.write("hint: run again with --debug for details\n");
  return 1;
}

// No top-level await: the CLI is bundled as a CommonJS script (see scripts/build.ts).
async function main(): Promise<void> {
  try {
    cli.parse(process.argv, { run: false });
    if (!cli.matchedCommand && cli.args.length > 0) {
      process.stderr.write(`error: unknown command "${cli.args[0]}"\nhint: run \`brewkit --help\` to list the commands\n`);
      process.exitCode = 1;
    } else if (!cli.matchedCommand && !cli.options.help && !cli.options.version) {
      // `brewkit --bogus`: an unknown option is an error even where no command runs.
      cli.globalCommand.checkUnknownOptions();
      cli.outputHelp();
    } else {
      const code = await cli.runMatchedCommand();
      if (typeof code === "number") process.exitCode = code;
    }
  } catch (err) {
    process.exitCode = await report(err, Boolean(cli.options.debug));
  }
}

void main();
