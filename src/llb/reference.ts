import { UserInputError } from "../errors.ts";

// The grammar of distribution/reference (the one Docker and BuildKit use). These
// are plain regular expressions with no ambiguity that would let JavaScript's
// backtracking pick a different split than Go's RE2.
const alphanumeric = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainAndPort = `(?:${domainName}|${ipv6})(?::[0-9]+)?`;
const tag = "[\\w][\\w.-]{0,127}";
const digest = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const name = `(?:${domainAndPort}/)?${remoteName}`;

const referenceRe = new RegExp(`^(${name})(?::(${tag}))?(?:@(${digest}))?$`);
const nameRe = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const identifierRe = /^[a-f0-9]{64}$/;

const maxPathLength = 255;
const digestHexLength: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function invalid(ref: string, why: string): UserInputError {
  return new UserInputError("LLB_INVALID_IMAGE_REF", `invalid image reference "${ref}": ${why}`, {
    hint: 'use a reference such as "alpine", "alpine:3.20", "ghcr.io/org/app:tag" or "name@sha256:<hex>"',
  });
}

function splitDomain(ref: string): [string, string] {
  const slash = ref.indexOf("/");
  // A single element is always a Docker Hub official image, even "localhost".
  if (slash === -1) return ["docker.io", "library/" + ref];
  const first = ref.slice(0, slash);
  const rest = ref.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (first === "index.docker.io") {
    [domain, remainder] = ["docker.io", rest];
  } else if (first === "localhost" || /[.:]/.test(first) || first.toLowerCase() !== first) {
    [domain, remainder] = [first, rest];
  } else {
    [domain, remainder] = ["docker.io", ref];
  }
  if (domain === "docker.io" && !remainder.includes("/")) remainder = "library/" + remainder;
  return [domain, remainder];
}

function checkDigest(ref: string, value: string): void {
  const colon = value.indexOf(":");
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  const want = digestHexLength[algorithm];
  if (want === undefined) throw invalid(ref, `unsupported digest algorithm "${algorithm}"`);
  if (hex.length !== want) throw invalid(ref, "invalid digest length");
  if (!/^[a-f0-9]+$/.test(hex)) throw invalid(ref, "invalid digest format");
}

/**
 * The fully qualified form of an image reference, as BuildKit's Go client writes it
 * into `docker-image://` identifiers: `busybox` → `docker.io/library/busybox:latest`,
 * `localhost:5000/x` stays on that registry, a digest is kept (no tag is added then).
 */
export function normalizeImageRef(ref: string): string {
  if (identifierRe.test(ref)) throw invalid(ref, "cannot be a 64-byte hexadecimal string");
  const [domain, remainder] = splitDomain(ref);
  const colon = remainder.indexOf(":");
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) throw invalid(ref, `repository name (${remote}) must be lowercase`);

  const full = `${domain}/${remainder}`;
  const m = referenceRe.exec(full);
  if (!m) throw invalid(ref, full.toLowerCase() !== full && referenceRe.test(full.toLowerCase()) ? "must be lowercase" : "invalid reference format");
  const [, named = "", tagged, digested] = m;
  const path = nameRe.exec(named)?.[2] ?? named;
  if (path.length > maxPathLength) throw invalid(ref, `repository name must not be more than ${maxPathLength} characters`);
  if (digested !== undefined) checkDigest(ref, digested);

  let out = named;
  if (tagged !== undefined) out += ":" + tagged;
  if (digested !== undefined) out += "@" + digested;
  else if (tagged === undefined) out += ":latest";
  return out;
}
