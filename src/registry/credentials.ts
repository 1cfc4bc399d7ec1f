import { userConfigPath } from "../secrets/config-file.ts";
import { dockerConfigPath, dockerLogin, readDockerConfig, type RegistryLogin } from "./docker-config.ts";
import { loadRegistrySettings, settingsFor, settingsLogin, type RegistrySettings } from "./user-registries.ts";

/** Finds the login of a registry host, as the daemon names it (`127.0.0.1:5000`, `registry-1.docker.io`). */
export interface CredentialSource {
  /** The login for `host`, or undefined to go anonymous. */
  loginFor(host: string): Promise<RegistryLogin | undefined>;
}

/** Where `registryCredentials` reads logins from. */
export interface RegistryCredentialsOptions {
  /** brewkit's user config file (default: `userConfigPath()`). */
  userConfigFile?: string;
  /** Docker's client config file (default: `dockerConfigPath()`). */
  dockerConfigFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Told every secret handed out, e.g. to hide it from the output. */
  onSecret?: (secret: string) => void;
}

/**
 * The logins of this machine: brewkit's user config file (`registries.<host>.username`
 * and `password`) first, then Docker's config (`credHelpers`, `credsStore`, `auths`).
 * Files are read when the daemon first asks, and each host's answer is kept for the run.
 */
export function registryCredentials(options: RegistryCredentialsOptions = {}): CredentialSource {
  const env = options.env ?? process.env;
  const userFile = options.userConfigFile ?? userConfigPath(env);
  const dockerFile = options.dockerConfigFile ?? dockerConfigPath(env);
  let settings: Promise<RegistrySettings[]> | undefined;
  let docker: ReturnType<typeof readDockerConfig> | undefined;
  const answers = new Map<string, Promise<RegistryLogin | undefined>>();
  const lookup = async (host: string): Promise<RegistryLogin | undefined> => {
    const own = settingsFor(await (settings ??= loadRegistrySettings(userFile)), host);
    const fromUser = own ? await settingsLogin(own, userFile, env) : undefined;
    if (fromUser) return fromUser;
    const config = await (docker ??= readDockerConfig(dockerFile));
    return config ? dockerLogin(config, host, dockerFile, env) : undefined;
  };
  return {
    loginFor(host) {
      let answer = answers.get(host);
      if (!answer) {
        answer = lookup(host).then((login) => {
          if (login) options.onSecret?.(login.secret);
          return login;
        });
        answers.set(host, answer);
      }
      return answer;
    },
  };
}
