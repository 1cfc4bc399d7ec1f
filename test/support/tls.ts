import { execFile } from "node:child_process";
import { mkdirSync, promises as fsp, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { LocalDaemon } from "../../src/daemon/local-daemon.ts";

const run = promisify(execFile);

/** PEM files of a test CA, a server certificate for `buildkitd.test` and a client certificate. */
export interface Certificates {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

/** Makes a CA and the certificates it signs in `dir`, with openssl (valid for a day). */
export async function makeCertificates(dir: string): Promise<Certificates> {
  const at = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => run("openssl", args);
  await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test ca", "-keyout", at("ca.key"), "-out", at("ca.pem"));
  for (const [name, cn, ext] of [
    ["server", "buildkitd.test", "subjectAltName=DNS:buildkitd.test"],
    ["client", "brewkit", "extendedKeyUsage=clientAuth"],
  ] as const) {
    await openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", at(`${name}.key`), "-out", at(`${name}.csr`));
    await fsp.writeFile(at(`${name}.ext`), `${ext}\n`);
    await openssl("x509", "-req", "-in", at(`${name}.csr`), "-CA", at("ca.pem"), "-CAkey", at("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", at(`${name}.ext`), "-out", at(`${name}.pem`));
  }
  return { caFile: at("ca.pem"), serverCertFile: at("server.pem"), serverKeyFile: at("server.key"), clientCertFile: at("client.pem"), clientKeyFile: at("client.key") };
}

/** A CA and a server certificate it signs for `127.0.0.1` (a registry on loopback), made with openssl in `dir`. */
export async function makeLoopbackCertificate(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  mkdirSync(dir, { recursive: true });
  const at = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => run("openssl", args);
  await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=registry test ca", "-keyout", at("ca.key"), "-out", at("ca.pem"));
  await openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", at("registry.key"), "-out", at("registry.csr"));
  await fsp.writeFile(at("registry.ext"), "subjectAltName=IP:127.0.0.1\n");
  await openssl("x509", "-req", "-in", at("registry.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", at("registry.ext"), "-out", at("registry.pem"));
  return { caFile: at("ca.pem"), certFile: at("registry.pem"), keyFile: at("registry.key") };
}

/** Starts `daemon` with mutual TLS on its tcp:// addresses (its unix socket stays plain) and no registry mirror. */
export async function startTlsDaemon(daemon: LocalDaemon, tls: Certificates): Promise<void> {
  mkdirSync(daemon.paths.dir, { recursive: true });
  writeFileSync(daemon.paths.configFile, `[grpc.tls]\n  cert = "${tls.serverCertFile}"\n  key = "${tls.serverKeyFile}"\n  ca = "${tls.caFile}"\n`);
  await daemon.start({ timeoutMs: 60_000 });
}
