import type { ProcessExit } from "../client/container-process.ts";
import type { ControlClient } from "../client/control.ts";
import { compileShell } from "../compile/index.ts";
import type { Plan } from "../plan/index.ts";
import type { Pb_Op } from "../proto/generated.ts";
import { codecFor } from "../proto/registry.ts";
import { runShell, type ShellTerminal } from "../solve/debug-shell.ts";
import { withGatewayBuild } from "../solve/gateway-build.ts";
import { prepareBuild, sessionServices, type BuildOptions } from "./index.ts";

/** Options of `shellInTarget`: a build's, and the shell with its terminal. */
export interface ShellOptions extends BuildOptions {
  /** The shell's argv, e.g. `["/bin/sh"]`. */
  shell: string[];
  terminal: ShellTerminal;
  /** Told once the result is built, right before the shell starts (e.g. to end a progress display). */
  onReady?: () => void;
}

/**
 * Builds target `name` and runs a shell in a container of its result, with the mounts,
 * env, workdir, user, network, secrets and ssh its commands get; resolves with the
 * shell's exit once it exited. The build stays open (on the daemon) while the shell runs.
 */
export async function shellInTarget(control: ControlClient, plan: Plan, name: string, options: ShellOptions): Promise<ProcessExit> {
  const services = await sessionServices(plan, options);
  const redactor = options.secrets.redactor;
  const prepared = await prepareBuild(control, { ...plan, waves: [] }, { ...options, services, redactor });
  const compiled = compileShell(plan, name, prepared.compileOptions, options.shell);
  // The step's exec op, just before the definition's terminator.
  const exec = codecFor<Pb_Op>("pb.Op").decode(compiled.step.def.at(-2)!).exec!;
  const listeners = { onEvent: options.onEvent, onStatus: options.onStatus, onWarning: options.onWarning, redactor };
  const build = { name, sharedKey: options.sharedKey, localDirs: compiled.localDirs, services, entitlements: compiled.requirements.entitlements, signal: options.signal, subject: `target "${name}"`, ...listeners };
  return withGatewayBuild(control, build, async (bridge) => {
    const result = await bridge.solve(compiled.result, { evaluate: true });
    // The root mount is the target's result (none for a target on scratch with no step); the others are the step's own.
    const resultIds = (exec.mounts ?? []).map((m) => (m.dest === "/" && (m.input ?? 0) === 0 ? result : ""));
    options.onReady?.();
    return runShell(bridge, { exec, resultIds }, options.shell, options.terminal);
  });
}
