import { shellInTarget } from "../build/shell.ts";
import { loadSecretStore } from "../secrets/index.ts";
import { newId } from "../session/ids.ts";
import { connect, tlsFromFlags, type ConnectFlags } from "./connect.ts";
import { progressOutput } from "./progress-mode.ts";
import { loadProject, planProject } from "./project.ts";
import { outputRedactor } from "./redacted-output.ts";
import { flagList } from "./run-command.ts";
import { projectSharedKey } from "./shared-key.ts";
import { processTerminal, requireTerminal, shellArgv } from "./terminal.ts";

/** Options of `brewkit shell`. */
export interface ShellCommandOptions extends ConnectFlags {
  config?: string;
  progress?: string;
  /** The shell to run (default `/bin/sh`). */
  shell?: string;
  /** `--secret` values. */
  secret?: string | string[];
  /** `--ssh` values. */
  ssh?: string | string[];
}

/**
 * `brewkit shell <target>`: builds the target (nothing is exported) and opens a shell
 * on its result, with the env, workdir, user, cache mounts, secrets and ssh of its
 * commands. Exits with the shell's exit code.
 */
export async function shellCommand(name: string, options: ShellCommandOptions): Promise<number> {
  requireTerminal("brewkit shell");
  const shell = shellArgv(options.shell);
  const plan = planProject(await loadProject(options), [name]);
  const target = plan.requested[0] ?? name;
  const secrets = await loadSecretStore({ flags: flagList(options.secret), redactor: outputRedactor });
  const { control, platform } = await connect({ addr: options.addr, tls: tlsFromFlags(options), log: (line) => process.stderr.write(`${line}\n`) });
  const progress = progressOutput(options.progress);
  try {
    const exit = await shellInTarget(control, plan, target, {
      platform,
      sharedKey: projectSharedKey(plan.projectDir),
      runId: newId(),
      secrets,
      sshFlags: flagList(options.ssh),
      onEvent: progress.onEvent,
      onStatus: progress.onStatus,
      onWarning: progress.onWarning,
      onReady: () => progress.finish(),
      shell,
      terminal: processTerminal(),
    }).finally(() => progress.finish());
    if (exit.error && !/^exit code: \d+$/.test(exit.error)) process.stderr.write(`the shell ended: ${exit.error}\n`);
    return exit.code;
  } finally {
    control.close();
  }
}
