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
import type { DaemonPaths } from "./paths.ts";
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
  stateDir: string;
  logFile: string;
}

/** What `LocalDaemon.stop` did. */
export interface StopResult {
  /** A daemon was running and has been stopped. */
  stopped: boolean;
  /** A live process the pid file named that is not this daemon: left alone. */
  unrelatedPid?: number;
}

/** The worker label in which BuildKit says what network steps get by default: `cni` (the bridge), `host`. */
export const workerNetworkLabel = "org.mobyproject.buildkit.worker.network";

/**
 * Refuses a local daemon whose steps get the host's network by default, as one an earlier
 * brewkit started does: builds on it would reach the host's loopback.
 */
export function requireStepNetwork(worker: WorkerRecord | undefined, daemon: LocalDaemon): void {
  const network = worker?.Labels?.[workerNetworkLabel];
  if (network === undefined || network === "cni") return;
  throw new DaemonError("DAEMON_HOST_NETWORK", `brewkit's daemon on ${daemon.address} gives steps the ${network} network, not one of their own (an earlier brewkit started it)`, {
    hint: "restart it: `brewkit daemon stop`, then run again",
  });
}

// A unix socket path longer than this does not fit in sockaddr_un.
const maxSocketPathBytes = 107;

// How long `stop` waits for a start in progress in another process.
const stopLockWaitMs = 60_000;

/** A buildkitd that brewkit starts, reuses and stops itself, on a private socket. */
export class LocalDaemon {
  /**
   * @param paths where the daemon keeps its files
   * @param extraAddresses more addresses to listen on besides the socket, e.g. `tcp://127.0.0.1:1234`
   * @param allowHostNetwork let targets use `network: "host"` (the `network.host` entitlement)
   */
  constructor(
    readonly paths: DaemonPaths,
    private readonly extraAddresses: string[] = [],
    private readonly allowHostNetwork = true,
  ) {}

  /** The daemon's address, `unix://<socket>`. */
  get address(): string {
    return `unix://${this.paths.socket}`;
  }

  /** True when a daemon answers on the socket. */
  async isRunning(): Promise<boolean> {
    if (!existsSync(this.paths.socket)) return false;
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
   * Starts the daemon unless one already answers; resolves once it answers. Steps get a
   * network of their own on the daemon's bridge; concurrent starts (other brewkit
   * processes included) end with one daemon, the one its pid file names.
   */
  async start(options: { timeoutMs?: number } = {}): Promise<{ started: boolean }> {
    if (await this.isRunning()) return { started: false };
    const binary = this.findBinary();
    if (Buffer.byteLength(this.paths.socket) > maxSocketPathBytes) {
      throw new DaemonError("SOCKET_PATH_TOO_LONG", `the daemon socket path ${this.paths.socket} is too long for a unix socket`, {
        hint: "set BREWKIT_HOME to a shorter directory",
      });
    }
    const cni = findCniPlugins(this.searchPath());
    this.makePrivateDirs();
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    const lock = await acquireDaemonLock(this.paths.lockNameFile, { deadline, satisfied: () => this.isRunning() });
    if (!lock) return { started: false };
    try {
      if (await this.isRunning()) return { started: false };
      const starting = findDaemonProcesses(this.address);
      if (starting.length) return await this.awaitStarting(starting, binary, cni.dir, deadline);
      return await this.spawnDaemon(binary, cni.dir, deadline);
    } finally {
      lock.release();
    }
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
      return { stopped: pids.length > 0, ...(unrelatedPid === undefined ? {} : { unrelatedPid }) };
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
      return { ...base, running: true, pid, version: info.buildkitVersion?.version, platforms, network };
    } finally {
      control.close();
    }
  }

  /** The last `lines` lines of the daemon's log. */
  logTail(lines: number): string {
    if (!existsSync(this.paths.logFile)) return "(no daemon log yet)";
    return lastLines(readFileSync(this.paths.logFile, "utf8"), lines);
  }

  private async spawnDaemon(binary: string, cniDir: string | undefined, deadline: number): Promise<{ started: boolean }> {
    // No daemon of this directory runs (the lock is held): a socket left here is stale.
    rmSync(this.paths.socket, { force: true });
    const network = chooseBridgeNetwork(this.paths.dir, hostRoutes());
    const userConfig = existsSync(this.paths.configFile) ? readFileSync(this.paths.configFile, "utf8") : undefined;
    writePrivateFile(this.paths.effectiveConfigFile, daemonConfigToml(userConfig, network));
    const args = [
      "--addr", this.address,
      ...this.extraAddresses.flatMap((addr) => ["--addr", addr]),
      "--root", this.paths.root,
      "--config", this.paths.effectiveConfigFile,
      "--oci-worker=true",
      "--containerd-worker=false",
      // Each step gets its own network namespace on the daemon's bridge, not the host's network.
      "--oci-worker-net=bridge",
      ...(cniDir ? ["--oci-cni-binary-dir", cniDir] : []),
      // brewkit's own daemon serves one user, who may ask for host networking per target.
      ...(this.allowHostNetwork ? ["--allow-insecure-entitlement", "network.host"] : []),
    ];
    const [command, commandArgs] = this.wrapUnprivileged(binary, args);
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
        throw this.startFailure(`buildkitd exited (${exit}) while starting`, logStart);
      }
      if (await this.isRunning()) return { started: true };
      await sleep(100);
    }
    throw this.startFailure(`buildkitd did not answer on ${this.address} in time`, logStart, "DAEMON_START_TIMEOUT");
  }

  /** Waits for a daemon of this directory that another brewkit started and stopped waiting for. */
  private async awaitStarting(pids: number[], binary: string, cniDir: string | undefined, deadline: number): Promise<{ started: boolean }> {
    while (Date.now() < deadline) {
      if (await this.isRunning()) return { started: false };
      if (!pids.some((pid) => isDaemonProcess(pid, this.address))) return this.spawnDaemon(binary, cniDir, deadline);
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
    for (const dir of [this.paths.dir, this.paths.root]) {
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

  /** buildkitd needs root; other users go through rootlesskit when it is installed. */
  private wrapUnprivileged(binary: string, args: string[]): [string, string[]] {
    if (process.getuid?.() === 0) return [binary, args];
    const rootlesskit = findOnPath("rootlesskit");
    if (!rootlesskit) {
      throw new DaemonError("DAEMON_NEEDS_ROOT", "buildkitd needs root, or rootlesskit for a rootless daemon", {
        hint: "install rootlesskit (and uidmap), run as root, or point --addr / BUILDKIT_HOST at a running buildkitd",
      });
    }
    return [rootlesskit, [binary, "--oci-worker-no-process-sandbox", ...args]];
  }
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
