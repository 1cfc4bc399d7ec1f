import { spawn } from "node:child_process";
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseDaemonAddress } from "../client/address.ts";
import { ControlClient } from "../client/control.ts";
import { DaemonError, type ErrorCode } from "../errors.ts";
import type { Moby_Buildkit_V1_Types_WorkerRecord as WorkerRecord } from "../proto/generated.ts";
import { chooseBridgeNetwork, parseProcNetRoute, type BridgeNetwork, type HostRoute } from "./bridge-network.ts";
import { findCniPlugins } from "./cni-plugins.ts";
import { daemonConfigToml } from "./daemon-config.ts";
import { acquireDaemonLock } from "./daemon-lock.ts";
import { findDaemonProcesses, isDaemonProcess, processAlive } from "./daemon-process.ts";
import { daemonLaunch, stepsHaveOwnNetwork, type DaemonMode } from "./launch.ts";
import type { DaemonPaths } from "./paths.ts";
import { assertDaemonPrivate } from "./privacy.ts";
import { planRootless, rootlessNotReady } from "./rootless.ts";
import { probeRootless } from "./rootless-probe.ts";
import type { RegistrySettings } from "../registry/user-registries.ts";
import { releaseStaleNamespaces } from "./stale-namespaces.ts";
import { startFailureCause } from "./start-failure.ts";
import { findOnPath } from "./which.ts";

/** What `brewkit daemon status` reports. */
export interface DaemonStatus {
  running: boolean;
  address: string;
  pid?: number;
  version?: string;
  platforms?: string[];
  /** What network the daemon's steps get by default: `cni` (its bridge, when known) or `host`. */
  network?: { mode: string; bridge?: BridgeNetwork };
  /** How the running daemon was started, as recorded at its start. */
  started?: StartRecord;
  stateDir: string;
  logFile: string;
}

/** How a daemon was started, kept beside its state while it runs (`daemon status` shows it). */
export interface StartRecord {
  mode: "rootful" | "rootless";
  /** Why this mode. */
  reason: string;
  /** The steps' default network: the daemon's bridge on the host, its bridge in RootlessKit's namespace, or the user's host network. */
  network: "bridge" | "slirp4netns" | "host";
  /** Why steps share the host's network (network `host` only). */
  networkReason?: string;
  /** A run has warned that steps share the host's network (once per start). */
  warned?: boolean;
}

/** What `LocalDaemon.stop` did. */
export interface StopResult {
  /** A daemon was running and has been stopped. */
  stopped: boolean;
  /** A live process the pid file named that is not this daemon: left alone. */
  unrelatedPid?: number;
  /** Step network namespaces a killed daemon left mounted in its state dir that could not be released now. */
  namespacesLeft?: string[];
}

/** The worker label in which BuildKit says what network steps get by default: `cni` (the bridge), `host`. */
export const workerNetworkLabel = "org.mobyproject.buildkit.worker.network";

/**
 * Refuses a local daemon whose steps get the host's network by default, as one an earlier
 * brewkit started does: builds on it would reach the host's loopback. The one exception is
 * a rootless daemon on a machine where RootlessKit cannot give it a network of its own:
 * it was started so on purpose, and `sharedNetworkWarning` says so.
 */
export function requireStepNetwork(worker: WorkerRecord | undefined, daemon: LocalDaemon): void {
  const network = worker?.Labels?.[workerNetworkLabel];
  if (network === undefined || network === "cni") return;
  const record = daemon.startRecord();
  if (network === "host" && record?.mode === "rootless" && record.network === "host") return;
  throw new DaemonError("DAEMON_HOST_NETWORK", `brewkit's daemon on ${daemon.address} gives steps the ${network} network, not one of their own (an earlier brewkit started it)`, {
    hint: "restart it: `brewkit daemon stop`, then run again",
  });
}

// A unix socket path longer than this does not fit in sockaddr_un.
const maxSocketPathBytes = 107;
// The longest socket a daemon makes in its socket dir: RootlessKit's API socket.
const rootlesskitApiSocket = "api.sock";

// How long `stop` waits for a start in progress in another process.
const stopLockWaitMs = 60_000;

/** A buildkitd that brewkit starts, reuses and stops itself, on a private socket. */
export class LocalDaemon {
  /**
   * @param paths where the daemon keeps its files
   * @param extraAddresses more addresses to listen on besides the socket, e.g. `tcp://127.0.0.1:1234`
   * @param allowHostNetwork let targets use `network: "host"` (the `network.host` entitlement)
   * @param registrySettings the registries whose CA, plain HTTP or TLS checks the daemon is configured with (read when it starts)
   */
  constructor(
    readonly paths: DaemonPaths,
    private readonly extraAddresses: string[] = [],
    private readonly allowHostNetwork = true,
    private readonly registrySettings: () => Promise<RegistrySettings[]> = async () => [],
  ) {}

