import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { daemonConfigToml } from "../../src/daemon/daemon-config.ts";
import type { BrewkitError } from "../../src/errors.ts";
import { registryCredentials } from "../../src/registry/credentials.ts";
import { registriesFromJson } from "../../src/registry/user-registries.ts";
import { authService } from "../../src/session/auth-service.ts";
import { codecFor } from "../../src/proto/registry.ts";

const dir = mkdtempSync(path.join(tmpdir(), "brewkit-credentials-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A `docker-credential-<name>` on PATH that answers from a table of server URL → [user, secret], as Docker's helpers do. */
function fakeHelper(name: string, logins: Record<string, [string, string]>): string {
  const bin = path.join(dir, `bin-${name}`);
  mkdirSync(bin, { recursive: true });
  const cases = Object.entries(logins).map(([url, [user, secret]]) => `  ${JSON.stringify(url)}) printf '%s' '{"ServerURL":"${url}","Username":"${user}","Secret":"${secret}"}' ;;`).join("\n");
  writeFileSync(path.join(bin, `docker-credential-${name}`), `#!/bin/sh\n[ "$1" = get ] || exit 2\nread -r url || true\ncase "$url" in\n${cases}\n  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac\n`);
  chmodSync(path.join(bin, `docker-credential-${name}`), 0o755);
  return bin;
}

function files(user: unknown, docker: unknown): { userConfigFile: string; dockerConfigFile: string } {
  const at = mkdtempSync(path.join(dir, "cfg-"));
  const userConfigFile = path.join(at, "config.json");
  const dockerConfigFile = path.join(at, "docker.json");
  if (user !== undefined) writeFileSync(userConfigFile, JSON.stringify(user));
  if (docker !== undefined) writeFileSync(dockerConfigFile, JSON.stringify(docker));
  return { userConfigFile, dockerConfigFile };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("registry logins", () => {
  it("come from Docker's auths, by host or by the host of a URL key, and Docker Hub under its config key", async () => {
    const creds = registryCredentials({
      ...files(undefined, { auths: { "127.0.0.1:5000": { auth: b64("alice:s3cret") }, "https://reg.example.com/v1/": { auth: b64("bob:pw:with:colons") }, "https://index.docker.io/v1/": { identitytoken: "hub-token" } } }),
      env: {},
    });
    expect(await creds.loginFor("127.0.0.1:5000")).toMatchObject({ username: "alice", secret: "s3cret" });
    expect(await creds.loginFor("reg.example.com")).toMatchObject({ username: "bob", secret: "pw:with:colons" });
    expect(await creds.loginFor("registry-1.docker.io")).toMatchObject({ username: "", secret: "hub-token" });
    expect(await creds.loginFor("other.example.com")).toBeUndefined();
  });

  it("come from a host's credHelper, else the credsStore, else auths", async () => {
    const helpers = [fakeHelper("scoped", { "reg.example.com": ["carol", "helper-pw"] }), fakeHelper("store", { "https://index.docker.io/v1/": ["<token>", "store-token"] })];
    const creds = registryCredentials({
      ...files(undefined, { credsStore: "store", credHelpers: { "reg.example.com": "scoped" }, auths: { "127.0.0.1:5000": { auth: b64("alice:s3cret") } } }),
      env: { PATH: `${helpers.join(path.delimiter)}:${process.env.PATH}` },
    });
    expect(await creds.loginFor("reg.example.com")).toMatchObject({ username: "carol", secret: "helper-pw", origin: "docker-credential-scoped" });
    expect(await creds.loginFor("registry-1.docker.io")).toMatchObject({ username: "", secret: "store-token" });
    // The store knows nothing of it: auths answers.
    expect(await creds.loginFor("127.0.0.1:5000")).toMatchObject({ username: "alice", secret: "s3cret" });
  });

  it("a missing helper is an error naming it and the registry", async () => {
    const creds = registryCredentials({ ...files(undefined, { credHelpers: { "reg.example.com": "absent" } }), env: { PATH: dir } });
    await expect(creds.loginFor("reg.example.com")).rejects.toThrow(/docker-credential-absent failed for reg\.example\.com: it is not installed/);
  });

  it("brewkit's user config comes first, its password read from the environment or a file, and every secret handed out is reported", async () => {
    const passwordFile = path.join(dir, "pw.txt");
    writeFileSync(passwordFile, "from-file\n");
    const seen: string[] = [];
    const creds = registryCredentials({
      ...files(
        { registries: { "127.0.0.1:5000": { username: "ci", password: { env: "REG_PW" } }, "docker.io": { username: "hubber", password: { file: passwordFile } } } },
        { auths: { "127.0.0.1:5000": { auth: b64("alice:s3cret") } } },
      ),
      env: { REG_PW: "from-env" },
      onSecret: (s) => seen.push(s),
    });
    expect(await creds.loginFor("127.0.0.1:5000")).toMatchObject({ username: "ci", secret: "from-env" });
    expect(await creds.loginFor("registry-1.docker.io")).toMatchObject({ username: "hubber", secret: "from-file" });
    expect(seen).toEqual(["from-env", "from-file"]);
  });

  it("an unset password variable is an error naming the variable, the file and the field", async () => {
    const paths = files({ registries: { "127.0.0.1:5000": { username: "ci", password: { env: "REG_PW" } } } }, undefined);
    const err = (await registryCredentials({ ...paths, env: {} }).loginFor("127.0.0.1:5000").catch((e: unknown) => e)) as BrewkitError;
    expect(err.code).toBe("REGISTRY_PASSWORD_MISSING");
    expect(err.message).toContain("$REG_PW");
    expect(err.message).toContain(`${paths.userConfigFile}: registries.127.0.0.1:5000.password`);
  });

  it("the session's Auth service answers Credentials with the login, an empty answer without one, and UNIMPLEMENTED for the token authority", async () => {
    const service = authService(registryCredentials({ ...files(undefined, { auths: { "127.0.0.1:5000": { auth: b64("alice:s3cret") } } }), env: {} }));
    const ask = async (host: string) => {
      const method = service.methods["/moby.filesync.v1.Auth/Credentials"]!;
      if (method.kind !== "unary") throw new Error("unary expected");
      const response = await method.handle(codecFor<{ Host: string }>("moby.filesync.v1.CredentialsRequest").encode({ Host: host }), undefined as never);
      return codecFor<{ Username?: string; Secret?: string }>("moby.filesync.v1.CredentialsResponse").decode(response);
    };
    expect(await ask("127.0.0.1:5000")).toMatchObject({ Username: "alice", Secret: "s3cret" });
    expect(await ask("nowhere.example.com")).toEqual({});
    const authority = service.methods["/moby.filesync.v1.Auth/GetTokenAuthority"]!;
    if (authority.kind !== "unary") throw new Error("unary expected");
    await expect(authority.handle(Buffer.alloc(0), undefined as never)).rejects.toMatchObject({ code: 12 });
  });
});

describe("registry settings of brewkit's user config", () => {
  it("are checked, each error naming the file and the field", () => {
    const bad: Array<[unknown, string]> = [
      [{ registries: { "https://reg.example.com": {} } }, "registries.https://reg.example.com"],
      [{ registries: { "reg.example.com": { username: "ci" } } }, `needs both "username" and "password"`],
      [{ registries: { "reg.example.com": { username: "ci", password: "plain" } } }, "no password in the file itself"],
      [{ registries: { "reg.example.com": { http: "yes" } } }, "registries.reg.example.com.http must be true or false"],
      [{ registries: { "reg.example.com": { cert: "x" } } }, "registries.reg.example.com.cert is not a known key"],
    ];
    for (const [json, message] of bad) expect(() => registriesFromJson(json, "/home/u/.brewkit/config.json")).toThrow(message);
  });

  it("go into the daemon's buildkitd.toml: a CA (TLS even on loopback), plain HTTP, merged into the user's own table", () => {
    const network = { bridgeName: "brewkit-abc", subnet: "172.21.3.0/24" };
    const registries = registriesFromJson({ registries: { "127.0.0.1:5443": { ca: ["/certs/ca.pem"] }, "10.0.0.5:5000": { http: true }, "docker.io": { username: "u", password: { env: "P" } } } }, "/home/u/.brewkit/config.json");
    const user = '[registry."10.0.0.5:5000"]\n  mirrors = ["m"]\n';
    const toml = daemonConfigToml(user, { bridge: network, registries });
    expect(toml).toContain('[registry."127.0.0.1:5443"]\n  ca = ["/certs/ca.pem"]\n  http = false\n');
    expect(toml.match(/\[registry\."10\.0\.0\.5:5000"\]/g)).toHaveLength(1);
    expect(toml).toContain('[registry."10.0.0.5:5000"]\n  http = true\n  mirrors = ["m"]');
    // A login is not a daemon setting.
    expect(toml).not.toContain("docker.io");
  });
});
