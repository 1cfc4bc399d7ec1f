import type { State } from "./state.ts";

/**
 * Who owns created files: `"user"`, `"user:group"` (names or numeric ids; `root`
 * is 0) resolved in the target filesystem, or explicit numeric ids.
 */
export type Owner = string | { readonly uid: number; readonly gid: number };

/** A creation time: a Date, or nanoseconds since the Unix epoch as a bigint. */
export type Timestamp = Date | bigint;

/** Options of `mkdir`. */
export interface MkdirOptions {
  /** Create missing parent directories too (like `mkdir -p`). */
  parents?: boolean;
  /** Owner of the new directory, e.g. `"1000:1000"`. */
  owner?: Owner;
  /** Modification time of the new directory, e.g. `new Date(0)`. */
  timestamp?: Timestamp;
}

/** Options of `mkfile`. */
export interface MkfileOptions {
  /** Owner of the new file, e.g. `"app"`. */
  owner?: Owner;
  /** Modification time of the new file, e.g. `new Date(0)`. */
  timestamp?: Timestamp;
}

/** Options of `rm`. */
export interface RmOptions {
  /** Succeed when the path does not exist. */
  allowNotFound?: boolean;
  /** Treat the path as a glob, e.g. `"/tmp/*.log"`. */
  allowWildcard?: boolean;
}

/** Options of `symlink`. */
export interface SymlinkOptions {
  /** Owner of the link, e.g. `"1000:1000"`. */
  owner?: Owner;
  /** Modification time of the link, e.g. `new Date(0)`. */
  timestamp?: Timestamp;
}

/** Options of `copy`. */
export interface CopyOptions {
  /** Copy what a symlink `src` points to rather than the link. */
  followSymlinks?: boolean;
  /** When `src` is a directory, copy its contents rather than the directory itself. */
  copyDirContents?: boolean;
  /** Create missing parent directories of `dest`. */
  createDestPath?: boolean;
  /** Treat `src` as a glob, e.g. `"*.go"`. */
  allowWildcard?: boolean;
  /** Do not fail when the glob in `src` matches nothing. */
  allowEmptyWildcard?: boolean;
  /** Copy only paths matching one of these patterns, e.g. `["**\/*.go"]`. */
  include?: readonly string[];
  /** Skip paths matching these patterns, e.g. `["node_modules"]`. */
  exclude?: readonly string[];
  /** Paths that must exist among the included ones, e.g. `["go.mod"]`. */
  requiredPaths?: readonly string[];
  /** Unpack `src` when it is a tar archive (Dockerfile `ADD` behaviour). */
  attemptUnpack?: boolean;
  /** Replace an existing `dest` of another file type instead of failing. */
  alwaysReplaceExistingDestPaths?: boolean;
  /** Permissions of copied files: bits like `0o755`, or a chmod string like `"u+x"`. */
  mode?: number | string;
  /** Owner of the copied files, e.g. `"1000:1000"`. */
  owner?: Owner;
  /** Modification time of the copied files, e.g. `new Date(0)`. */
  timestamp?: Timestamp;
}

/** One action of a chain, as given by the caller. */
export type Spec =
  | { kind: "mkdir"; path: string; mode: number; opts: MkdirOptions }
  | { kind: "mkfile"; path: string; mode: number; data: Uint8Array; opts: MkfileOptions }
  | { kind: "rm"; path: string; opts: RmOptions }
  | { kind: "symlink"; oldpath: string; newpath: string; opts: SymlinkOptions }
  | { kind: "copy"; from: State | BoundFileAction; src: string; dest: string; opts: CopyOptions };

/** A link of an unbound chain. */
export interface Node {
  readonly prev: Node | undefined;
  readonly spec: Spec;
}

/** A link of a chain applied to a State (Go binds chains when a FileOp is made). */
export interface Bound {
  readonly prev: Bound | undefined;
  readonly spec: Spec;
  readonly state: State;
}

const nodes = new WeakMap<FileAction, Node>();
const bounds = new WeakMap<BoundFileAction, Bound>();
let extend: (prev: FileAction | undefined, spec: Spec) => FileAction;
let boundAction: (bound: Bound) => BoundFileAction;