  /** The daemon's address, `unix://<socket>`. */
  get address(): string {
    return `unix://${this.paths.socket}`;
  }

  /** True when a daemon answers on the socket. */
  async isRunning(): Promise<boolean> {
    if (!existsSync(this.paths.socket)) return false;
    assertDaemonPrivate(this.paths);
    const control = new ControlClient(parseDaemonAddress(this.address, undefined, "brewkit"));
    try {
      await control.listWorkers(1_000);
      return true;
    } catch {
      return false;
    } finally {
      control.close();
    }
  }

  /** The path of buildkitd: brewkit's bin dir first, then PATH. */
  findBinary(): string {
    const own = path.join(this.paths.binDir, "buildkitd");
    if (existsSync(own)) return own;
    const onPath = findOnPath("buildkitd");
    if (onPath) return onPath;
    throw new DaemonError("DAEMON_NOT_INSTALLED", `buildkitd is not installed (looked in ${this.paths.binDir} and on PATH)`, {
      hint: "run `brewkit daemon install`, or point --addr / BUILDKIT_HOST at a running buildkitd",
    });
  }

  /**
   * Starts the daemon unless one already answers; resolves once it answers. As root, steps
   * get a network of their own on the daemon's bridge; another user's daemon runs rootless
   * (see `mode`). Concurrent starts (other brewkit processes included) end with one daemon,
   * the one its pid file names.
   */
  async start(options: { timeoutMs?: number } = {}): Promise<{ started: boolean }> {
    if (await this.isRunning()) return { started: false };
    const binary = this.findBinary();
    const longest = [this.paths.socket, this.paths.otelSocket, path.join(this.paths.rootlesskitStateDir, rootlesskitApiSocket)]
      .find((socket) => Buffer.byteLength(socket) > maxSocketPathBytes);
    if (longest) {
      throw new DaemonError("SOCKET_PATH_TOO_LONG", `the daemon socket path ${longest} is too long for a unix socket`, {
        hint: "set BREWKIT_HOME to a shorter directory",
      });
    }
    // Everything the mode needs is checked before anything starts.
    const mode = this.mode();
    const cni = stepsHaveOwnNetwork(mode) ? findCniPlugins(this.searchPath()) : { dir: undefined };
    this.makePrivateDirs();
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const lock = await acquireDaemonLock(this.paths.lockNameFile, { deadline, satisfied: () => this.isRunning() });
    if (!lock) return { started: false };
    try {
      if (await this.isRunning()) return { started: false };
      const starting = findDaemonProcesses(this.address);
      if (starting.length) return await this.awaitStarting(starting, binary, mode, cni.dir, deadline);
      return await this.spawnDaemon(binary, mode, cni.dir, deadline);
    } finally {
      lock.release();
    }
  }

  /**
   * How this daemon runs: rootful as root; for any other user rootless, under RootlessKit,
   * once the machine offers all it needs (else an error naming each missing piece and its
   * fix), with RootlessKit's own network where slirp4netns can run and the user's host
   * network where it cannot.
   */
  mode(): DaemonMode {
    if (process.getuid?.() === 0) return { kind: "rootful" };
    const plan = planRootless(probeRootless(this.searchPath()));
    if (plan.problems.length) throw rootlessNotReady(plan.problems);
    return { kind: "rootless", rootlesskit: findOnPath("rootlesskit", this.searchPath())!, network: plan.network };
  }

