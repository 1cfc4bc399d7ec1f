import { UserInputError } from "../errors.ts";
import type { Pb_ChownOpt, Pb_FileAction, Pb_FileActionCopy, Pb_Input, Pb_UserOpt } from "../proto/generated.ts";
import { Cap } from "./caps.ts";
import { digestOf, encodeOp, type Wire } from "./encode.ts";
import { BoundFileAction, bind, boundOf, nodeOf, type Bound, type FileAction, type Owner, type Timestamp } from "./file-action.ts";
import { metaOf, outputOf } from "./internal.ts";
import { cleanPath, isAbsPath, joinPath } from "../gopath/index.ts";
import type { State } from "./state.ts";
import { Output, opEnvelope, opMeta, type MarshalContext, type MarshaledVertex, type Vertex, type VertexOptions } from "./vertex.ts";

type UserSpec = { uid: number } | { name: string };

/** Go's `parseUID`: `root` or a decimal int32, else a name. */
function parseUserPart(part: string): UserSpec {
  if (part === "root") return { uid: 0 };
  if (/^[+-]?[0-9]+$/.test(part)) {
    const n = Number(part);
    if (n >= -(2 ** 31) && n < 2 ** 31) return { uid: n };
  }
  return { name: part };
}

function userOpt(spec: UserSpec, base: number): Pb_UserOpt {
  // An empty name falls back to id 0, as in Go.
  if ("name" in spec && spec.name !== "") return { byName: { name: spec.name, input: base } };
  return { byID: ("uid" in spec ? spec.uid : 0) >>> 0 };
}

function chown(owner: Owner | undefined, base: number): Pb_ChownOpt | undefined {
  if (owner === undefined) return undefined;
  if (typeof owner !== "string") return { user: userOpt({ uid: owner.uid }, base), group: userOpt({ uid: owner.gid }, base) };
  const colon = owner.indexOf(":");
  const parts = colon === -1 ? [owner] : [owner.slice(0, colon), owner.slice(colon + 1)];
  const out: Pb_ChownOpt = { user: userOpt(parseUserPart(parts[0]!), base) };
  if (parts[1] !== undefined) out.group = userOpt(parseUserPart(parts[1]), base);
  return out;
}

function nanos(t: Timestamp | undefined): bigint {
  if (t === undefined) return -1n;
  if (typeof t === "bigint") return t;
  const ms = t.getTime();
  if (Number.isNaN(ms)) throw new UserInputError("LLB_INVALID_TIMESTAMP", "invalid Date given as a file timestamp");
  return BigInt(ms) * 1_000_000n;
}

/** Go's `normalizePath`: relative paths join the dir; `keepSlash` keeps a trailing `/` or `/.`. */
function normalizePath(parent: string, p: string, keepSlash: boolean): string {
  let out = cleanPath(p);
  if (!isAbsPath(out)) out = joinPath("/", parent, out);
  if (keepSlash) {
    if (p.endsWith("/") && !out.endsWith("/")) out += "/";
    else if (p.endsWith("/.")) out = (out === "/" ? out : out + "/") + ".";
  }
  return out;
}

function copySourceState(from: State | BoundFileAction): State {
  return from instanceof BoundFileAction ? boundOf(from).state : from;
}

function actionBody(b: Bound, base: number): Wire<Pb_FileAction> {
  const parent = metaOf(b.state).dir;
  const s = b.spec;
  switch (s.kind) {
    case "mkdir":
      return {
        mkdir: {
          path: normalizePath(parent, s.path, false),
          mode: s.mode & 0o777,
          makeParents: s.opts.parents === true,
          owner: chown(s.opts.owner, base),
          timestamp: nanos(s.opts.timestamp),
        },
      };
    case "mkfile":
      return {
        mkfile: {
          path: normalizePath(parent, s.path, false),
          mode: s.mode & 0o777,
          data: s.data,
          owner: chown(s.opts.owner, base),
          timestamp: nanos(s.opts.timestamp),
        },
      };
    case "rm":
      return { rm: { path: normalizePath(parent, s.path, false), allowNotFound: s.opts.allowNotFound === true, allowWildcard: s.opts.allowWildcard === true } };
    case "symlink":
      return { symlink: { oldpath: s.oldpath, newpath: s.newpath, owner: chown(s.opts.owner, base), timestamp: nanos(s.opts.timestamp) } };
    case "copy": {
      const o = s.opts;
      const src = cleanPath(s.src);
      const copy: Wire<Pb_FileActionCopy> = {
        src: joinPath(isAbsPath(src) ? "/" : metaOf(copySourceState(s.from)).dir, src),
        dest: normalizePath(parent, s.dest, true),
        owner: chown(o.owner, base),
        mode: o.mode === undefined ? -1 : typeof o.mode === "number" ? o.mode | 0 : 0,
        followSymlink: o.followSymlinks === true,
        dirCopyContents: o.copyDirContents === true,
        attemptUnpackDockerCompatibility: o.attemptUnpack === true,
        createDestPath: o.createDestPath === true,
        allowWildcard: o.allowWildcard === true,
        allowEmptyWildcard: o.allowEmptyWildcard === true,
        timestamp: nanos(o.timestamp),
        include_patterns: o.include,
        exclude_patterns: o.exclude,
        alwaysReplaceExistingDestPaths: o.alwaysReplaceExistingDestPaths === true,
        modeStr: typeof o.mode === "string" ? o.mode : "",
        required_paths: o.requiredPaths,
      };
      return { copy };
    }
  }
}

