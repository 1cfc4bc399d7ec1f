import { existsSync } from "node:fs";
import { parseDaemonAddress, type TlsOptions } from "../client/address.ts";
import { ControlClient } from "../client/control.ts";
import { LocalDaemon, requireStepNetwork } from "../daemon/local-daemon.ts";
import { defaultDaemonPaths } from "../daemon/paths.ts";
import { assertDaemonPrivate } from "../daemon/privacy.ts";
import { loadRegistrySettings } from "../registry/user-registries.ts";
import { userConfigPath } from "../secrets/config-file.ts";
import { DaemonError } from "../errors.ts";
import type { Platform } from "../llb/index.ts";
import { trace } from "../trace.ts";

/** brewkit's own daemon (in `paths`), configured with the registries of the user config file. */
export function ownDaemon(paths = defaultDaemonPaths()): LocalDaemon {
  return new LocalDaemon(paths, [], true, () => loadRegistrySettings(userConfigPath()));
}

/** A connected daemon and the platform its default worker builds for. */
export interface Connection {
  control: ControlClient;
  platform: Platform;
}

/** Global CLI options that select and secure the daemon connection. */
export interface ConnectFlags {
  addr?: string;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  tlsservername?: string;
}

/** TLS settings from flags, falling back to BUILDKIT_TLS_* environment variables. */
export function tlsFromFlags(flags: ConnectFlags, env: NodeJS.ProcessEnv = process.env): TlsOptions {
  return {
    caCert: flags.tlscacert ?? (env.BUILDKIT_TLS_CA_CERT || undefined),
    cert: flags.tlscert ?? (env.BUILDKIT_TLS_CERT || undefined),
    key: flags.tlskey ?? (env.BUILDKIT_TLS_KEY || undefined),
    serverName: flags.tlsservername ?? (env.BUILDKIT_TLS_SERVER_NAME || undefined),
  };
}

/** Options of `connect`. */
export interface ConnectOptions {
  addr?: string;
  tls?: TlsOptions;
  /** Hears about a daemon that brewkit started, and warnings about brewkit's own daemon. */
  log?: (line: string) => void;
}

/**
 * Which daemon to use: `--addr`, else BUILDKIT_HOST, else brewkit's managed local daemon,
 * started when it does not answer. Asking for the workers (for the platform) is the
 * first request, and for the local daemon also the check that it runs.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  return (await connectIfUp(options)) ?? connectStartingLocalDaemon(options);
}

/** What `connect` does when `connectIfUp` found no daemon: starts brewkit's own, then connects to it. */
export async function connectStartingLocalDaemon(options: Pick<ConnectOptions, "log">): Promise<Connection> {
  const daemon = ownDaemon();
  const { started } = await daemon.start();
  if (started) options.log?.(`started buildkitd (${daemon.address})`);
  return handshake(new ControlClient(parseDaemonAddress(daemon.address, undefined, "brewkit")), undefined, daemon, options.log);
}

/**
 * Like `connect`, but never starts brewkit's own daemon: undefined when it does not
 * answer, or when `signal` aborts the attempt. An explicit address that does not answer
 * is an error, as with `connect`.
 */
export async function connectIfUp(options: ConnectOptions, signal?: AbortSignal): Promise<Connection | undefined> {
  const explicit = (options.addr ?? process.env.BUILDKIT_HOST) || undefined;
  const local = explicit ? undefined : ownDaemon();
  if (local && !existsSync(local.paths.socket)) return undefined;
  // A socket that others could reach is refused, not asked whether it answers.
  if (local) assertDaemonPrivate(local.paths);
  const address = explicit ? parseDaemonAddress(explicit, options.tls, options.addr ? "--addr" : "BUILDKIT_HOST") : parseDaemonAddress(local!.address, undefined, "brewkit");
  const control = new ControlClient(address);
  const abandon = () => control.close();
  signal?.addEventListener("abort", abandon, { once: true });
  try {
    return await handshake(control, local ? localAnswerMs : undefined, local, options.log);
  } catch (err) {
    if (err instanceof DaemonError && err.code === "DAEMON_HOST_NETWORK") throw err;
    if (signal?.aborted || local) return undefined;
    throw err;
  } finally {
    signal?.removeEventListener("abort", abandon);
  }
}

// A running local daemon answers within this; past it, it is treated as not running.
const localAnswerMs = 1_000;

/**
 * Asks for the workers; for brewkit's own daemon (`local`), also checks that steps get
 * their own network, or tells `log` (once per start of the daemon) that they share the host's.
 */
async function handshake(control: ControlClient, timeoutMs?: number, local?: LocalDaemon, log?: (line: string) => void): Promise<Connection> {
  trace("first-request");
  try {
    const workers = await control.listWorkers(timeoutMs);
    if (local) {
      requireStepNetwork(workers[0], local);
      const warning = log ? local.sharedNetworkWarning() : undefined;
      if (warning) log!(warning);
    }
    const first = workers[0]?.platforms?.[0];
    const architecture = first?.Architecture || "amd64";
    // The first platform is the worker's native one; keep its variant only where it selects an ABI (arm/v7).
    const variant = architecture === "arm" && first?.Variant ? { Variant: first.Variant } : {};
    const platform: Platform = { OS: first?.OS || "linux", Architecture: architecture, ...variant };
    return { control, platform };
  } catch (err) {
    control.close();
    throw err;
  }
}
