import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseDaemonAddress } from "../client/address.ts";
import { ControlClient } from "../client/control.ts";
import { DaemonError } from "../errors.ts";
import type { DaemonPaths } from "./paths.ts";
import { findOnPath } from "./which.ts";

/** What `brewkit daemon status` reports. */
export interface DaemonStatus {
  running: boolean;
  address: string;
  pid?: number;
  version?: string;
  platforms?: string[];
  stateDir: string;
  logFile: string;
}

// A unix socket path longer than this does not fit in sockaddr_un.
const maxSocketPathBytes = 107;

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

  /** Starts the daemon unless one already answers; resolves once it answers. */
  async start(options: { timeoutMs?: number } = {}): Promise<{ started: boolean }> {
    if (await this.isRunning()) return { started: false };
    const binary = this.findBinary();
    if (Buffer.byteLength(this.paths.socket) > maxSocketPathBytes) {
      throw new DaemonError("SOCKET_PATH_TOO_LONG", `the daemon socket path ${this.paths.socket} is too long for a unix socket`, {
        hint: "set BREWKIT_HOME to a shorter directory",
      });
    }
    mkdirSync(this.paths.dir, { recursive: true });
    rmSync(this.paths.socket, { force: true });
    const args = [
      "--addr", this.address,
      ...this.extraAddresses.flatMap((addr) => ["--addr", addr]),
      "--root", this.paths.root,
      "--oci-worker=true",
      "--containerd-worker=false",
      // brewkit's own daemon serves one user, who may ask for host networking per target.
      ...(this.allowHostNetwork ? ["--allow-insecure-entitlement", "network.host"] : []),
    ];
    if (existsSync(this.paths.configFile)) args.push("--config", this.paths.configFile);
    const [command, commandArgs] = this.wrapUnprivileged(binary, args);
    const logFd = openSync(this.paths.logFile, "a");
    const child = spawn(command, commandArgs, {
      detached: true,
      stdio: ["ignore", logFd, logFd],
      env: { ...process.env, PATH: `${this.paths.binDir}${path.delimiter}${process.env.PATH ?? ""}` },
    });
    closeSync(logFd);
    let exited: number | null | undefined;
    child.on("exit", (code) => (exited = code));
    child.on("error", () => (exited = -1));
    child.unref();
    if (child.pid !== undefined) writeFileSync(this.paths.pidFile, `${child.pid}\n`);
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      if (exited !== undefined) {
        // Another brewkit may have started the same daemon first (buildkitd locks its root).
        if (await this.isRunning()) return { started: false };
        throw new DaemonError("DAEMON_START_FAILED", `buildkitd exited (code ${exited}) while starting:\n${this.logTail(15)}`, {
          hint: `see ${this.paths.logFile}`,
        });
      }
      if (await this.isRunning()) return { started: true };
      await sleep(100);
    }
    throw new DaemonError("DAEMON_START_TIMEOUT", `buildkitd did not answer on ${this.address} in time:\n${this.logTail(15)}`, {
      hint: `see ${this.paths.logFile}`,
    });
  }

  /** Stops the daemon if it runs; waits for it to exit. */
  async stop(options: { timeoutMs?: number } = {}): Promise<{ stopped: boolean }> {
    const pid = this.readPid();
    if (pid === undefined || !processAlive(pid)) {
      rmSync(this.paths.pidFile, { force: true });
      return { stopped: false };
    }
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    while (processAlive(pid)) {
      if (Date.now() > deadline) {
        process.kill(pid, "SIGKILL");
        await sleep(200);
        break;
      }
      await sleep(100);
    }
    rmSync(this.paths.pidFile, { force: true });
    return { stopped: true };
  }

  /** Running state, version and platforms of the daemon. */
  async status(): Promise<DaemonStatus> {
    const base = { address: this.address, stateDir: this.paths.root, logFile: this.paths.logFile, pid: this.readPid() };
    if (!(await this.isRunning())) return { ...base, running: false, pid: undefined };
    const control = new ControlClient(parseDaemonAddress(this.address, undefined, "brewkit"));
    try {
      const [info, workers] = await Promise.all([control.info(), control.listWorkers()]);
      const platforms = (workers[0]?.platforms ?? []).map((p) => [p.OS, p.Architecture, p.Variant].filter(Boolean).join("/"));
      return { ...base, running: true, version: info.buildkitVersion?.version, platforms };
    } finally {
      control.close();
    }
  }

  /** The last `lines` lines of the daemon's log. */
  logTail(lines: number): string {
    if (!existsSync(this.paths.logFile)) return "(no daemon log yet)";
    const text = readFileSync(this.paths.logFile, "utf8").trimEnd();
    return text.split("\n").slice(-lines).join("\n");
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
