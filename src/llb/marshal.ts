import type { Pb_Definition, Pb_Locations, Pb_OpMetadata, Pb_Range, Pb_Source, Pb_SourceInfo } from "../proto/generated.ts";
import { compareCodeUnits, sortFew } from "../proto/order.ts";
import { Cap } from "./caps.ts";
import { digestOf, encodeOp } from "./encode.ts";
import { outputOf } from "./internal.ts";
import type { Platform } from "./platform.ts";
import type { State } from "./state.ts";
import { marshalVertex, mergeMeta, metaToPb, opMeta, type MarshalContext, type MarshaledVertex, type OpMeta, type SourceMap, type Vertex } from "./vertex.ts";

/** Options of `marshal`. */
export interface MarshalOptions {
  /** Platform of ops that set none, normally the worker's, e.g. `{ OS: "linux", Architecture: "amd64" }`. */
  platform: Platform;
  /** Id that keeps session-less local sources of different clients apart; no `local.unique` attr without it. */
  localUniqueId?: string;
  /** Mark every op to be re-run instead of taken from the cache (`--no-cache`). */
  ignoreCache?: boolean;
}

/**
 * A serialized build graph, directly usable as the `pb.Definition` of a Solve
 * request: ops in dependency order, the last one the terminator pointing at the result.
 */
export interface Definition extends Pb_Definition {
  /** Each op's bytes; a digest is the sha256 of exactly these bytes. */
  def: Uint8Array[];
  /** Per-op metadata (custom names, caps, ...) keyed by op digest. */
  metadata: Record<string, Pb_OpMetadata>;
  /** The digest of each entry of `def`, in the same order. */
  digests: string[];
}

// Vertices are immutable, so one serializes the same way in every marshal call with the
// same options: the bases many targets share are encoded once, not once per target.
const marshaledByOptions = new Map<string, WeakMap<Vertex, MarshaledVertex>>();
// Callers usually pass the same options object many times: its key is worked out once.
const cacheOfOptions = new WeakMap<MarshalOptions, WeakMap<Vertex, MarshaledVertex>>();

function marshaledVertices(opts: MarshalOptions): WeakMap<Vertex, MarshaledVertex> {
  const known = cacheOfOptions.get(opts);
  if (known) return known;
  const key = JSON.stringify([opts.platform, opts.localUniqueId ?? null, opts.ignoreCache === true]);
  let cache = marshaledByOptions.get(key);
  if (!cache) {
    marshaledByOptions.set(key, (cache = new WeakMap()));
    // Runs carry their own local id: a long watch session must not keep one entry per run.
    if (marshaledByOptions.size > 16) marshaledByOptions.delete(marshaledByOptions.keys().next().value!);
  }
  cacheOfOptions.set(opts, cache);
  return cache;
}

// What a marshal call adds to every op's metadata: nothing, or ignore-cache (`--no-cache`).
const noMeta = opMeta({ ignoreCache: false }, []);
const ignoreCacheMeta = opMeta({ ignoreCache: true }, []);

// The terminator's metadata: the caps of what the ops use, by [ignore cache] + 2 × [description].
// Shared values, so their protobuf form is made once (see `metaToPb`).
const terminatorMetas: readonly OpMeta[] = [0, 1, 2, 3].map((flags) => {
  const caps = new Set<string>([Cap.constraints, Cap.platform]);
  if (flags & 1) caps.add(Cap.metaIgnoreCache);
  if (flags & 2) caps.add(Cap.metaDescription);
  return { ignoreCache: false, description: undefined, caps, locations: [] };
});

/**
 * Serializes everything `state` depends on, the way Go's `llb.State.Marshal` does:
 * inputs before the ops that read them, each op once, then a terminator op. The
 * result depends only on the arguments: same graph, same bytes. Scratch gives an
 * empty definition.
 */
