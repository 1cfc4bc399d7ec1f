import { BuildError, type ErrorCode } from "../errors.ts";
import { loginHint, tlsHint } from "../registry/errors.ts";
import { isDockerHub, registryOfRef } from "../registry/hosts.ts";

/** Why a registry lookup failed, as far as the daemon's message tells. */
export type RegistryFailure = "not-found" | "unauthorized" | "unreachable" | "other";

const unauthorized = /unauthorized|authentication required|authorization failed|insufficient_scope|access (to the resource is )?denied|\b403 Forbidden/i;
const unreachable = /connection refused|no such host|i\/o timeout|network is unreachable|no route to host|connection reset|server misbehaving|tls: |x509: |dial tcp/i;
const notFound = /not found|manifest unknown|name unknown|no match for platform/i;

/** Classifies the daemon's message of a failed image lookup. */
export function classifyRegistryFailure(message: string): RegistryFailure {
  if (unauthorized.test(message)) return "unauthorized";
  // Before not-found: a DNS failure can mention a name that was "not found".
  if (unreachable.test(message)) return "unreachable";
  if (notFound.test(message)) return "not-found";
  return "other";
}

/** True for a daemon message saying the registry's TLS certificate is not trusted, or the protocol is wrong. */
export function isTlsFailure(message: string): boolean {
  return /x509: |tls: |http: server gave HTTP response to HTTPS client|server gave HTTP response/i.test(message);
}

/** A registry host from a reference, or undefined when the reference is not one. */
function hostOf(ref: string): string | undefined {
  try {
    return registryOfRef(ref);
  } catch {
    return undefined;
  }
}

/** A failed lookup of an image: `ref` is the image as the config wrote it. */
export class ImageLookupError extends BuildError {
  constructor(
    /** The image reference as written. */
    readonly ref: string,
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; context?: BuildError["context"] },
  ) {
    super(code, message, options);
  }
}

/** A user-facing error for a failed image lookup that names the image and says why it failed. */
export function describeRegistryFailure(ref: string, platform: string, cause: unknown): ImageLookupError {
  // The daemon prefixes its own wording ("failed to resolve source metadata for <ref>: ").
  const message = (cause instanceof Error ? cause.message : String(cause)).replace(/^failed to resolve [\w ]+ for \S+: /, "");
  const host = hostOf(ref);
  if (host && isTlsFailure(message)) {
    return new ImageLookupError(ref, "REGISTRY_TLS", `the registry ${host} of image "${ref}" could not be reached securely (${message})`, { hint: tlsHint(host), cause });
  }
  switch (classifyRegistryFailure(message)) {
    case "not-found":
      return new ImageLookupError(ref, "IMAGE_NOT_FOUND", `image "${ref}" was not found for ${platform} (${message})`, {
        hint: "check the image name, tag and platform",
        cause,
      });
    case "unauthorized":
      return new ImageLookupError(ref, "IMAGE_UNAUTHORIZED", `the registry ${host ?? ""} refused access to image "${ref}": wrong or missing credentials (${message})`.replace("registry  ", "registry "), {
        // Docker Hub also answers 401 for images that do not exist.
        hint: host ? `${isDockerHub(host) ? "check the image name (Docker Hub also refuses images that do not exist), then " : ""}${loginHint(host)}` : "check the image name, and the credentials for its registry",
        cause,
      });
    case "unreachable":
      return new ImageLookupError(ref, "IMAGE_REGISTRY_UNREACHABLE", `the registry of image "${ref}" could not be reached (${message})`, {
        hint: "check the network and the registry address; a registry mirror can be configured in buildkitd.toml",
        cause,
      });
    default:
      return new ImageLookupError(ref, "IMAGE_RESOLVE_FAILED", `cannot resolve image "${ref}" for ${platform}: ${message}`, { cause });
  }
}
