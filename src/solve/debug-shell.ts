import type { ProcessExit } from "../client/container-process.ts";
import type { GatewayClient } from "../client/gateway.ts";
import type { Pb_ExecOp, Pb_Mount } from "../proto/generated.ts";
import { newId } from "../session/ids.ts";

/** The terminal a shell runs on: its size, its input, and where output goes. */
export interface ShellTerminal {
  /** Rows and columns now. */
  size(): { rows: number; cols: number };
  /** Starts passing input and size changes to the shell; the returned function stops it. */
  attach(shell: { write(data: Uint8Array): void; resize(rows: number, cols: number): void }): () => void;
  /** Shows the shell's output. */
  write(data: Uint8Array): void;
}

/** What a shell's container is made of: an exec op's settings and mounts, and the result each mount starts from. */
export interface ShellContainer {
  /** The exec op whose env, workdir, user, network, secrets and mounts the shell gets. */
  exec: Pb_ExecOp;
  /** Per mount of `exec`: the id of the result it mounts ("" for cache, secret, ssh and tmpfs mounts). */
  resultIds: readonly string[];
}

/**
 * Runs `shell` (argv) with a TTY in a container of a running gateway build, made of
 * `container`'s mounts (a failed command's, as it left them, or a target's result) with
 * the exec op's env, workdir, user, network, secrets and ssh, until the shell exits.
 * The container is released before this returns.
 */
export async function runShell(bridge: GatewayClient, container: ShellContainer, shell: readonly string[], terminal: ShellTerminal): Promise<ProcessExit> {
  const { exec, resultIds } = container;
  const meta = exec.meta ?? {};
  const id = newId();
  await bridge.newContainer({
    ContainerID: id,
    Mounts: (exec.mounts ?? []).map((m, i) => containerMount(m, resultIds[i] ?? "")),
    Network: exec.network ?? 0,
    ...(meta.hostname ? { hostname: meta.hostname } : {}),
    ...(meta.extraHosts?.length ? { extraHosts: meta.extraHosts } : {}),
  });
  try {
    const process = bridge.startProcess(
      {
        ContainerID: id,
        Meta: { args: [...shell], env: meta.env ?? [], cwd: meta.cwd || "/", user: meta.user ?? "", ...(meta.proxy_env ? { proxy_env: meta.proxy_env } : {}) },
        Fds: [0, 1, 2],
        Tty: true,
        Security: exec.security ?? 0,
        secretenv: exec.secretenv ?? [],
      },
      { stdout: (data) => terminal.write(data), stderr: (data) => terminal.write(data) },
    );
    const { rows, cols } = terminal.size();
    process.resize(rows, cols);
    const detach = terminal.attach(process);
    try {
      return await process.exited;
    } finally {
      detach();
    }
  } finally {
    await bridge.releaseContainer(id).catch(() => undefined);
  }
}

// A mount of the container: the op's own mount, its input replaced by a result.
function containerMount(m: Pb_Mount, resultId: string): Pb_Mount {
  const out: Pb_Mount = { dest: m.dest ?? "/", selector: m.selector ?? "", readonly: m.readonly ?? false, mountType: m.mountType ?? 0 };
  if (resultId) out.resultID = resultId;
  if (m.cacheOpt) out.cacheOpt = m.cacheOpt;
  if (m.secretOpt) out.secretOpt = m.secretOpt;
  if (m.SSHOpt) out.SSHOpt = m.SSHOpt;
  if (m.TmpfsOpt) out.TmpfsOpt = m.TmpfsOpt;
  return out;
}
