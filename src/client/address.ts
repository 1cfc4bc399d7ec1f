import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import net from "node:net";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { UserInputError, type ErrorCode } from "../errors.ts";

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

/** Who chose the daemon: the --addr flag, the BUILDKIT_HOST variable, or brewkit (its own daemon). */
export type AddressOrigin = "--addr" | "BUILDKIT_HOST" | "brewkit";

/** A parsed daemon address, ready for an HTTP/2 connection. */
export interface DaemonAddress {
  /** The address as the user wrote it. */
  readonly raw: string;
  /** Where the address came from, for errors that tell how to fix it. */
  readonly origin: AddressOrigin;
  /** The TLS files given for it, if any. */
  readonly tls: TlsOptions | undefined;
  /** Where it points, as gRPC names targets: `unix:///path` or `host:port`. */
  readonly target: string;
  /** The URL to connect to: `http://` (unix sockets, plain tcp) or `https://` (TLS). */
  readonly authority: string;
  /** How to connect: the unix socket, or the TLS material and the name to verify. */
  readonly connectOptions: SecureClientSessionOptions;
}

/** Parses `unix:///path.sock` or `tcp://host:port` into a connection target. */
export function parseDaemonAddress(raw: string, tls: TlsOptions = {}, origin: AddressOrigin = "--addr"): DaemonAddress {
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
    return { raw, origin, tls: undefined, target: `unix://${socketPath}`, authority: "http://localhost", connectOptions: { createConnection: () => net.connect(socketPath) } };
  }
  if (url.protocol === "tcp:") {
    if (!url.hostname || !url.port) {
      throw new UserInputError("ADDR_INVALID", `daemon address "${raw}" needs a host and a port`, { hint: fixHint });
    }
    const target = `${url.hostname}:${url.port}`;
    const useTls = tls.caCert !== undefined || tls.cert !== undefined;
    if (!useTls) return { raw, origin, tls: undefined, target, authority: `http://${url.host}`, connectOptions: {} };
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
    checkTlsFiles(tls, connectOptions);
    if (tls.serverName) connectOptions.servername = tls.serverName;
    return { raw, origin, tls, target, authority: `https://${url.host}`, connectOptions };
  }
  throw new UserInputError("ADDR_SCHEME", `unsupported daemon address scheme "${url.protocol}" in "${raw}"`, { hint: fixHint });
}

// OpenSSL reads the files only when connecting, and its errors ("error:05800074:x509
// certificate routines::key values mismatch") name no file: each is tried here alone.
function checkTlsFiles(tls: TlsOptions, options: SecureClientSessionOptions): void {
  const attempt = (what: SecureContextOptions, code: ErrorCode, problem: (message: string) => string, hint: string) => {
    try {
      createSecureContext(what);
    } catch (err) {
      // "error:0480006C:PEM routines::no start line": the reason, without OpenSSL's codes.
      const message = (err as Error).message;
      throw new UserInputError(code, problem(/^error:[0-9A-F]+:[^:]*:[^:]*:(.+)$/i.exec(message)?.[1] ?? message), { hint, cause: err });
    }
  };
  const pemHint = "pass PEM files (text that starts with -----BEGIN ...-----), as made by openssl";
  if (options.ca && !options.ca.toString("latin1").includes("-----BEGIN CERTIFICATE-----")) {
    throw new UserInputError("TLS_FILE", `the CA certificate ${tls.caCert} holds no PEM certificate`, { hint: pemHint });
  }
  if (options.ca) attempt({ ca: options.ca }, "TLS_FILE", (m) => `the CA certificate ${tls.caCert} cannot be used: ${m}`, pemHint);
  if (options.cert) attempt({ cert: options.cert }, "TLS_FILE", (m) => `the client certificate ${tls.cert} cannot be used: ${m}`, pemHint);
  if (options.key) attempt({ key: options.key }, "TLS_FILE", (m) => `the client key ${tls.key} cannot be used: ${m}`, pemHint);
  if (options.cert && options.key) {
    attempt({ cert: options.cert, key: options.key }, "TLS_KEY_MISMATCH", () => `the client key ${tls.key} does not belong to the client certificate ${tls.cert}`, "pass the key that was made with the certificate (--tlscert and --tlskey, or BUILDKIT_TLS_CERT and BUILDKIT_TLS_KEY)");
  }
}
