// Why a connection to the daemon failed, in words: from the error text Node and OpenSSL
// give (the texts below are the ones they gave against a real buildkitd), with a hint
// about the address the user chose.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseDaemonAddress } from "../../src/client/address.ts";
import { explainConnectionFailure, unreachableError } from "../../src/client/unreachable.ts";
import { BrewkitError } from "../../src/errors.ts";
import { makeCertificates } from "../support/tls.ts";

const tcp = parseDaemonAddress("tcp://127.0.0.1:1234", {}, "--addr");
const fromEnv = parseDaemonAddress("tcp://127.0.0.1:1234", {}, "BUILDKIT_HOST");
const own = parseDaemonAddress("unix:///home/u/.brewkit/daemon/buildkitd.sock", {}, "brewkit");
const socket = parseDaemonAddress("unix:///run/buildkit/buildkitd.sock", {}, "--addr");

describe("an unreachable daemon", () => {
  it("is explained in terms of the address the user gave, never with `brewkit daemon start`", () => {
    for (const [address, origin] of [[tcp, "--addr"], [fromEnv, "BUILDKIT_HOST"]] as const) {
      const err = unreachableError(address, "connection failed: connect ECONNREFUSED 127.0.0.1:1234", undefined);
      expect(err.message).toBe("cannot reach the BuildKit daemon at tcp://127.0.0.1:1234: nothing accepts connections there (connection refused)");
      expect(err.hint).toBe(`check that a buildkitd runs and listens at tcp://127.0.0.1:1234 (${origin}), or fix the address`);
      expect(err.hint).not.toContain("daemon start");
    }
    const missing = explainConnectionFailure("connect ENOENT /run/buildkit/buildkitd.sock", socket);
    expect(missing.reason).toBe("there is no socket at /run/buildkit/buildkitd.sock");
    expect(missing.hint).not.toContain("daemon start");
  });

  it("of brewkit's own is started with `brewkit daemon start`", () => {
    expect(explainConnectionFailure("connect ECONNREFUSED /home/u/.brewkit/daemon/buildkitd.sock", own).hint).toContain("brewkit daemon start");
  });

  it("says what else went wrong on the way", () => {
    expect(explainConnectionFailure("connect EACCES /run/buildkit/buildkitd.sock", socket).reason).toBe("permission denied on the daemon's socket");
    expect(explainConnectionFailure("getaddrinfo ENOTFOUND buildkitd.invalid", tcp).reason).toBe("the host name does not resolve");
    expect(explainConnectionFailure("the daemon closed the stream without a status", tcp).hint).toMatch(/^if it requires TLS, pass --tlscacert/);
    expect(explainConnectionFailure("deadline exceeded", tcp)).toEqual({ reason: "something accepted the connection but did not answer in time", hint: expect.stringContaining("--tlscacert") });
    expect(explainConnectionFailure("deadline exceeded", socket).hint).toBe("check that a buildkitd runs and listens at unix:///run/buildkit/buildkitd.sock (--addr), or fix the address");
  });
});

describe("TLS failures", () => {
  const tls = parseDaemonAddress("tcp://127.0.0.1:1234", {}, "--addr");
  // A TLS address as parseDaemonAddress makes it, without reading files.
  const secure = { ...tls, authority: "https://127.0.0.1:1234", tls: { caCert: "/certs/ca.pem" } };
  const alert = (name: string, number: number) => `80BCECCDA77F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 ${name}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number ${number}\n`;

  const cases: Array<[string, string, string]> = [
    [alert("alert certificate required", 116).replace("tlsv1", "tlsv13"), "the daemon requires a client certificate, and none was given", "--tlscert and --tlskey"],
    [alert("alert unknown ca", 48), "the daemon does not trust the client certificate: no CA it accepts signed it", "signed by the CA the daemon trusts"],
    [alert("alert bad certificate", 42), "the daemon refused the client certificate", "extendedKeyUsage clientAuth"],
    [alert("alert certificate expired", 45), "the daemon refused the client certificate: it has expired", "renew"],
    [alert("alert decrypt error", 51), 'the daemon ended the TLS handshake with the alert "decrypt error"', "--tlscacert"],
    ["unable to verify the first certificate", "brewkit does not trust the daemon's certificate: the CA in /certs/ca.pem did not sign it", "--tlscacert (or BUILDKIT_TLS_CA_CERT)"],
    ["self-signed certificate in certificate chain", "brewkit does not trust the daemon's certificate: the CA in /certs/ca.pem did not sign it", "--tlscacert"],
    ["Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: ", "the daemon's certificate is not issued for the name brewkit connected to (IP: 127.0.0.1 is not in the cert's list)", "--tlsservername"],
    ["C0B7E0F6:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:354:\n", "the daemon does not speak TLS at this address", "leave out --tlscacert"],
    ["C0B7E0F6:error:0A0000C6:SSL routines:tls_get_more_records:packet length too long:../ssl/record.c:1:\n", "the daemon does not speak TLS at this address", "leave out --tlscacert"],
    ["80:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem.c:1:\n", "TLS failed: certificate verify failed", "--tlscacert"],
  ];
  for (const [details, reason, hint] of cases) {
    it(`${details.slice(0, 60).trim()}… → ${reason}`, () => {
      const explained = explainConnectionFailure(details, secure);
      expect(explained.reason).toBe(reason);
      expect(explained.hint).toContain(hint);
      expect(`${explained.reason} ${explained.hint}`).not.toMatch(/SSL routines|error:0A|daemon start/);
    });
  }

  it("without a CA file, says that no CA of the system signed the daemon's certificate", () => {
    expect(explainConnectionFailure("unable to verify the first certificate", { ...secure, tls: {} }).reason).toBe("brewkit does not trust the daemon's certificate: no CA was given, and no CA of this system signed it");
  });
});

describe("TLS files", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "brewkit-tls-files-"));
  const errorOf = (fn: () => unknown): BrewkitError => {
    try {
      fn();
    } catch (err) {
      if (err instanceof BrewkitError) return err;
      throw err;
    }
    throw new Error("expected an error");
  };

  it("a key that does not belong to the certificate is named with both files", async () => {
    const one = await makeCertificates(mkdtempSync(path.join(dir, "one-")));
    const two = await makeCertificates(mkdtempSync(path.join(dir, "two-")));
    const err = errorOf(() => parseDaemonAddress("tcp://127.0.0.1:1", { caCert: one.caFile, cert: one.clientCertFile, key: two.clientKeyFile }));
    expect(err.code).toBe("TLS_KEY_MISMATCH");
    expect(err.message).toBe(`the client key ${two.clientKeyFile} does not belong to the client certificate ${one.clientCertFile}`);
    expect(err.message).not.toMatch(/error:|routines/);
    expect(parseDaemonAddress("tcp://127.0.0.1:1", { caCert: one.caFile, cert: one.clientCertFile, key: one.clientKeyFile }).tls).toEqual({ caCert: one.caFile, cert: one.clientCertFile, key: one.clientKeyFile });
  });

  it("a file that is not PEM is named", () => {
    const notPem = path.join(dir, "not.pem");
    writeFileSync(notPem, "hello\n");
    expect(errorOf(() => parseDaemonAddress("tcp://127.0.0.1:1", { caCert: notPem })).message).toBe(`the CA certificate ${notPem} holds no PEM certificate`);
    expect(errorOf(() => parseDaemonAddress("tcp://127.0.0.1:1", { cert: notPem, key: notPem })).message).toBe(`the client certificate ${notPem} cannot be used: no start line`);
  });
});
