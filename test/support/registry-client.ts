import https from "node:https";
import { readFileSync } from "node:fs";

/** How the tests reach a registry: its address, the CA its certificate is signed by, and a login. */
export interface RegistryAccess {
  address: string;
  caFile: string;
  login: { username: string; password: string };
}

/** GETs `path` of the registry's API (`/v2/...`) over HTTPS with basic auth; the body and content type. */
export function registryGet(access: RegistryAccess, urlPath: string, accept: string[] = []): Promise<{ status: number; type: string; body: Buffer }> {
  const [host, port] = access.address.split(":");
  const auth = Buffer.from(`${access.login.username}:${access.login.password}`).toString("base64");
  return new Promise((resolve, reject) => {
    const request = https.get(
      { host, port: Number(port), path: urlPath, ca: readFileSync(access.caFile), headers: { authorization: `Basic ${auth}`, accept: accept.join(", ") } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (c: Buffer) => chunks.push(c));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, type: String(response.headers["content-type"] ?? ""), body: Buffer.concat(chunks) }));
        response.on("error", reject);
      },
    );
    request.on("error", reject);
  });
}

const manifestTypes = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];

/** The manifest (or index) of `repo` at `reference` (a tag or a digest), parsed. */
export async function fetchManifest(access: RegistryAccess, repo: string, reference: string): Promise<{ mediaType: string; json: Record<string, any> }> {
  const got = await registryGet(access, `/v2/${repo}/manifests/${reference}`, manifestTypes);
  if (got.status !== 200) throw new Error(`GET manifest ${repo}:${reference}: HTTP ${got.status} ${got.body.toString("utf8")}`);
  return { mediaType: got.type, json: JSON.parse(got.body.toString("utf8")) };
}

/** A blob of `repo` by digest, parsed as JSON (an image config). */
export async function fetchJsonBlob(access: RegistryAccess, repo: string, digest: string): Promise<Record<string, any>> {
  const got = await registryGet(access, `/v2/${repo}/blobs/${digest}`);
  if (got.status !== 200) throw new Error(`GET blob ${repo}@${digest}: HTTP ${got.status}`);
  return JSON.parse(got.body.toString("utf8"));
}
