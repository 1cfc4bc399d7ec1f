import { normalizeImageRef } from "../llb/reference.ts";

/** The host the daemon names when it talks to Docker Hub. */
export const dockerHubRegistryHost = "registry-1.docker.io";

/** The key Docker's config and credential helpers keep Docker Hub's login under. */
export const dockerHubConfigKey = "https://index.docker.io/v1/";

const dockerHubAliases = new Set(["docker.io", "index.docker.io", dockerHubRegistryHost, dockerHubConfigKey, "https://index.docker.io/v1", "https://index.docker.io"]);

/** True for the names Docker Hub goes by (`docker.io`, `registry-1.docker.io`, `https://index.docker.io/v1/`, ...). */
export function isDockerHub(host: string): boolean {
  return dockerHubAliases.has(host);
}

/** The host part of a key of Docker's `auths` (`https://host/v1/` → `host`), as Docker's `ConvertToHostname`. */
export function hostnameOf(key: string): string {
  const bare = key.replace(/^https?:\/\//, "");
  return bare.split("/")[0]!;
}

/** The registry an image reference lives in, as the daemon names it when it asks for credentials (`busybox` → `registry-1.docker.io`). */
export function registryOfRef(ref: string): string {
  const host = normalizeImageRef(ref).split("/")[0]!;
  return host === "docker.io" ? dockerHubRegistryHost : host;
}
