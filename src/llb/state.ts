import { ExecOp } from "./exec.ts";
import type { RunOptions } from "./run-options.ts";
import type { FileAction } from "./file-action.ts";
import { FileOp } from "./file-op.ts";
import { metaOf, outputOf, registerState } from "./internal.ts";
import { envValue, initialMeta, withDir, withEnv, type NetworkMode, type SecurityMode, type StateMeta } from "./meta.ts";
import { normalizePlatform, type Platform } from "./platform.ts";
import type { Output, VertexOptions } from "./vertex.ts";

let makeState: (output: Output | undefined, meta: StateMeta) => State;
let makeExecState: (state: State, exec: ExecOp) => ExecState;

/**
 * An immutable build state: a filesystem (the output of a source, run or file op,
 * or nothing for scratch) plus the dir, env, user, platform and network a later
 * `run` would use. Every method returns a new State; only `run` and `file` add ops.
 */
export class State {
  static {
    makeState = (output, meta) => new State(output, meta);
  }

  protected constructor(output: Output | undefined, meta: StateMeta) {
    registerState(this, output, meta);
  }

  /** Working dir for later runs and relative paths; a relative `path` joins the current dir. */
  dir(path: string): State {
    return makeState(outputOf(this), withDir(metaOf(this), path));
  }

  /** Sets one environment variable (setting it again moves it last, like Go's llb). */
  env(key: string, value: string): State {
    return makeState(outputOf(this), withEnv(metaOf(this), key, value));
  }

  /** Sets several environment variables, in the record's key order. */
  envs(vars: Readonly<Record<string, string>>): State {
    let meta = metaOf(this);
    for (const [k, v] of Object.entries(vars)) meta = withEnv(meta, k, v);
    return makeState(outputOf(this), meta);
  }

  /** User later runs execute as, e.g. `"1000:1000"` or `"nobody"`. */
  user(user: string): State {
    return makeState(outputOf(this), { ...metaOf(this), user });
  }

  /** Platform of later runs (normalized, e.g. `aarch64` → `arm64`). */
  platform(platform: Platform): State {
    return makeState(outputOf(this), { ...metaOf(this), platform: normalizePlatform(platform) });
  }

  /** Network of later runs; `host` needs the `network.host` entitlement. */
  network(mode: NetworkMode): State {
    return makeState(outputOf(this), { ...metaOf(this), network: mode });
  }

  /** Security mode of later runs; `insecure` needs the `security.insecure` entitlement. */
  security(mode: SecurityMode): State {
    return makeState(outputOf(this), { ...metaOf(this), security: mode });
  }

  /** Hostname of later runs' containers. */
  hostname(name: string): State {
    return makeState(outputOf(this), { ...metaOf(this), hostname: name });
  }

  /** The working dir. */
  getDir(): string {
    return metaOf(this).dir;
  }

  /** The value of an environment variable, or undefined. */
  getEnv(key: string): string | undefined {
    return envValue(metaOf(this), key);
  }

  /** All environment variables as `[key, value]` pairs, in the order a run gets them. */
  getEnvList(): readonly (readonly [string, string])[] {
    return metaOf(this).env;
  }

  /** The user, or undefined when none was set (the image's default). */
  getUser(): string | undefined {
    return metaOf(this).user;
  }

  /** The platform, or undefined when the marshal default applies. */
  getPlatform(): Platform | undefined {
    return metaOf(this).platform;
  }

  /** The network mode; `sandbox` unless set. */
  getNetwork(): NetworkMode {
    return metaOf(this).network ?? "sandbox";
  }

  /** True for an empty filesystem (`scratch()`), which has no op. */
  isScratch(): boolean {
    return outputOf(this) === undefined;
  }

  /** Runs a command in a container whose root filesystem is this State. */
  run(opts: RunOptions): ExecState {
    return makeExecState(this, new ExecOp(this, opts));
  }

  /** Applies a chain of file actions to this State's filesystem. */
  file(action: FileAction, opts?: VertexOptions): State {
    return withOutput(this, new FileOp(this, action, opts).output);
  }
}

/** A State whose filesystem is a new output, keeping (and updating the platform of) the metadata. */
function withOutput(state: State, output: Output | undefined): State {
  const meta = metaOf(state);
  return makeState(output, output?.platform ? { ...meta, platform: normalizePlatform(output.platform) } : meta);
}

/**
 * The result of `State.run`. As a State it is the root filesystem after the
 * command, with the metadata of the State `run` was called on.
 */
export class ExecState extends State {
  #exec: ExecOp | undefined;

  static {
    makeExecState = (state, exec) => {
      const root = withOutput(state, exec.rootOutput());
      const out = new ExecState(outputOf(root), metaOf(root));
      out.#exec = exec;
      return out;
    };
  }

  /** The root filesystem after the command, as a plain State. */
  root(): State {
    return makeState(outputOf(this), metaOf(this));
  }

  /**
   * The filesystem of the mount at `dest` after the command (writable bind mounts),
   * or its unchanged source (read-only mounts). Like Go's `GetMount`, it starts with
   * fresh metadata: dir `/`, no env, no platform.
   */
  mount(dest: string): State {
    const output = this.#exec!.mountOutput(dest);
    return makeState(output, initialMeta(output?.platform));
  }
}

/** A State for `output` as Go's `NewState` makes it: dir `/` and the output's platform. */
export function newState(output: Output | undefined): State {
  return makeState(output, initialMeta(output?.platform));
}
