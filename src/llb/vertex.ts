import type { Pb_Input, Pb_OpMetadata, Pb_Platform, Pb_WorkerConstraints } from "../proto/generated.ts";
import type { CapId } from "./caps.ts";
import { compareUtf8, sortFew } from "../proto/order.ts";
import { platformToPb, type Platform } from "./platform.ts";

/** A file a build was written in (Go's `llb.SourceMap`): the daemon returns it with errors of the ops it made. */
export interface SourceMap {
  /** The name errors show, e.g. `"brewkit.config.ts"`. */
  readonly filename: string;
  /** The file's text. */
  readonly data: Uint8Array;
  /** Its language, as GitHub's linguist names it, e.g. `"TypeScript"`. */
  readonly language?: string;
}

/** A place in a source file: 1-based line, 0-based character. */
export interface SourcePosition {
  readonly line: number;
  readonly character: number;
}

/** Where in a source file an op was written (Go's `llb.SourceLocation`). */
export interface OpLocation {
  readonly source: SourceMap;
  /** Ranges of the file, e.g. the lines of the call that made the op. */
  readonly ranges: readonly { readonly start: SourcePosition; readonly end: SourcePosition }[];
}

/** Options every vertex-creating call accepts; none of them changes the op's digest. */
export interface VertexOptions {
  /** Name shown for this step in progress output, e.g. `"go build ./cmd/app"`. */
  customName?: string;
  /** Extra free-form description entries, e.g. `{ "brewkit.target": "build" }`. */
  description?: Readonly<Record<string, string>>;
  /** Run this step again even if a cached result exists, e.g. `true` for `--no-cache`. */
  ignoreCache?: boolean;
  /** Where the op was written: the daemon's errors about it name these places (`Definition.Source`). */
  locations?: readonly OpLocation[];
}

/** Per-op metadata while it is being assembled (Go's `llb.OpMetadata`). */
export interface OpMeta {
  readonly ignoreCache: boolean;
  readonly description: Readonly<Record<string, string>> | undefined;
  readonly caps: ReadonlySet<string>;
  /** Source locations; they go into `Definition.Source`, not into the op's metadata. */
  readonly locations: readonly OpLocation[];
}

/** Metadata of a vertex from its options plus the capabilities its op needs. */
export function opMeta(opts: VertexOptions | undefined, caps: Iterable<CapId>): OpMeta {
  const description: Record<string, string> = { ...opts?.description };
  if (opts?.customName !== undefined) description["llb.customname"] = opts.customName;
  return {
    ignoreCache: opts?.ignoreCache === true,
    description: Object.keys(description).length > 0 ? description : undefined,
    caps: new Set(caps),
    locations: opts?.locations ?? [],
  };
}

// Metadata with nothing in it: merging it with other metadata gives that metadata.
function isEmptyMeta(m: OpMeta): boolean {
  return !m.ignoreCache && m.description === undefined && m.caps.size === 0 && m.locations.length === 0;
}

/** Go's `mergeMetadata`: `b` wins for descriptions, flags and caps accumulate. */
export function mergeMeta(a: OpMeta, b: OpMeta): OpMeta {
  // Metadata is never modified, so an unchanged side is returned as it is, not copied.
  if (isEmptyMeta(a)) return b;
  if (isEmptyMeta(b)) return a;
  const description = b.description ? { ...a.description, ...b.description } : a.description;
  return {
    ignoreCache: a.ignoreCache || b.ignoreCache,
    description,
    caps: new Set([...a.caps, ...b.caps]),
    locations: b.locations.length === 0 ? a.locations : [...a.locations, ...b.locations.filter((l) => !a.locations.includes(l))],
  };
}

// OpMeta values are immutable, and the ops that many definitions share keep theirs.
const pbOfMeta = new WeakMap<OpMeta, Pb_OpMetadata>();

