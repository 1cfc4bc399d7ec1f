// brewkit's LLB builder: immutable States compiled into BuildKit's op graph, with
// op bytes (and so digests) identical to what BuildKit's Go client produces.

export { State, ExecState } from "./state.ts";
export type { NetworkMode, SecurityMode } from "./meta.ts";
export type { VertexOptions, SourceMap, SourcePosition, OpLocation } from "./vertex.ts";

export { scratch, image, local, http } from "./source.ts";
export type { ImageOptions, LocalOptions, HttpOptions, ResolveMode, LocalDiffer } from "./source.ts";

export type {
  RunOptions,
  Mount,
  BindMount,
  CacheMount,
  TmpfsMount,
  SecretMount,
  SshMount,
  SecretEnv,
  CacheSharing,
} from "./run-options.ts";

export { FileAction, BoundFileAction, mkdir, mkfile, rm, copy, symlink } from "./file-action.ts";
export type { CopyOptions, MkdirOptions, MkfileOptions, RmOptions, SymlinkOptions, Owner, Timestamp } from "./file-action.ts";

export { marshal } from "./marshal.ts";
export type { Definition, MarshalOptions } from "./marshal.ts";

export { definitionToJSON } from "./json.ts";
export type { DefinitionJSON, OpJSON, Json } from "./json.ts";

export { normalizePlatform, parsePlatform, formatPlatform } from "./platform.ts";
export type { Platform } from "./platform.ts";
export { normalizeImageRef } from "./reference.ts";
export { encodeMessage, encodeOp, digestOf } from "./encode.ts";
export { Cap } from "./caps.ts";
export type { CapId } from "./caps.ts";