interface ActionState {
  readonly bound: Bound;
  base: number;
  input: number;
  inputRelative: ActionState | undefined;
  input2: number;
  input2Relative: ActionState | undefined;
  target: number;
}

/** Go's FileOp marshal state: inputs deduplicated, actions numbered as they are reached. */
class Planner {
  readonly inputs: Pb_Input[] = [];
  readonly actions: ActionState[] = [];
  private readonly visited = new Map<Bound, ActionState>();

  constructor(private readonly ctx: MarshalContext) {}

  private addInput(out: Output): number {
    const inp = out.toInput(this.ctx);
    const i = this.inputs.findIndex((x) => x.digest === inp.digest && x.index === inp.index);
    return i !== -1 ? i : this.inputs.push(inp) - 1;
  }

  add(b: Bound): ActionState {
    const known = this.visited.get(b);
    if (known) return known;
    const prev = b.prev && this.add(b.prev);
    const st: ActionState = { bound: b, base: -1, input: -1, inputRelative: undefined, input2: -1, input2Relative: undefined, target: 0 };
    const out = outputOf(b.state);
    if (out) st.base = this.addInput(out);
    if (prev) st.inputRelative = prev;
    else st.input = st.base;
    if (b.spec.kind === "copy") {
      const from = b.spec.from;
      if (from instanceof BoundFileAction) st.input2Relative = this.add(boundOf(from));
      else {
        const src = outputOf(from);
        if (src) st.input2 = this.addInput(src);
      }
    }
    st.target = this.actions.length;
    this.visited.set(b, st);
    this.actions.push(st);
    return st;
  }
}

/** Go's `FileAction.allOutputs`: from the last action back, each state then its copy source. */
function allOutputs(b: Bound | undefined, seen: Set<Output>, out: Output[]): Output[] {
  if (!b) return out;
  const push = (o: Output | undefined) => {
    if (o && !seen.has(o)) {
      seen.add(o);
      out.push(o);
    }
  };
  push(outputOf(b.state));
  if (b.spec.kind === "copy") {
    const from = b.spec.from;
    if (from instanceof BoundFileAction) allOutputs(boundOf(from), seen, out);
    else push(outputOf(from));
  }
  return allOutputs(b.prev, seen, out);
}

/** A file op: a chain of actions run by BuildKit itself, without a container. */
export class FileOp implements Vertex {
  /** The op's single result. */
  readonly output: Output;
  private readonly root: Bound;

  constructor(
    state: State,
    action: FileAction,
    private readonly options: VertexOptions | undefined,
  ) {
    this.root = bind(nodeOf(action), state);
    this.output = new Output(this, 0);
  }

  /** The outputs this op reads, in Go's walk order (deduplicated by identity). */
  inputs(): readonly Output[] {
    // Asked on every marshal that reaches the op: worked out once (the op is immutable).
    return (this.inputList ??= allOutputs(this.root, new Set(), []));
  }

  private inputList: readonly Output[] | undefined;

  /** Serializes the op exactly as Go's client/llb does. */
  marshal(ctx: MarshalContext): MarshaledVertex {
    const plan = new Planner(ctx);
    plan.add(this.root);
    const n = plan.inputs.length;
    const actions = plan.actions.map((st, i): Wire<Pb_FileAction> => ({
      input: st.inputRelative ? n + st.inputRelative.target : st.input,
      secondaryInput: st.input2Relative ? n + st.input2Relative.target : st.input2,
      output: i === plan.actions.length - 1 ? 0 : -1,
      ...actionBody(st.bound, st.base),
    }));
    // Go computes per-action caps (copy patterns, symlink, ...) before the action
    // list exists, so in practice only file.base is declared; match that exactly.
    const env = opEnvelope(ctx, undefined, opMeta(this.options, [Cap.fileBase]));
    const bytes = encodeOp({ inputs: plan.inputs, constraints: env.constraints, file: { actions } });
    return { digest: digestOf(bytes), bytes, meta: env.meta };
  }
}
