import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { UserInputError } from "../errors.ts";
import { dockerHubConfigKey, hostnameOf, isDockerHub } from "./hosts.ts";

/** A login for a registry: a username and password, or (username empty) an identity token. */
export interface RegistryLogin {
  username: string;
  secret: string;
  /** Where it came from, for messages, e.g. `~/.docker/config.json` or `docker-credential-pass`. */
  origin: string;
}

/** The parts of Docker's config.json that hold logins. */
interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** Docker's client config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.DOCKER_CONFIG ? path.resolve(env.DOCKER_CONFIG) : path.join(homedir(), ".docker"), "config.json");
}

/** Reads Docker's config file; undefined when there is none. */
export async function readDockerConfig(file: string): Promise<DockerConfig | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UserInputError("DOCKER_CONFIG_UNREADABLE", `cannot read ${file}: ${(err as Error).message}`, { hint: "fix the file's permissions, or point DOCKER_CONFIG at another directory", context: { file } });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserInputError("DOCKER_CONFIG_INVALID", `${file} is not valid JSON: ${(err as Error).message}`, { hint: "fix the file, or log in again with `docker login`", context: { file } });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new UserInputError("DOCKER_CONFIG_INVALID", `${file} must hold a JSON object`, { hint: "fix the file, or log in again with `docker login`", context: { file } });
  }
  return json as DockerConfig;
}

/** The key Docker files a registry's login under: Docker Hub's is `https://index.docker.io/v1/`. */
function configKey(host: string): string {
  return isDockerHub(host) ? dockerHubConfigKey : host;
}

/**
 * The login Docker's config holds for `host` (as the daemon names it), as Docker's own
 * client finds it: a `credHelpers` entry for the host, else the `credsStore`, else
 * `auths` (by exact key, then by the host part of each key). Undefined when there is none.
 */
export async function dockerLogin(config: DockerConfig, host: string, file: string, env: NodeJS.ProcessEnv = process.env): Promise<RegistryLogin | undefined> {
  const key = configKey(host);
  const helper = config.credHelpers?.[key] ?? (isDockerHub(host) ? (config.credHelpers?.["docker.io"] ?? config.credHelpers?.["index.docker.io"]) : undefined);
  if (helper) return helperLogin(helper, key, env);
  if (config.credsStore) {
    const stored = await helperLogin(config.credsStore, key, env);
    if (stored) return stored;
  }
  const auths = config.auths ?? {};
  const entry = auths[key] ?? Object.entries(auths).find(([k]) => hostnameOf(k) === hostnameOf(key) || (isDockerHub(host) && isDockerHub(hostnameOf(k))))?.[1];
  if (!entry) return undefined;
  const origin = file;
  if (entry.identitytoken) return { username: "", secret: entry.identitytoken, origin };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) throw new UserInputError("DOCKER_CONFIG_INVALID", `${file}: the login for ${key} is not of the form base64("user:password")`, { hint: `log in again with \`docker login ${hostnameOf(key)}\``, context: { file } });
    return { username: decoded.slice(0, colon), secret: decoded.slice(colon + 1), origin };
  }
  if (entry.username && entry.password) return { username: entry.username, secret: entry.password, origin };
  return undefined;
}

// A helper that never answers must not hold the daemon's pull until its own timeout.
const helperTimeoutMs = 30_000;

/**
 * Asks `docker-credential-<name> get` for the login of `serverUrl`, as Docker does: the
 * server on stdin, `{ Username, Secret }` on stdout (`<token>` as the username for an
 * identity token). A helper that knows no login for it answers undefined.
 */
export function helperLogin(name: string, serverUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<RegistryLogin | undefined> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const failed = (why: string, cause?: unknown) =>
      reject(new UserInputError("CREDENTIAL_HELPER_FAILED", `the credential helper ${program} failed for ${serverUrl}: ${why}`, {
        hint: `check that ${program} is installed and on PATH and that you are logged in (\`docker login ${hostnameOf(serverUrl)}\`), or remove it from ${dockerConfigPath(env)}`,
        cause,
      }));
    const child = spawn(program, ["get"], { stdio: ["pipe", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      failed(`no answer within ${helperTimeoutMs / 1000} s`);
    }, helperTimeoutMs);
    timer.unref();
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      failed(err.code === "ENOENT" ? "it is not installed" : err.message, err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const said = (stdout.trim() || stderr.trim()).split("\n")[0] ?? "";
      if (code !== 0) {
        if (/credentials not found/i.test(said)) return resolve(undefined);
        return failed(said || `exit code ${code}`);
      }
      let answer: { Username?: unknown; Secret?: unknown };
      try {
        answer = JSON.parse(stdout) as typeof answer;
      } catch {
        return failed("its answer is not JSON");
      }
      if (typeof answer.Secret !== "string" || answer.Secret === "") return resolve(undefined);
      const username = typeof answer.Username === "string" && answer.Username !== "<token>" ? answer.Username : "";
      resolve({ username, secret: answer.Secret, origin: program });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(serverUrl);
  });
}
