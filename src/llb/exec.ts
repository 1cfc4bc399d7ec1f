import { UserInputError } from "../errors.ts";
import {
  Pb_CacheSharingOpt,
  Pb_MountType,
  Pb_NetMode,
  Pb_SecurityMode,
  type Pb_ExecOp,
  type Pb_Input,
  type Pb_Meta,
  type Pb_Mount,
} from "../proto/generated.ts";
import { Cap, type CapId } from "./caps.ts";
import { digestOf, encodeOp } from "./encode.ts";
import { metaOf, outputOf } from "./internal.ts";
import { compareUtf8 } from "../proto/order.ts";
import { envValue, withDir, withEnv, type NetworkMode, type SecurityMode, type StateMeta } from "./meta.ts";
import type { BindMount, CacheMount, CacheSharing, RunOptions, TmpfsMount } from "./run-options.ts";
import type { State } from "./state.ts";
import { Output, opEnvelope, opMeta, type MarshalContext, type MarshaledVertex, type Vertex } from "./vertex.ts";

interface FsMount {
  readonly dest: string;
  readonly source: Output | undefined;
  readonly readonly: boolean;
  readonly selector: string;
  readonly cacheId: string;
  readonly sharing: CacheSharing;
  readonly tmpfs: boolean;
  readonly tmpfsSize: number;
  readonly noOutput: boolean;
}

interface SocketMount {
  readonly dest: string;
  readonly id: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly optional: boolean;
}

const netModes: Record<NetworkMode, Pb_NetMode> = { sandbox: Pb_NetMode.UNSET, host: Pb_NetMode.HOST, none: Pb_NetMode.NONE };
const securityModes: Record<SecurityMode, Pb_SecurityMode> = { sandbox: Pb_SecurityMode.SANDBOX, insecure: Pb_SecurityMode.INSECURE };
const sharingModes: Record<CacheSharing, Pb_CacheSharingOpt> = {
  shared: Pb_CacheSharingOpt.SHARED,
  private: Pb_CacheSharingOpt.PRIVATE,
  locked: Pb_CacheSharingOpt.LOCKED,
};

function runError(message: string, hint?: string): UserInputError {
  return new UserInputError("LLB_INVALID_RUN", message, hint === undefined ? {} : { hint });
}

function hasOutput(m: FsMount): boolean {
  return !m.noOutput && !m.readonly && m.cacheId === "" && !m.tmpfs;
}

function fsMount(m: BindMount | CacheMount | TmpfsMount): FsMount {
  // Written out field by field (no spread of defaults): every run makes one per mount.
  switch (m.type) {
    case "bind":
      return { dest: m.dest, source: outputOf(m.source), readonly: m.readonly === true, selector: m.selector ?? "", cacheId: "", sharing: "shared", tmpfs: false, tmpfsSize: 0, noOutput: m.noOutput === true };
    case "cache": {
      const id = m.id ?? m.dest;
      if (id === "") throw runError(`cache mount at ${m.dest} needs a non-empty id`);
      return { dest: m.dest, source: m.source && outputOf(m.source), readonly: m.readonly === true, selector: m.selector ?? "", cacheId: id, sharing: m.sharing ?? "shared", tmpfs: false, tmpfsSize: 0, noOutput: false };
    }
    case "tmpfs":
      return { dest: m.dest, source: undefined, readonly: false, selector: "", cacheId: "", sharing: "shared", tmpfs: true, tmpfsSize: m.size ?? 0, noOutput: false };
  }
}

function commandOf(opts: RunOptions): string[] {
  if (opts.args !== undefined && opts.shell !== undefined) throw runError("run takes either args or shell, not both");
  const args = opts.shell !== undefined ? ["/bin/sh", "-c", opts.shell] : [...(opts.args ?? [])];
  if (args.length === 0) throw runError("run needs a command", "pass args: [...] or shell: \"...\"");
  return args;
}

