import type { Pb_SourceOp } from "../proto/generated.ts";
import { Cap, type CapId } from "./caps.ts";
import { digestOf, encodeOp } from "./encode.ts";
import type { Platform } from "./platform.ts";
import { normalizeImageRef } from "./reference.ts";
import { newState, type State } from "./state.ts";
import { Output, opEnvelope, opMeta, type MarshalContext, type MarshaledVertex, type Vertex, type VertexOptions } from "./vertex.ts";

/** When the daemon looks an image up in the registry. */
export type ResolveMode = "default" | "pull" | "local";

/** Options of `image`. */
export interface ImageOptions extends VertexOptions {
  /** Platform to pull and to run on, e.g. `{ OS: "linux", Architecture: "arm64" }`. */
  platform?: Platform;
  /** `pull` always checks the registry, `local` prefers an image the daemon has. */
  resolveMode?: ResolveMode;
}

/** How the daemon decides which local files changed since the last transfer. */
export type LocalDiffer = "metadata" | "none";

/** Options of `local`. */
export interface LocalOptions extends VertexOptions {
  /** Session that serves the directory; the build's own session when unset. */
  sessionId?: string;
  /** Key under which the daemon keeps a copy between builds, e.g. the project path's hash. */
  sharedKeyHint?: string;
  /** Only transfer paths matching these patterns, e.g. `["src/**", "go.mod"]`. */
  includePatterns?: readonly string[];
  /** Never transfer paths matching these patterns (`.dockerignore` syntax), e.g. `["node_modules"]`. */
  excludePatterns?: readonly string[];
  /** Paths whose symlinks are followed, e.g. `["vendor"]`. */
  followPaths?: readonly string[];
  /** `none` re-sends every file; `metadata` (the daemon's default) compares size and mtime. */
  differ?: LocalDiffer;
  /** Refuse daemons that do not support the chosen `differ`. */
  differRequired?: boolean;
  /** Makes this source's op unique when there is no `sessionId`, e.g. a hash of the client's id. */
  uniqueId?: string;
}

/** Options of `http`. */
export interface HttpOptions extends VertexOptions {
  /** Expected digest of the download, e.g. `"sha256:…"`. */
  checksum?: string;
  /** Name of the downloaded file, e.g. `"tool.tar.gz"`; taken from the URL by default. */
  filename?: string;
  /** Permission bits of the file, e.g. `0o755`; `0o644` by default. */
  perm?: number;
  /** Owner uid of the file. */
  uid?: number;
  /** Owner gid of the file. */
  gid?: number;
}

/** A source op: the leaves of the graph (images, local dirs, downloads). */
class SourceOp implements Vertex {
  readonly output: Output;

  constructor(
    private readonly identifier: string,
    private readonly attrs: Readonly<Record<string, string>>,
    private readonly caps: readonly CapId[],
    private readonly options: VertexOptions | undefined,
    /** Set only for platform-specific sources (images); others carry no platform. */
    private readonly platform: Platform | undefined,
    private readonly platformSpecific: boolean,
    private readonly uniqueId: string | undefined,
  ) {
    this.output = new Output(this, 0, platform);
  }

  inputs(): readonly Output[] {
    return [];
  }

  marshal(ctx: MarshalContext): MarshaledVertex {
    const attrs = { ...this.attrs };
    const caps = [...this.caps];
    if (this.identifier.startsWith("local://") && attrs["local.session"] === undefined) {
      // Without a session, Go adds a client-unique id so that different clients'
      // directories never share a vertex; brewkit takes the id from the caller.
      const unique = this.uniqueId ?? ctx.localUniqueId;
      if (unique !== undefined) {
        attrs["local.unique"] = unique;
        caps.push(Cap.sourceLocalUnique);
      }
    }
    const env = opEnvelope(ctx, this.platform, opMeta(this.options, caps));
    const source: Pb_SourceOp = { identifier: this.identifier };
    if (Object.keys(attrs).length > 0) source.attrs = attrs;
    const bytes = encodeOp({
      platform: this.platformSpecific ? env.platform : undefined,
      constraints: env.constraints,
      source,
    });
    return { digest: digestOf(bytes), bytes, meta: env.meta };
  }
}