/** The protobuf form; keys are inserted sorted so any encoder emits them in Go's order. Do not modify the result. */
export function metaToPb(m: OpMeta): Pb_OpMetadata {
  const known = pbOfMeta.get(m);
  if (known) return known;
  const out: Pb_OpMetadata = {};
  if (m.ignoreCache) out.ignore_cache = true;
  if (m.description) {
    const description: Record<string, string> = {};
    for (const k of sortFew(Object.keys(m.description), compareUtf8)) description[k] = m.description[k]!;
    out.description = description;
  }
  if (m.caps.size > 0) {
    const caps: Record<string, boolean> = {};
    for (const c of sortFew([...m.caps], compareUtf8)) caps[c] = true;
    out.caps = caps;
  }
  pbOfMeta.set(m, out);
  return out;
}

/** What one `marshal` call needs to know while it serializes vertices. */
export interface MarshalContext {
  /** Platform of ops that do not set their own. */
  readonly platform: Platform;
  /** Id that makes session-less local sources unique. */
  readonly localUniqueId: string | undefined;
  /** Metadata applied to every op (e.g. ignore-cache for the whole build). */
  readonly meta: OpMeta;
  /** Vertices already serialized with these options. */
  readonly cache: WeakMap<Vertex, MarshaledVertex>;
}

/** One serialized op. */
export interface MarshaledVertex {
  readonly digest: string;
  readonly bytes: Uint8Array;
  readonly meta: OpMeta;
}

/** A node of the build graph: a source, an exec or a file op. */
export interface Vertex {
  /** The outputs this vertex reads, in the order Go's client walks them. */
  inputs(): readonly Output[];
  /** Serializes the op; call through `marshalVertex` so each vertex is done once. */
  marshal(ctx: MarshalContext): MarshaledVertex;
}

// A vertex keeps the result of the first options it was serialized with on itself, and
// the cache of those options stands for them: one build marshals with one set of
// options, and a WeakMap entry per op would make every garbage collection walk them all.
const firstMarshaled = Symbol("brewkit.llb.marshaled");

type WithFirst = { [firstMarshaled]?: { readonly cache: object; readonly done: MarshaledVertex } };

/** Serializes `v` once per set of marshal options. */
export function marshalVertex(v: Vertex, ctx: MarshalContext): MarshaledVertex {
  const first = (v as WithFirst)[firstMarshaled];
  if (first !== undefined && first.cache === ctx.cache) return first.done;
  let done = first === undefined ? undefined : ctx.cache.get(v);
  if (!done) {
    done = v.marshal(ctx);
    if (first === undefined) Object.defineProperty(v, firstMarshaled, { value: { cache: ctx.cache, done } });
    else ctx.cache.set(v, done);
  }
  return done;
}

/** One result of a vertex (an exec has one per writable mount). */
export class Output {
  /** `platform` is what a State built on this output starts with. */
  constructor(
    readonly vertex: Vertex,
    readonly index: number,
    readonly platform?: Platform,
  ) {}

  /** The edge another op uses to consume this output. */
  toInput(ctx: MarshalContext): Pb_Input {
    return { digest: marshalVertex(this.vertex, ctx).digest, index: this.index };
  }
}

/**
 * The fields every op shares (Go's `MarshalConstraints`): the platform, the empty
 * worker constraints, and the merged metadata.
 */
export function opEnvelope(
  ctx: MarshalContext,
  platform: Platform | undefined,
  meta: OpMeta,
): { platform: Pb_Platform; constraints: Pb_WorkerConstraints; meta: OpMeta } {
  return { platform: platformPb(platform ?? ctx.platform), constraints: {}, meta: mergeMeta(ctx.meta, meta) };
}

// Platforms are immutable values shared by every op of a build: each is converted once.
const pbOfPlatform = new WeakMap<Platform, Pb_Platform>();

function platformPb(p: Platform): Pb_Platform {
  let known = pbOfPlatform.get(p);
  if (!known) pbOfPlatform.set(p, (known = platformToPb(p)));
  return known;
}
