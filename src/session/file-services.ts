import grpc from "@grpc/grpc-js";
import type { Duplex } from "node:stream";
import { receiveDirectory, sendDirectory } from "../filesync/index.ts";
import type { SessionService } from "./services.ts";
import { rawMethod } from "./services.ts";

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
  /** Absolute host directory. */
  dest: string;
  /** Link files the directory already holds unchanged instead of transferring them. */
  incremental?: boolean;
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

type RawDuplex = grpc.ServerDuplexStream<Buffer, Buffer>;

function fail(call: RawDuplex, code: grpc.status, message: string): void {
  call.emit("error", { code, details: message, metadata: new grpc.Metadata() });
}

function firstValue(call: RawDuplex, key: string): string | undefined {
  const value = call.metadata.get(key)[0];
  return value === undefined ? undefined : String(value);
}

/**
 * moby.filesync.v1.FileSync: the daemon pulls local sources. Patterns come from
 * brewkit's own registration of each dir, never from the (comma-joined) metadata.
 */
export function fileSyncService(dirs: ReadonlyMap<string, LocalDir>, stats: TransferStats, signal: AbortSignal): SessionService {
  const diffCopy = (call: RawDuplex) => {
    const name = firstValue(call, "dir-name");
    const dir = name === undefined ? undefined : dirs.get(name);
    if (name === undefined || dir === undefined) {
      return fail(call, grpc.status.NOT_FOUND, `no access allowed to dir "${name ?? ""}"`);
    }
    const sent: string[] = stats.sentFiles.get(name) ?? [];
    stats.sentFiles.set(name, sent);
    sendDirectory(call as unknown as Duplex, {
      root: dir.root,
      includePatterns: dir.includePatterns,
      excludePatterns: dir.excludePatterns,
      followPaths: dir.followPaths,
      signal,
      onFileSent: (path, bytes) => {
        sent.push(path);
        stats.bytesSent += bytes;
      },
    }).then(
      () => call.end(),
      (err: unknown) => fail(call, grpc.status.UNKNOWN, `sending ${dir.root}: ${(err as Error).message}`),
    );
  };
  return {
    definition: {
      DiffCopy: rawMethod("/moby.filesync.v1.FileSync/DiffCopy", true, true),
      TarStream: rawMethod("/moby.filesync.v1.FileSync/TarStream", true, true),
    },
    implementation: {
      DiffCopy: diffCopy,
      TarStream: (call: RawDuplex) => fail(call, grpc.status.UNIMPLEMENTED, "tar streams are not supported; use diffcopy"),
    },
  };
}

/**
 * moby.filesync.v1.FileSend: the daemon pushes `local` exports, routed by exporter index.
 * Each export still being moved into place is added to `inFlight`: the daemon may
 * consider an export done before brewkit has finished writing it.
 */
export function fileSendService(targets: ReadonlyMap<number, LocalExportTarget>, stats: TransferStats, signal: AbortSignal, inFlight: Set<Promise<unknown>>): SessionService {
  const diffCopy = (call: RawDuplex) => {
    const id = Number(firstValue(call, "buildkit-attachable-exporter-id") ?? "0");
    const target = targets.get(id);
    if (target === undefined) return fail(call, grpc.status.NOT_FOUND, `exporter ${id} not found`);
    const receiving = receiveDirectory(call as unknown as Duplex, { dest: target.dest, signal, reuseUnchanged: target.incremental === true });
    inFlight.add(receiving);
    receiving.then(
      (result) => {
        stats.filesReceived += result.files - result.reused;
        stats.filesReused += result.reused;
        stats.bytesReceived += result.bytes;
        call.end();
      },
      (err: unknown) => fail(call, grpc.status.UNKNOWN, `exporting to ${target.dest}: ${(err as Error).message}`),
    );
  };
  return {
    definition: { DiffCopy: rawMethod("/moby.filesync.v1.FileSend/DiffCopy", true, true) },
    implementation: { DiffCopy: diffCopy },
  };
}