export function marshal(state: State, opts: MarshalOptions): Definition {
  const ctx: MarshalContext = {
    platform: opts.platform,
    localUniqueId: opts.localUniqueId,
    meta: opts.ignoreCache === true ? ignoreCacheMeta : noMeta,
    cache: marshaledVertices(opts),
  };
  const def: Uint8Array[] = [];
  const digests: string[] = [];
  const metas = new Map<string, OpMeta>();
  const visited = new Set<Vertex>();

  const visit = (v: Vertex): void => {
    if (visited.has(v)) return;
    const inputs = v.inputs();
    for (let i = 0; i < inputs.length; i++) visit(inputs[i]!.vertex);
    const m = marshalVertex(v, ctx);
    visited.add(v);
    // Distinct vertices may serialize identically; they share one op and merge metadata.
    const known = metas.get(m.digest);
    metas.set(m.digest, known ? mergeMeta(known, m.meta) : m.meta);
    if (!known) {
      def.push(m.bytes);
      digests.push(m.digest);
    }
  };

  const out = outputOf(state);
  if (!out) return { def, metadata: {}, digests };
  visit(out.vertex);

  const terminator = encodeOp({ inputs: [out.toInput(ctx)] });
  const head = digestOf(terminator);
  let ignoreCache = false;
  let description = false;
  // `digests` lists the ops in the order their metadata was first recorded.
  for (let i = 0; i < digests.length; i++) {
    const m = metas.get(digests[i]!)!;
    if (m.ignoreCache) ignoreCache = true;
    if (m.description) description = true;
  }
  def.push(terminator);
  digests.push(head);
  metas.set(head, terminatorMetas[(ignoreCache ? 1 : 0) + (description ? 2 : 0)]!);

  // Keyed by digests, names no other object has: an object without a prototype is a
  // dictionary from the start, where a plain one would get a new shape for every key.
  const metadata: Record<string, Pb_OpMetadata> = Object.create(null) as Record<string, Pb_OpMetadata>;
  const sorted = sortFew(digests.slice(), compareCodeUnits);
  for (let i = 0; i < sorted.length; i++) metadata[sorted[i]!] = metaToPb(metas.get(sorted[i]!)!);
  const source = sourceOf(digests, metas);
  return source ? { def, metadata, Source: source, digests } : { def, metadata, digests };
}

/**
 * `Definition.Source` as Go's `sourceMapCollector` makes it: each source file once (files
 * with the same name and text are one), and each op's locations under its digest, naming
 * the file by index. Undefined when no op has a location.
 */
function sourceOf(digests: readonly string[], metas: ReadonlyMap<string, OpMeta>): Pb_Source | undefined {
  const infos: Pb_SourceInfo[] = [];
  const indexOf = new Map<SourceMap, number>();
  const fileIndex = (m: SourceMap): number => {
    let index = indexOf.get(m);
    if (index === undefined) {
      index = infos.findIndex((i) => i.filename === m.filename && i.language === m.language && Buffer.compare(i.data!, m.data) === 0);
      if (index < 0) {
        index = infos.length;
        infos.push(m.language === undefined ? { filename: m.filename, data: m.data } : { filename: m.filename, data: m.data, language: m.language });
      }
      indexOf.set(m, index);
    }
    return index;
  };
  // A dictionary by digest from the start, as `metadata` above.
  const locations: NonNullable<Pb_Source["locations"]> = Object.create(null) as NonNullable<Pb_Source["locations"]>;
  for (let i = 0; i < digests.length; i++) {
    const meta = metas.get(digests[i]!)!;
    if (meta.locations.length > 0) locations[digests[i]!] = locationsPb(meta, fileIndex);
  }
  return infos.length === 0 ? undefined : { locations, infos };
}

// The protobuf form of an op's locations, kept with the file indexes it was made for: the
// ops many definitions share (and their files, usually first in each) give the same one.
const locationsByMeta = new WeakMap<OpMeta, { indexes: number[]; pb: Pb_Locations }>();

function locationsPb(meta: OpMeta, fileIndex: (m: SourceMap) => number): Pb_Locations {
  const count = meta.locations.length;
  const indexes: number[] = new Array<number>(count);
  let same = true;
  const known = locationsByMeta.get(meta);
  for (let i = 0; i < count; i++) {
    indexes[i] = fileIndex(meta.locations[i]!.source);
    if (known === undefined || known.indexes[i] !== indexes[i]) same = false;
  }
  if (known !== undefined && same) return known.pb;
  // Ranges are immutable ({ start, end } of line and character), so they are used as they are.
  const pb: Pb_Locations = { locations: meta.locations.map((l, i) => ({ sourceIndex: indexes[i], ranges: l.ranges as Pb_Range[] })) };
  locationsByMeta.set(meta, { indexes, pb });
  return pb;
}
