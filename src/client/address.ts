import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import net from "node:net";
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

/** A parsed daemon address, ready for an HTTP/2 connection. */
export interface DaemonAddress {
  /** The address as the user wrote it. */
  readonly raw: string;
  /** Where it points, as gRPC names targets: `unix:///path` or `host:port`. */
  readonly target: string;
  /** The URL to connect to: `http://` (unix sockets, plain tcp) or `https://` (TLS). */
  readonly authority: string;
  /** How to connect: the unix socket, or the TLS material and the name to verify. */
  readonly connectOptions: SecureClientSessionOptions;
}

/** Parses `unix:///path.sock` or `tcp://host:port` into a connection target. */
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
    // The authority a gRPC client sends for a unix socket.
    return { raw, target: `unix://${socketPath}`, authority: "http://localhost", connectOptions: { createConnection: () => net.connect(socketPath) } };
  }
  if (url.protocol === "tcp:") {
    if (!url.hostname || !url.port) {
      throw new UserInputError("ADDR_INVALID", `daemon address "${raw}" needs a host and a port`, { hint: fixHint });
    }
    const target = `${url.hostname}:${url.port}`;
    const useTls = tls.caCert !== undefined || tls.cert !== undefined;
    if (!useTls) return { raw, target, authority: `http://${url.host}`, connectOptions: {} };
    const read = (file: string | undefined, what: string) => {
      if (file === undefined) return undefined;
      try {
        return readFileSync(file);
      } catch (err) {
        throw new UserInputError("TLS_FILE", `cannot read the TLS ${what} ${file}: ${(err as Error).message}`, { hint: "check the --tlscacert, --tlscert and --tlskey paths (or BUILDKIT_TLS_*)" });
      }
    };
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      throw new UserInputError("TLS_INCOMPLETE", "a client certificate needs its key, and a key its certificate", { hint: "pass both --tlscert and --tlskey, or neither" });
    }
    // Without a CA file the system's certificate authorities verify the daemon.
    const connectOptions: SecureClientSessionOptions = { ca: read(tls.caCert, "CA certificate"), cert: read(tls.cert, "client certificate"), key: read(tls.key, "client key") };
    if (tls.serverName) connectOptions.servername = tls.serverName;
    return { raw, target, authority: `https://${url.host}`, connectOptions };
  }
  throw new UserInputError("ADDR_SCHEME", `unsupported daemon address scheme "${url.protocol}" in "${raw}"`, { hint: fixHint });
}