  /** How the daemon now running was started, when it was started by this brewkit. */
  startRecord(): StartRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.paths.startRecordFile, "utf8")) as StartRecord;
    } catch {
      return undefined;
    }
  }

  /**
   * The warning a run gives, once per start of the daemon, when its steps share the user's
   * host network (a rootless daemon where RootlessKit cannot have a network of its own).
   */
  sharedNetworkWarning(): string | undefined {
    const record = this.startRecord();
    if (!record || record.network !== "host" || record.warned) return undefined;
    writePrivateFile(this.paths.startRecordFile, `${JSON.stringify({ ...record, warned: true })}\n`);
    return `warning: steps whose network is "default" share your host's network, loopback included, on this rootless daemon: ${record.networkReason ?? "RootlessKit has no network of its own here"}`;
  }

  /**
   * Stops the daemon if it runs and waits for it to exit. Only processes whose command line
   * is this daemon's (buildkitd on this socket) are signalled: a pid file naming another
   * process (its pid reused after a crash) is removed, and the process left alone.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<StopResult> {
    const lock = existsSync(this.paths.dir) ? await acquireDaemonLock(this.paths.lockNameFile, { deadline: Date.now() + stopLockWaitMs }) : undefined;
    try {
      const filePid = this.readPid();
      const unrelatedPid = filePid !== undefined && processAlive(filePid) && !isDaemonProcess(filePid, this.address) ? filePid : undefined;
      const pids = findDaemonProcesses(this.address);
      for (const pid of pids) signal(pid, "SIGTERM");
      const deadline = Date.now() + (options.timeoutMs ?? 15_000);
      for (;;) {
        const left = pids.filter((pid) => isDaemonProcess(pid, this.address));
        if (!left.length) break;
        if (Date.now() > deadline) {
          for (const pid of left) signal(pid, "SIGKILL");
          await sleep(200);
          break;
        }
        await sleep(100);
      }
      rmSync(this.paths.pidFile, { force: true });
      rmSync(this.paths.startRecordFile, { force: true });
      // Only with no daemon left on this state dir: a live one is still using them.
      const namespacesLeft = findDaemonProcesses(this.address).length === 0 ? releaseStaleNamespaces(this.paths.root) : [];
      return { stopped: pids.length > 0, ...(unrelatedPid === undefined ? {} : { unrelatedPid }), ...(namespacesLeft.length ? { namespacesLeft } : {}) };
    } finally {
      lock?.release();
    }
  }

  /** Running state, version and platforms of the daemon. */
  async status(): Promise<DaemonStatus> {
    const base = { address: this.address, stateDir: this.paths.root, logFile: this.paths.logFile };
    if (!(await this.isRunning())) return { ...base, running: false };
    const filePid = this.readPid();
    const pids = findDaemonProcesses(this.address);
    const pid = filePid !== undefined && pids.includes(filePid) ? filePid : pids[0];
    const control = new ControlClient(parseDaemonAddress(this.address, undefined, "brewkit"));
    try {
      const [info, workers] = await Promise.all([control.info(), control.listWorkers()]);
      const platforms = (workers[0]?.platforms ?? []).map((p) => [p.OS, p.Architecture, p.Variant].filter(Boolean).join("/"));
      const mode = workers[0]?.Labels?.[workerNetworkLabel];
      const network = mode === undefined ? undefined : { mode, bridge: mode === "cni" ? this.configuredNetwork() : undefined };
      const started = this.startRecord();
      return { ...base, running: true, pid, version: info.buildkitVersion?.version, platforms, network, ...(started ? { started } : {}) };
    } finally {
      control.close();
    }
  }

  /** The last `lines` lines of the daemon's log. */
  logTail(lines: number): string {
    if (!existsSync(this.paths.logFile)) return "(no daemon log yet)";
    return lastLines(readFileSync(this.paths.logFile, "utf8"), lines);
  }

  private async spawnDaemon(binary: string, mode: DaemonMode, cniDir: string | undefined, deadline: number): Promise<{ started: boolean }> {
    // No daemon of this directory runs (the lock is held): a socket left here is stale.
    rmSync(this.paths.socket, { force: true });
    // Written before the daemon answers: a run that finds it answering reads how it runs.
    writePrivateFile(this.paths.startRecordFile, `${JSON.stringify(startRecord(mode))}\n`);
    const ownNetwork = stepsHaveOwnNetwork(mode);
    // In RootlessKit's namespace, the bridge's subnet still avoids the host's routes: slirp4netns leads to them.
    const bridge = ownNetwork ? chooseBridgeNetwork(this.paths.dir, hostRoutes()) : undefined;
    const userConfig = existsSync(this.paths.configFile) ? readFileSync(this.paths.configFile, "utf8") : undefined;
    writePrivateFile(this.paths.effectiveConfigFile, daemonConfigToml(userConfig, { ...(bridge ? { bridge } : {}), otelSocket: this.paths.otelSocket, registries: await this.registrySettings() }));
    const { command, args: commandArgs } = daemonLaunch({
      mode,
      binary,
      paths: this.paths,
      extraAddresses: this.extraAddresses,
      allowHostNetwork: this.allowHostNetwork,
      ...(cniDir ? { cniDir } : {}),
    });
    const logStart = existsSync(this.paths.logFile) ? statSync(this.paths.logFile).size : 0;
    const logFd = openSync(this.paths.logFile, "a", 0o600);
    fchmodSync(logFd, 0o600);
    const child = spawn(command, commandArgs, {
      detached: true,
      stdio: ["ignore", logFd, logFd],
      env: { ...process.env, PATH: this.searchPath() },
    });
    closeSync(logFd);
    let exit: string | undefined;
    child.on("exit", (code, signalName) => (exit = code === null ? `signal ${signalName}` : `code ${code}`));
    child.on("error", (err) => (exit = err.message));
    child.unref();
    if (child.pid !== undefined) writePrivateFile(this.paths.pidFile, `${child.pid}\n`);
    while (Date.now() < deadline) {
      if (exit !== undefined) {
        rmSync(this.paths.pidFile, { force: true });
        rmSync(this.paths.startRecordFile, { force: true });
        throw this.startFailure(`buildkitd exited (${exit}) while starting`, logStart);
      }
      if (await this.isRunning()) {
        // buildkitd opens its socket to its group (0660): the daemon is the user's alone.
        chmodSync(this.paths.socket, 0o600);
        return { started: true };
      }
      await sleep(100);
    }
    throw this.startFailure(`buildkitd did not answer on ${this.address} in time`, logStart, "DAEMON_START_TIMEOUT");
  }

  /** Waits for a daemon of this directory that another brewkit started and stopped waiting for. */
  private async awaitStarting(pids: number[], binary: string, mode: DaemonMode, cniDir: string | undefined, deadline: number): Promise<{ started: boolean }> {
    while (Date.now() < deadline) {
      if (await this.isRunning()) return { started: false };
      if (!pids.some((pid) => isDaemonProcess(pid, this.address))) return this.spawnDaemon(binary, mode, cniDir, deadline);
      await sleep(100);
    }
    throw new DaemonError("DAEMON_START_TIMEOUT", `buildkitd (pid ${pids.join(", ")}) runs on ${this.address} but does not answer`, {
      hint: `see ${this.paths.logFile}; \`brewkit daemon stop\` stops it`,
    });
  }

  /** The error of a start that failed: the cause line of this start's log, else its last lines. */
  private startFailure(what: string, logStart: number, code: ErrorCode = "DAEMON_START_FAILED"): DaemonError {
    const log = existsSync(this.paths.logFile) ? readFileSync(this.paths.logFile).subarray(logStart).toString("utf8") : "";
    const cause = startFailureCause(log);
    const detail = cause ? `: ${cause}` : `:\n${lastLines(log, 15) || "(the daemon logged nothing)"}`;
    const settings = existsSync(this.paths.configFile) ? `; its settings are in ${this.paths.configFile}` : "";
    return new DaemonError(code, `${what}${detail}`, { hint: `the daemon's log is ${this.paths.logFile} (\`brewkit daemon logs\`)${settings}` });
  }

  /** The socket's directory and the state dir are the user's alone, whatever the umask. */
  private makePrivateDirs(): void {
    for (const dir of new Set([this.paths.dir, this.paths.root, this.paths.socketDir])) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
  }

  /** PATH for buildkitd: brewkit's binaries first; the CNI plugins run iptables from sbin. */
  private searchPath(): string {
    const entries = [this.paths.binDir, ...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean)];
    for (const sbin of ["/usr/local/sbin", "/usr/sbin", "/sbin"]) if (!entries.includes(sbin)) entries.push(sbin);
    return entries.join(path.delimiter);
  }

  /** The bridge and subnet written into the daemon's effective config when it was last started. */
  private configuredNetwork(): BridgeNetwork | undefined {
    if (!existsSync(this.paths.effectiveConfigFile)) return undefined;
    const text = readFileSync(this.paths.effectiveConfigFile, "utf8");
    const bridgeName = /^\s*bridgeName\s*=\s*"([^"]*)"/m.exec(text)?.[1];
    const subnet = /^\s*bridgeSubnet\s*=\s*"([^"]*)"/m.exec(text)?.[1];
    return bridgeName && subnet ? { bridgeName, subnet } : undefined;
  }

  private readPid(): number | undefined {
    if (!existsSync(this.paths.pidFile)) return undefined;
    const pid = Number.parseInt(readFileSync(this.paths.pidFile, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }
}

function startRecord(mode: DaemonMode): StartRecord {
  if (mode.kind === "rootful") return { mode: "rootful", reason: "brewkit runs as root", network: "bridge" };
  const reason = `you are not root (uid ${process.getuid?.()}): buildkitd runs as the root of a user namespace of RootlessKit, mapped to you`;
  if (mode.network.driver === "slirp4netns") return { mode: "rootless", reason, network: "slirp4netns" };
  return { mode: "rootless", reason, network: "host", networkReason: mode.network.reason };
}

/** The host's IPv4 routes; none known where /proc/net/route cannot be read. */
function hostRoutes(): HostRoute[] {
  try {
    return parseProcNetRoute(readFileSync("/proc/net/route", "utf8"));
  } catch {
    return [];
  }
}

function writePrivateFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

function lastLines(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
