import { userConfigPath } from "../secrets/config-file.ts";
import { isDockerHub } from "./hosts.ts";

/** What to do when `host` refuses the login (or asks for one): how to give brewkit one. */
export function loginHint(host: string): string {
  const login = isDockerHub(host) ? "docker login" : `docker login ${host}`;
  return `log in with \`${login}\` (brewkit reads Docker's config and credential helpers), or set registries.${JSON.stringify(host)}.username and .password in ${userConfigPath()}`;
}

/** What to do when brewkit's daemon does not trust `host`'s certificate or speaks the wrong protocol to it. */
export function tlsHint(host: string): string {
  return `give brewkit's daemon the registry's CA with registries.${JSON.stringify(host)}.ca in ${userConfigPath()} (or "http": true for a plain-HTTP registry), then restart it with \`brewkit daemon stop\`; another daemon needs [registry.${JSON.stringify(host)}] in its buildkitd.toml`;
}
