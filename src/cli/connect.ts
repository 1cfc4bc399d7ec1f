import { parseDaemonAddress, type TlsOptions } from "../client/address.ts";
import { ControlClient } from "../client/control.ts";
import { LocalDaemon } from "../daemon/local-daemon.ts";
import { defaultDaemonPaths } from "../daemon/paths.ts";
import type { Platform } from "../llb/index.ts";
import { trace } from "../trace.ts";

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

/** Which daemon to use: `--addr`, else BUILDKIT_HOST, else brewkit's managed local daemon. */
export async function connect(options: { addr?: string; tls?: TlsOptions; log?: (line: string) => void }): Promise<Connection> {
  const explicit = options.addr ?? process.env.BUILDKIT_HOST;
  let address: string;
  if (explicit) {
    address = explicit;
  } else {
    const daemon = new LocalDaemon(defaultDaemonPaths());
    const { started } = await daemon.start();
    if (started) options.log?.(`started buildkitd (${daemon.address})`);
    address = daemon.address;
  }
  const control = new ControlClient(parseDaemonAddress(address, options.tls));
  trace("first-request");
  try {
    const workers = await control.listWorkers();
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
