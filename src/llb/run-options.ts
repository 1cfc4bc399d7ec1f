import type { NetworkMode, SecurityMode } from "./meta.ts";
import type { State } from "./state.ts";
import type { VertexOptions } from "./vertex.ts";

/** How concurrent builds share a cache mount. */
export type CacheSharing = "shared" | "private" | "locked";

/** Mounts another State's filesystem (or a subdirectory of it). */
export interface BindMount {
  /** Discriminator. */
  type: "bind";
  /** Where it appears in the container, e.g. `"/src"`. */
  dest: string;
  /** The filesystem to mount; `scratch()` gives an empty writable dir, e.g. for outputs. */
  source: State;
  /** Subdirectory of `source` to mount instead of its root, e.g. `"/dist"`. */
  selector?: string;
  /** Mount read-only; the exec then has no output for it. */
  readonly?: boolean;
  /** Writable, but its changes are thrown away (no output). */
  noOutput?: boolean;
}

/** A persistent cache directory that survives between builds. */
export interface CacheMount {
  /** Discriminator. */
  type: "cache";
  /** Where it appears in the container, e.g. `"/root/.cache/go-build"`. */
  dest: string;
  /** Cache identity shared by every mount that names it, e.g. `"go-build"`; defaults to `dest`. */
  id?: string;
  /** Concurrent access: `shared` (default), `private` (one copy per writer) or `locked`. */
  sharing?: CacheSharing;
  /** Initial contents when the cache is created; empty by default. */
  source?: State;
  /** Subdirectory of `source` to seed the cache from, e.g. `"/seed"`. */
  selector?: string;
  /** Mount read-only. */
  readonly?: boolean;
}

/** A fresh in-memory filesystem. */
export interface TmpfsMount {
  /** Discriminator. */
  type: "tmpfs";
  /** Where it appears in the container, e.g. `"/tmp"`. */
  dest: string;
  /** Size limit in bytes, e.g. `64 * 1024 * 1024`; unlimited by default. */
  size?: number;
}

/** A secret from the client's session, mounted as a file. */
export interface SecretMount {
  /** Discriminator. */
  type: "secret";
  /** File path in the container, e.g. `"/root/.netrc"`. */
  dest: string;
  /** Secret id the session serves, e.g. `"netrc"`; defaults to `dest`. */
  id?: string;
  /** Owner uid of the file, e.g. `1000`; default 0. */
  uid?: number;
  /** Owner gid of the file, e.g. `1000`; default 0. */
  gid?: number;
  /** Permission bits, e.g. `0o440`; default `0o400`. */
  mode?: number;
  /** Do not fail when the session has no such secret. */
  optional?: boolean;
}

/** The client's SSH agent, forwarded as a socket. */
export interface SshMount {
  /** Discriminator. */
  type: "ssh";
  /** Socket path, e.g. `"/run/ssh.sock"`; defaults to `/run/buildkit/ssh_agent.<n>`. */
  dest?: string;
  /** SSH id the session serves, e.g. `"github"`; empty means the default agent. */
  id?: string;
  /** Owner uid of the socket; default 0. */
  uid?: number;
  /** Owner gid of the socket; default 0. */
  gid?: number;
  /** Permission bits, e.g. `0o666`; default `0o600`. */
  mode?: number;
  /** Do not fail when the session forwards no such agent. */
  optional?: boolean;
}

/** Any mount a `run` can have. */
export type Mount = BindMount | CacheMount | TmpfsMount | SecretMount | SshMount;

/** A secret exposed as an environment variable. */
export interface SecretEnv {
  /** Variable name, e.g. `"NPM_TOKEN"`. */
  name: string;
  /** Secret id the session serves, e.g. `"npm"`; defaults to `name`. */
  id?: string;
  /** Leave the variable unset when the session has no such secret. */
  optional?: boolean;
}

/** Options of `State.run`: exactly one of `args` and `shell` is required. */
export interface RunOptions extends VertexOptions {
  /** The command as an argv array, e.g. `["go", "build", "./..."]`. */
  args?: readonly string[];
  /** A shell script run with `/bin/sh -c`, e.g. `"make && make test"`. */
  shell?: string;
  /** Extra mounts besides the root filesystem. */
  mounts?: readonly Mount[];
  /** Environment for this command only, added after the State's, e.g. `{ CGO_ENABLED: "0" }`. */
  env?: Readonly<Record<string, string>>;
  /** Working dir for this command only; relative paths join the State's dir, e.g. `"cmd/app"`. */
  cwd?: string;
  /** User for this command only, e.g. `"1000:1000"` or `"nobody"`. */
  user?: string;
  /** Network for this command only, e.g. `"none"`. */
  network?: NetworkMode;
  /** Security mode for this command only, e.g. `"insecure"`. */
  security?: SecurityMode;
  /** Hostname inside the container, e.g. `"builder"`. */
  hostname?: string;
  /** Exit codes that count as success, e.g. `[0, 1]`; default `[0]`. */
  validExitCodes?: readonly number[];
  /** Mount the root filesystem read-only; the exec then produces no root output. */
  readonlyRootfs?: boolean;
  /** Secrets exposed as environment variables. */
  secretEnv?: readonly SecretEnv[];
}
