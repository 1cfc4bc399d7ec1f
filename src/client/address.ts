import { readFileSync } from "node:fs";
import grpc from "@grpc/grpc-js";
import { UserInputError } from "../errors.ts";

/** TLS material for a tcp:// daemon (mutual TLS when a client cert is given). */
export interface TlsOptions {
  /** CA certificate (PEM file) that signed the daemon's certificate. */
  caCert?: string;
  /** Client certificate (PEM file) presented to the daemon. */
  cert?: string;
  /** Private key (PEM file) of the client certificate. */
  key?: string;
  /** Name to verify in the daemon's certificate, when it differs from the host. */
  serverName?: string;
}

/** A parsed daemon address, ready for a gRPC channel. */
export interface DaemonAddress {
  /** The address as the user wrote it. */
  readonly raw: string;
  /** gRPC target string. */
  readonly target: string;
  /** Channel credentials (insecure for unix sockets and plain tcp). */
  readonly credentials: grpc.ChannelCredentials;
  /** Extra channel options (e.g. TLS server-name override). */
  readonly channelOptions: grpc.ChannelOptions;
}

/** Parses `unix:///path.sock` or `tcp://host:port` into a gRPC target. */
export function parseDaemonAddress(raw: string, tls: TlsOptions = {}): DaemonAddress {
  const fixHint = "use unix:///path/to/buildkitd.sock or tcp://host:port (via --addr or BUILDKIT_HOST)";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserInputError("ADDR_INVALID", `daemon address "${raw}" is not a URL`, { hint: fixHint });
  }
  if (url.protocol === "unix:") {
    const socketPath = decodeURIComponent(url.pathname);
    if (!socketPath.startsWith("/")) {
      throw new UserInputError("ADDR_INVALID", `unix socket path in "${raw}" must be absolute`, { hint: fixHint });
    }
    return { raw, target: `unix://${socketPath}`, credentials: grpc.credentials.createInsecure(), channelOptions: {} };
  }
  if (url.protocol === "tcp:") {
    if (!url.hostname || !url.port) {
      throw new UserInputError("ADDR_INVALID", `daemon address "${raw}" needs a host and a port`, { hint: fixHint });
    }
    const target = `${url.hostname}:${url.port}`;
    const useTls = tls.caCert !== undefined || tls.cert !== undefined;
    if (!useTls) return { raw, target, credentials: grpc.credentials.createInsecure(), channelOptions: {} };
    const read = (file: string | undefined) => (file === undefined ? null : readFileSync(file));
    const credentials = grpc.credentials.createSsl(read(tls.caCert), read(tls.key), read(tls.cert));
    const channelOptions: grpc.ChannelOptions = tls.serverName ? { "grpc.ssl_target_name_override": tls.serverName } : {};
    return { raw, target, credentials, channelOptions };
  }
  throw new UserInputError("ADDR_SCHEME", `unsupported daemon address scheme "${url.protocol}" in "${raw}"`, { hint: fixHint });
}
