import type { ControlClient } from "../client/control.ts";
import type { GrpcCall } from "../client/grpc-connection.ts";
import { healthService } from "./health.ts";
import type { ExportFailure, ExportTarget, LocalDir, TransferStats } from "./file-services.ts";
import { emptyTransferStats, fileSendService, fileSyncService } from "./file-services.ts";
import type { SessionService } from "./services.ts";
import { SessionGrpcServer } from "./grpc-server.ts";
import type { MethodHandler } from "./grpc-server.ts";
import { newId } from "./ids.ts";
import { sessionTunnel } from "./tunnel.ts";

/** What a session offers the daemon during one build. */
export interface SessionOptions {
  /** Local dirs by the name used in `local://<name>` sources. */
  localDirs?: ReadonlyMap<string, LocalDir>;
  /** Local export destinations by index in SolveRequest.Exporters. */
  exports?: ReadonlyMap<number, ExportTarget>;
  /**
   * Stable key of this machine and project: the daemon reuses the previous upload of a
   * local dir with the same key and asks only for files that changed.
   */
  sharedKey: string;
  /** Extra services (secrets, ssh forwarding, ...). */
  services?: SessionService[];
  /** Told when an export waits for another process moving files into the same project. */
  onExportWait?: (dest: string, pid: number) => void;
}

/**
 * brewkit's side of a BuildKit session: a gRPC server that the daemon calls back
 * through the Control.Session tunnel (file sync, exports, health, ...).
 */
export class BuildSession {
  readonly id = newId();
  readonly stats: TransferStats = emptyTransferStats();
  private readonly server: SessionGrpcServer;
  private readonly abort = new AbortController();
  private call: GrpcCall | undefined;
  private readonly methods = new Map<string, MethodHandler>();
  private readonly exportsInFlight = new Set<Promise<unknown>>();
  /** Exports this side failed to write (the daemon only hears that they failed). */
  readonly exportFailures: ExportFailure[] = [];

  constructor(private readonly options: SessionOptions) {
    const signal = this.abort.signal;
    const services = [
      healthService(),
      fileSyncService(options.localDirs ?? new Map(), this.stats, signal),
      fileSendService(options.exports ?? new Map(), this.stats, signal, this.exportsInFlight, this.exportFailures, options.onExportWait),
      ...(options.services ?? []),
    ];
    for (const service of services) {
      for (const [path, handler] of Object.entries(service.methods)) this.methods.set(path, handler);
    }
    this.server = new SessionGrpcServer(this.methods);
  }

  /** Opens the tunnel to the daemon and starts serving it. */
  open(control: ControlClient): void {
    this.call = control.openSession({
      "x-docker-expose-session-uuid": this.id,
      "x-docker-expose-session-sharedkey": this.options.sharedKey,
      // One header field per method: the daemon checks these before calling FileSync/FileSend.
      "x-docker-expose-session-grpc-method": [...this.methods.keys()],
    });
    this.server.serve(sessionTunnel(this.call));
  }

  /**
   * Waits until every export the daemon sent is written to the host; rejects if one
   * failed. Call it after the Solve returned and before `close()`, which would abort them.
   */
  async settleExports(): Promise<void> {
    await Promise.all(this.exportsInFlight);
  }

  /** Waits until every export the daemon started has ended, well or not (after `close()`: removed its staging dir). */
  async exportsEnded(): Promise<void> {
    await Promise.allSettled(this.exportsInFlight);
  }

  /** Ends the session: stops transfers in flight and closes the tunnel. */
  close(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    this.call?.stream.end();
    this.call?.cancel();
    this.server.close();
  }
}