/** Applies a chain to `state`; every call makes new links, as Go's `bind` does. */
export function bind(node: Node, state: State): Bound {
  return { prev: node.prev && bind(node.prev, state), spec: node.spec, state };
}

/**
 * A chain of file operations applied in order by `State.file`, e.g.
 * `mkdir("/app", 0o755).mkfile("/app/VERSION", 0o644, "1.0").copy(src, "dist", "/app")`.
 * Relative paths are resolved against the dir of the State the chain is applied to.
 */
export class FileAction {
  static {
    extend = (prev, spec) => new FileAction({ prev: prev && nodes.get(prev), spec });
  }

  private constructor(node: Node) {
    nodes.set(this, node);
  }

  /** Then creates a directory; `mode` is permission bits, e.g. `0o755`. */
  mkdir(path: string, mode: number, opts: MkdirOptions = {}): FileAction {
    return extend(this, { kind: "mkdir", path, mode, opts });
  }

  /** Then creates a file with `data` (text is written as UTF-8). */
  mkfile(path: string, mode: number, data: string | Uint8Array, opts: MkfileOptions = {}): FileAction {
    return extend(this, { kind: "mkfile", path, mode, data: toBytes(data), opts });
  }

  /** Then removes a file or directory. */
  rm(path: string, opts: RmOptions = {}): FileAction {
    return extend(this, { kind: "rm", path, opts });
  }

  /** Then creates a symlink at `newpath` pointing to `oldpath` (both taken verbatim). */
  symlink(oldpath: string, newpath: string, opts: SymlinkOptions = {}): FileAction {
    return extend(this, { kind: "symlink", oldpath, newpath, opts });
  }

  /** Then copies `src` of `from` to `dest`; a relative `src` is resolved against `from`'s dir. */
  copy(from: State | BoundFileAction, src: string, dest: string, opts: CopyOptions = {}): FileAction {
    return extend(this, { kind: "copy", from, src, dest, opts });
  }

  /** This chain applied to `state`, usable as a copy source inside the same file op. */
  withState(state: State): BoundFileAction {
    return boundAction(bind(nodes.get(this)!, state));
  }
}

/** A FileAction chain applied to a State, as the source of a `copy`. */
export class BoundFileAction {
  static {
    boundAction = (bound) => new BoundFileAction(bound);
  }

  private constructor(bound: Bound) {
    bounds.set(this, bound);
  }
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

/** Starts a chain that creates a directory; `mode` is permission bits, e.g. `0o755`. */
export function mkdir(path: string, mode: number, opts: MkdirOptions = {}): FileAction {
  return extend(undefined, { kind: "mkdir", path, mode, opts });
}

/** Starts a chain that creates a file with `data` (text is written as UTF-8). */
export function mkfile(path: string, mode: number, data: string | Uint8Array, opts: MkfileOptions = {}): FileAction {
  return extend(undefined, { kind: "mkfile", path, mode, data: toBytes(data), opts });
}

/** Starts a chain that removes a file or directory. */
export function rm(path: string, opts: RmOptions = {}): FileAction {
  return extend(undefined, { kind: "rm", path, opts });
}

/** Starts a chain that creates a symlink at `newpath` pointing to `oldpath`. */
export function symlink(oldpath: string, newpath: string, opts: SymlinkOptions = {}): FileAction {
  return extend(undefined, { kind: "symlink", oldpath, newpath, opts });
}

/** Starts a chain that copies `src` of `from` to `dest`. */
export function copy(from: State | BoundFileAction, src: string, dest: string, opts: CopyOptions = {}): FileAction {
  return extend(undefined, { kind: "copy", from, src, dest, opts });
}

/** The chain behind a FileAction. */
export function nodeOf(action: FileAction): Node {
  const node = nodes.get(action);
  if (!node) throw new TypeError("not a FileAction");
  return node;
}

/** The bound chain behind a copy source made by `withState`. */
export function boundOf(source: BoundFileAction): Bound {
  return bounds.get(source)!;
}