/** The State's metadata with this run's own overrides applied (they do not outlive the exec). */
function execMeta(base: StateMeta, opts: RunOptions): StateMeta {
  let meta = base;
  for (const [k, v] of Object.entries(opts.env ?? {})) meta = withEnv(meta, k, v);
  if (opts.cwd !== undefined) meta = withDir(meta, opts.cwd);
  if (opts.user !== undefined) meta = { ...meta, user: opts.user };
  if (opts.network !== undefined) meta = { ...meta, network: opts.network };
  if (opts.security !== undefined) meta = { ...meta, security: opts.security };
  if (opts.hostname !== undefined) meta = { ...meta, hostname: opts.hostname };
  return meta;
}

/** A container run (Go's `ExecOp`). */
export class ExecOp implements Vertex {
  private readonly args: string[];
  private readonly meta: StateMeta;
  /** Filesystem mounts sorted by destination, the root (`/`) first. */
  private readonly mounts: FsMount[];
  private readonly outputs: Map<FsMount, Output | undefined>;
  private readonly secrets: SocketMount[];
  private readonly secretEnv: { id: string; name: string; optional: boolean }[];
  private readonly ssh: SocketMount[];
  private readonly validExitCodes: number[] | undefined;
  private readonly options: RunOptions;
  private readonly rootMount: FsMount;

  constructor(base: State, opts: RunOptions) {
    this.options = opts;
    this.args = commandOf(opts);
    let meta = execMeta(metaOf(base), opts);

    const root = fsMount({ type: "bind", dest: "/", source: base, readonly: opts.readonlyRootfs === true });
    const fs: FsMount[] = [root];
    const secrets: SocketMount[] = [];
    const ssh: SocketMount[] = [];
    for (const m of opts.mounts ?? []) {
      if (m.type === "secret") {
        secrets.push({ dest: m.dest, id: m.id ?? m.dest, uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o400, optional: m.optional === true });
      } else if (m.type === "ssh") {
        const dest = m.dest ?? `/run/buildkit/ssh_agent.${ssh.length}`;
        ssh.push({ dest, id: m.id ?? "", uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o600, optional: m.optional === true });
      } else {
        fs.push(fsMount(m));
      }
    }
    // Stable, like Go's sort for the few mounts a run has; equal destinations keep their order.
    fs.sort((a, b) => compareUtf8(a.dest, b.dest));
    if (ssh.length > 0 && envValue(meta, "SSH_AUTH_SOCK") === undefined) meta = withEnv(meta, "SSH_AUTH_SOCK", ssh[0]!.dest);

    this.meta = meta;
    this.mounts = fs;
    this.secrets = secrets;
    this.ssh = ssh;
    this.secretEnv = (opts.secretEnv ?? []).map((s) => ({ id: s.id ?? s.name, name: s.name, optional: s.optional === true }));
    this.validExitCodes = opts.validExitCodes && opts.validExitCodes.length > 0 ? [...opts.validExitCodes] : undefined;

    this.outputs = new Map();
    let next = 0;
    for (const m of fs) {
      if (hasOutput(m)) this.outputs.set(m, new Output(this, next++));
      else if (m.readonly) this.outputs.set(m, m.source);
    }
    this.rootMount = root;
  }

  /** The root filesystem after the command ran (the base itself when mounted read-only). */
  rootOutput(): Output | undefined {
    return this.outputs.get(this.rootMount);
  }

  /** The output of the mount at `dest`: its result, or its unchanged source if read-only. */
  mountOutput(dest: string): Output | undefined {
    const m = this.mounts.find((x) => x.dest === dest);
    if (!m) throw runError(`the run has no mount at ${dest}`);
    if (!this.outputs.has(m)) {
      const kind = m.tmpfs ? "tmpfs" : m.cacheId !== "" ? "cache" : "no-output";
      throw runError(`the ${kind} mount at ${dest} has no output to build on`, "use a writable bind mount for results");
    }
    return this.outputs.get(m);
  }

  /** The outputs this op reads, in Go's walk order (deduplicated by identity). */
  inputs(): readonly Output[] {
    // Asked on every marshal that reaches the op: worked out once (the op is immutable).
    if (this.inputList === undefined) {
      const seen = new Set<Output>();
      for (const m of this.mounts) if (m.source) seen.add(m.source);
      this.inputList = [...seen];
    }
    return this.inputList;
  }

