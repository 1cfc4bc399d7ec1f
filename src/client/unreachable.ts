import { DaemonError } from "../errors.ts";
import type { DaemonAddress } from "./address.ts";

/** A failed connection, said in words: what happened, and what to do about it. */
export interface ConnectionFailure {
  reason: string;
  hint: string;
}

const caFlag = "--tlscacert (or BUILDKIT_TLS_CA_CERT)";
const certFlags = "--tlscert and --tlskey (or BUILDKIT_TLS_CERT and BUILDKIT_TLS_KEY)";
const nameFlag = "--tlsservername (or BUILDKIT_TLS_SERVER_NAME)";

// What the daemon's TLS alerts mean for the client certificate (RFC 8446 §6.2), as
// OpenSSL spells them: "…:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:…".
const alerts: Array<[RegExp, ConnectionFailure]> = [
  [/alert certificate required/, { reason: "the daemon requires a client certificate, and none was given", hint: `pass a client certificate signed by the daemon's CA with ${certFlags}` }],
  [/alert unknown ca/, { reason: "the daemon does not trust the client certificate: no CA it accepts signed it", hint: `pass a client certificate signed by the CA the daemon trusts with ${certFlags}` }],
  [/alert certificate expired/, { reason: "the daemon refused the client certificate: it has expired", hint: `renew the client certificate given with ${certFlags}` }],
  [/alert certificate revoked/, { reason: "the daemon refused the client certificate: it was revoked", hint: `pass a valid client certificate with ${certFlags}` }],
  [/alert (?:bad certificate|unsupported certificate|certificate unknown)/, { reason: "the daemon refused the client certificate", hint: `pass a certificate made for client authentication (extendedKeyUsage clientAuth) and signed by the daemon's CA with ${certFlags}` }],
  [/alert (?:handshake failure|protocol version|insufficient security)/, { reason: "the daemon refused the TLS handshake: the two sides share no TLS version or cipher", hint: "check the TLS settings of the daemon" }],
];

/**
 * Explains why a connection to the daemon failed, from the error text Node and OpenSSL
 * give: the hint talks about the address the user chose (--addr, BUILDKIT_HOST), and
 * only about `brewkit daemon start` for brewkit's own daemon.
 */
export function explainConnectionFailure(details: string, address: DaemonAddress): ConnectionFailure {
  const usesTls = address.authority.startsWith("https:");
  const where = address.origin === "brewkit" ? "" : ` (${address.origin})`;
  const check = address.origin === "brewkit"
    ? "start it with `brewkit daemon start`, or point --addr / BUILDKIT_HOST at a running buildkitd"
    : `check that a buildkitd runs and listens at ${address.raw}${where}, or fix the address`;
  for (const [pattern, failure] of alerts) if (pattern.test(details)) return failure;
  if (/unable to verify the first certificate|unable to get local issuer certificate|self[- ]signed certificate|certificate signature failure/i.test(details)) {
    return {
      reason: `brewkit does not trust the daemon's certificate: ${address.tls?.caCert ? `the CA in ${address.tls.caCert} did not sign it` : "no CA was given, and no CA of this system signed it"}`,
      hint: `pass the CA certificate that signed the daemon's certificate with ${caFlag}`,
    };
  }
  if (/certificate has expired/i.test(details)) return { reason: "the daemon's certificate has expired", hint: "renew the daemon's certificate" };
  if (/certificate is not yet valid/i.test(details)) return { reason: "the daemon's certificate is not valid yet (is this machine's clock right?)", hint: "check the clocks of both machines, or the certificate's dates" };
  const altnames = /does not match certificate's altnames: (.*)/.exec(details);
  if (altnames) {
    return {
      reason: `the daemon's certificate is not issued for the name brewkit connected to (${altnames[1]!.trim().replace(/:$/, "")})`,
      hint: `pass the name the certificate is issued for with ${nameFlag}, or connect by that name`,
    };
  }
  if (usesTls && /wrong version number|packet length too long|unknown protocol|http request|record layer failure/i.test(details)) {
    return { reason: "the daemon does not speak TLS at this address", hint: "connect without TLS: leave out --tlscacert, --tlscert and --tlskey (and BUILDKIT_TLS_*)" };
  }
  const alert = /alert ([a-z ]+?)(?::|$)/.exec(details);
  if (alert) return { reason: `the daemon ended the TLS handshake with the alert "${alert[1]}"`, hint: `check the TLS files given with ${caFlag} and ${certFlags}` };
  if (/ECONNREFUSED/.test(details)) return { reason: "nothing accepts connections there (connection refused)", hint: check };
  if (/ENOENT/.test(details) && address.target.startsWith("unix://")) return { reason: `there is no socket at ${address.target.slice("unix://".length)}`, hint: check };
  if (/EACCES|EPERM/.test(details)) return { reason: "permission denied on the daemon's socket", hint: "run as a user allowed to use the socket (buildkitd --group gives a group access)" };
  if (/ENOTFOUND|EAI_AGAIN/.test(details)) return { reason: "the host name does not resolve", hint: `fix the host in ${address.raw}${where}` };
  if (/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/.test(details)) return { reason: "the host cannot be reached", hint: check };
  const maybeTls = !address.target.startsWith("unix://") && !usesTls;
  if (/closed the stream without a status/.test(details) && maybeTls) {
    return { reason: "the daemon closed the connection without answering", hint: `if it requires TLS, pass ${caFlag}, and ${certFlags} for a client certificate; otherwise ${check}` };
  }
  if (/^deadline exceeded$/.test(details)) {
    return { reason: "something accepted the connection but did not answer in time", hint: maybeTls ? `if it is a daemon that requires TLS, pass ${caFlag}; otherwise ${check}` : check };
  }
  // OpenSSL's own text ("80BC…:error:0A000418:SSL routines:ssl3_read_bytes:<reason>:../ssl/…") without its codes.
  const openssl = /error:[0-9A-F]+:[^:]*routines:[^:]*:([^:]+):/.exec(details);
  if (openssl) return { reason: `TLS failed: ${openssl[1]}`, hint: `check the TLS files given with ${caFlag} and ${certFlags}` };
  return { reason: details, hint: check };
}

/** The error for a daemon that could not be reached at `address`. */
export function unreachableError(address: DaemonAddress, details: string, cause: unknown): DaemonError {
  const { reason, hint } = explainConnectionFailure(details.replace(/^connection failed: /, ""), address);
  return new DaemonError("DAEMON_UNREACHABLE", `cannot reach the BuildKit daemon at ${address.raw}: ${reason}`, { hint, cause });
}