/** An empty filesystem. */
export function scratch(): State {
  return newState(undefined);
}

/**
 * A container image from a registry, e.g. `image("golang:1.26")`. The reference is
 * normalized (`golang` → `docker.io/library/golang:latest`); a digest pins it.
 */
export function image(ref: string, opts: ImageOptions = {}): State {
  const caps: CapId[] = [Cap.sourceImage];
  const attrs: Record<string, string> = {};
  const mode = opts.resolveMode ?? "default";
  if (mode !== "default") attrs["image.resolvemode"] = mode;
  // Only forced pulls need the daemon to understand the attr (a security guarantee).
  if (mode === "pull") caps.push(Cap.sourceImageResolveMode);
  const op = new SourceOp(`docker-image://${normalizeImageRef(ref)}`, attrs, caps, opts, opts.platform, true, undefined);
  return newState(op.output);
}

const shortEscapes: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** A string as Go's `encoding/json` writes it: HTML-safe, U+2028/9 escaped, bad UTF-16 replaced. */
function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (shortEscapes[ch] !== undefined) out += shortEscapes[ch];
    else if (code < 0x20 || ch === "<" || ch === ">" || ch === "&" || code === 0x2028 || code === 0x2029) {
      out += "\\u" + code.toString(16).padStart(4, "0");
    } else if (code >= 0xd800 && code <= 0xdfff) out += "\\ufffd";
    else out += ch;
  }
  return out + '"';
}

/** A string list as Go's `json.Marshal` encodes it (attr values must match byte for byte). */
function goJson(values: readonly string[]): string {
  return "[" + values.map(goJsonString).join(",") + "]";
}

/** A directory the client sends over the session, e.g. `local("context")`. */
export function local(name: string, opts: LocalOptions = {}): State {
  const attrs: Record<string, string> = {};
  const caps: CapId[] = [];
  if (opts.sessionId) {
    attrs["local.session"] = opts.sessionId;
    caps.push(Cap.sourceLocalSessionId);
  }
  if (opts.includePatterns?.length) {
    attrs["local.includepattern"] = goJson(opts.includePatterns);
    caps.push(Cap.sourceLocalIncludePatterns);
  }
  if (opts.followPaths?.length) {
    attrs["local.followpaths"] = goJson(opts.followPaths);
    caps.push(Cap.sourceLocalFollowPaths);
  }
  if (opts.excludePatterns?.length) {
    attrs["local.excludepatterns"] = goJson(opts.excludePatterns);
    caps.push(Cap.sourceLocalExcludePatterns);
  }
  if (opts.sharedKeyHint) {
    attrs["local.sharedkeyhint"] = opts.sharedKeyHint;
    caps.push(Cap.sourceLocalSharedKeyHint);
  }
  if (opts.differ) {
    attrs["local.differ"] = opts.differ;
    if (opts.differRequired) caps.push(Cap.sourceLocalDiffer);
  }
  caps.push(Cap.sourceLocal);
  const op = new SourceOp(`local://${name}`, attrs, caps, opts, undefined, false, opts.uniqueId || undefined);
  return newState(op.output);
}

/** A file downloaded by the daemon, e.g. `http("https://example.com/tool.tar.gz")`. */
export function http(url: string, opts: HttpOptions = {}): State {
  const attrs: Record<string, string> = {};
  const caps: CapId[] = [];
  if (opts.checksum) {
    attrs["http.checksum"] = opts.checksum;
    caps.push(Cap.sourceHttpChecksum);
  }
  if (opts.filename) attrs["http.filename"] = opts.filename;
  const perm = (opts.perm ?? 0) & 0o777;
  if (perm !== 0) {
    attrs["http.perm"] = "0" + perm.toString(8);
    caps.push(Cap.sourceHttpPerm);
  }
  if (opts.uid) {
    attrs["http.uid"] = String(opts.uid);
    caps.push(Cap.sourceHttpUidGid);
  }
  if (opts.gid) {
    attrs["http.gid"] = String(opts.gid);
    caps.push(Cap.sourceHttpUidGid);
  }
  caps.push(Cap.sourceHttp);
  const op = new SourceOp(url, attrs, caps, opts, undefined, false, undefined);
  return newState(op.output);
}
