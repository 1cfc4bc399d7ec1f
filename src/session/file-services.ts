import { receiveDirectory, sendDirectory } from "../filesync/index.ts";
import { receiveFile } from "../filesync/file-receiver.ts";
import { isTransientExportName } from "../filesync/staging.ts";
import { GrpcStatus } from "../grpc/wire.ts";
import { trace } from "../trace.ts";
import type { ServerStreamCall } from "./grpc-server.ts";
import type { SessionService } from "./services.ts";
import { streamMethod } from "./services.ts";

/** A host directory the daemon may pull as `local://<name>`. */
export interface LocalDir {
  /** Absolute host path. */
  root: string;
  /** Patterns of files to send (all when absent). */
  includePatterns?: string[];
  /** Patterns of files never to send. */
  excludePatterns?: string[];
  /** Paths that must be sent with their symlink targets. */
  followPaths?: string[];
}

/** Where a `local` exporter's files land on the host. */
export interface LocalExportTarget {
  kind?: "dir";
  /** Absolute host directory. */
  dest: string;
  /** Link files the directory already holds unchanged instead of transferring them. */
  incremental?: boolean;
  /** The directory `dest` must stay in, symlinks resolved (the project); undefined: anywhere. */
  within?: string;
}

/** Where a single-file export (an image archive) lands on the host. */
export interface FileExportTarget {
  kind: "file";
  /** Absolute host file, replaced whole. */
  dest: string;
  /** The directory dest must stay in, symlinks resolved (the project); undefined: anywhere. */
  within?: string;
}

/** Where one exporter's output lands: a directory (`local`) or a file (archives). */
export type ExportTarget = LocalExportTarget | FileExportTarget;

/** An export that could not be written to its host directory. */
export interface ExportFailure {
  /** The host directory it was meant for. */
  dest: string;
  error: unknown;
}

/** What moved over the session, for progress and tests. */
export interface TransferStats {
  /** Files whose content the daemon asked for, per local dir name. */
  sentFiles: Map<string, string[]>;
  /** Bytes of file content sent. */
  bytesSent: number;
  /** Files written by exports. */
  filesReceived: number;
  /** Files of incremental exports that were unchanged on the host and not transferred. */
  filesReused: number;
  /** Bytes written by exports. */
  bytesReceived: number;
}

/** A new, empty TransferStats. */
export function emptyTransferStats(): TransferStats {
  return { sentFiles: new Map(), bytesSent: 0, filesReceived: 0, filesReused: 0, bytesReceived: 0 };
}

/**
 * moby.filesync.v1.FileSync: the daemon pulls local sources. Patterns come from
 * brewkit's own registration of each dir, never from the (comma-joined) metadata.
 */
export function fileSyncService(dirs: ReadonlyMap<string, LocalDir>, stats: TransferStats, signal: AbortSignal): SessionService {
  const diffCopy = (call: ServerStreamCall) => {
    const name = call.metadata.get("dir-name")[0];
    const dir = name === undefined ? undefined : dirs.get(name);
    if (name === undefined || dir === undefined) {
      return call.fail(GrpcStatus.NOT_FOUND, `no access allowed to dir "${name ?? ""}"`);
    }
    const sent: string[] = stats.sentFiles.get(name) ?? [];
    stats.sentFiles.set(name, sent);
    trace("upload-start", { dir: name });
    sendDirectory(call, {
      root: dir.root,
      includePatterns: dir.includePatterns,
      excludePatterns: dir.excludePatterns,
      skipName: isTransientExportName,
      onListed: (entries) => trace("upload-listed", { dir: name, entries }),
      followPaths: dir.followPaths,
      signal,
      onFileSent: (path, bytes) => {
        sent.push(path);
        stats.bytesSent += bytes;
      },
    }).then(
      (result) => {
        trace("upload-done", { dir: name, entries: result.entries, files: result.filesSent });
        call.end();
      },
      (err: unknown) => call.fail(GrpcStatus.UNKNOWN, `sending ${dir.root}: ${(err as Error).message}`),
    );
  };
  return {
    methods: {
      "/moby.filesync.v1.FileSync/DiffCopy": streamMethod(diffCopy),
      "/moby.filesync.v1.FileSync/TarStream": streamMethod((call) => call.fail(GrpcStatus.UNIMPLEMENTED, "tar streams are not supported; use diffcopy")),
    },
  };
}

/**
 * moby.filesync.v1.FileSend: the daemon pushes `local` exports, routed by exporter index.
 * Each export still being moved into place is added to `inFlight`: the daemon may
 * consider an export done before brewkit has finished writing it. Exports that fail on
 * this side are added to `failures` before the daemon hears of them.
 */
export function fileSendService(
  targets: ReadonlyMap<number, ExportTarget>,
  stats: TransferStats,
  signal: AbortSignal,
  inFlight: Set<Promise<unknown>>,
  failures: ExportFailure[],
  onWait?: (dest: string, pid: number) => void,
): SessionService {
  const diffCopy = (call: ServerStreamCall) => {
    const id = Number(call.metadata.get("buildkit-attachable-exporter-id")[0] ?? "0");
    const target = targets.get(id);
    if (target === undefined) return call.fail(GrpcStatus.NOT_FOUND, `exporter ${id} not found`);
    if (target.kind === "file") return receiveArchive(call, target);
    trace("export-start", { dest: target.dest });
    const receiving = receiveDirectory(call, {
      dest: target.dest,
      within: target.within,
      signal,
      reuseUnchanged: target.incremental === true,
      onWait: onWait && ((pid) => onWait(target.dest, pid)),
    });
    inFlight.add(receiving);
    receiving.then(
      (result) => {
        trace("export-done", { dest: target.dest, entries: result.entries });
        stats.filesReceived += result.files - result.reused;
        stats.filesReused += result.reused;
        stats.bytesReceived += result.bytes;
        call.end();
      },
      (err: unknown) => {
        failures.push({ dest: target.dest, error: err });
        call.fail(GrpcStatus.UNKNOWN, `exporting to ${target.dest}: ${(err as Error).message}`);
      },
    );
  };
  const receiveArchive = (call: ServerStreamCall, target: FileExportTarget) => {
    const receiving = receiveFile(call, { dest: target.dest, within: target.within, signal, onWait: onWait && ((pid) => onWait(target.dest, pid)) });
    inFlight.add(receiving);
    receiving.then(
      (bytes) => {
        stats.filesReceived += 1;
        stats.bytesReceived += bytes;
        call.end();
      },
      (err: unknown) => {
        failures.push({ dest: target.dest, error: err });
        call.fail(GrpcStatus.UNKNOWN, `exporting to ${target.dest}: ${(err as Error).message}`);
      },
    );
  };
  return { methods: { "/moby.filesync.v1.FileSend/DiffCopy": streamMethod(diffCopy) } };
}