  private inputList: readonly Output[] | undefined;

  private caps(): CapId[] {
    const caps: CapId[] = [];
    if (this.validExitCodes) caps.push(Cap.execValidExitCode);
    if ((this.meta.network ?? "sandbox") !== "sandbox") caps.push(Cap.execMetaNetwork);
    if (this.meta.security === "insecure") caps.push(Cap.execMetaSecurity);
    caps.push(Cap.execMetaBase);
    for (const m of this.mounts) {
      if (m.selector !== "") caps.push(Cap.execMountSelector);
      if (m.cacheId !== "") caps.push(Cap.execMountCache, Cap.execMountCacheSharing);
      else if (m.tmpfs) {
        caps.push(Cap.execMountTmpfs);
        if (m.tmpfsSize > 0) caps.push(Cap.execMountTmpfsSize);
      } else if (m.source) caps.push(Cap.execMountBind);
    }
    if (this.secrets.length + this.secretEnv.length > 0) caps.push(Cap.execMountSecret);
    if (this.secretEnv.length > 0) caps.push(Cap.execSecretEnv);
    if (this.ssh.length > 0) caps.push(Cap.execMountSsh);
    return caps;
  }

  /** Serializes the op exactly as Go's client/llb does. */
  marshal(ctx: MarshalContext): MarshaledVertex {
    const meta: Pb_Meta = { args: this.args, env: this.meta.env.map(([k, v]) => `${k}=${v}`), cwd: this.meta.dir, removeMountStubsRecursive: true };
    if (this.meta.user !== undefined) meta.user = this.meta.user;
    if (this.meta.hostname !== undefined) meta.hostname = this.meta.hostname;
    if (this.validExitCodes) meta.validExitCodes = this.validExitCodes;

    const inputs: Pb_Input[] = [];
    const mounts: Pb_Mount[] = [];
    let nextOutput = 0;
    for (const m of this.mounts) {
      let input = -1;
      if (m.source) {
        const inp = m.source.toInput(ctx);
        for (let k = 0; k < inputs.length && input === -1; k++) if (inputs[k]!.digest === inp.digest && inputs[k]!.index === inp.index) input = k;
        if (input === -1) input = inputs.push(inp) - 1;
      }
      const pm: Pb_Mount = { input, selector: m.selector, dest: m.dest, output: hasOutput(m) ? nextOutput++ : -1, readonly: m.readonly };
      if (m.cacheId !== "") {
        pm.mountType = Pb_MountType.CACHE;
        pm.cacheOpt = { ID: m.cacheId, sharing: sharingModes[m.sharing] };
      }
      if (m.tmpfs) {
        pm.mountType = Pb_MountType.TMPFS;
        pm.TmpfsOpt = { size: m.tmpfsSize };
      }
      mounts.push(pm);
    }
    for (const s of this.secrets) {
      mounts.push({ input: -1, dest: s.dest, mountType: Pb_MountType.SECRET, secretOpt: { ID: s.id, uid: s.uid, gid: s.gid, mode: s.mode, optional: s.optional } });
    }
    for (const s of this.ssh) {
      mounts.push({ input: -1, dest: s.dest, mountType: Pb_MountType.SSH, SSHOpt: { ID: s.id, uid: s.uid, gid: s.gid, mode: s.mode, optional: s.optional } });
    }

    const exec: Pb_ExecOp = {
      meta,
      mounts,
      network: netModes[this.meta.network ?? "sandbox"],
      security: securityModes[this.meta.security ?? "sandbox"],
    };
    if (this.secretEnv.length > 0) exec.secretenv = this.secretEnv.map((s) => ({ ID: s.id, name: s.name, optional: s.optional }));

    const env = opEnvelope(ctx, this.meta.platform, opMeta(this.options, this.caps()));
    const bytes = encodeOp({ inputs, platform: env.platform, constraints: env.constraints, exec });
    return { digest: digestOf(bytes), bytes, meta: env.meta };
  }
}
