import path from "node:path";
import type { Duplex } from "node:stream";
import { PacketChannel } from "./channel.ts";
import { FileSyncProtocolError, PeerError, TransferAbortedError } from "./errors.ts";
import { isRegularMode } from "./mode.ts";
import { PacketType } from "./packet.ts";
import type { Stat } from "./packet.ts";
import { UnchangedFiles } from "./reuse.ts";
import { Staging } from "./staging.ts";
import { TreeWriter } from "./tree-writer.ts";
import type { IncomingFile, Ownership } from "./tree-writer.ts";
import { EntryValidator } from "./validator.ts";

/** Where receiveDirectory writes and as whom. */
export interface ReceiveOptions {
  /** Host directory the export lands in; created when missing, unrelated entries kept. */
  dest: string;
  /** The directory dest must stay in, symlinks resolved (the project); undefined: anywhere. */
  within?: string;
  /** Told when another process is moving an export into the same project and this one waits. */
  onWait?: (pid: number) => void;
  /** Owner of every written entry (default: whoever runs brewkit). */
  uid?: number;
  /** Group of every written entry (default: the running process's group). */
  gid?: number;
  /** Aborts the transfer; nothing reaches dest. */
  signal?: AbortSignal;
  /**
   * Link files that dest already holds unchanged (same size, permissions and mtime)
   * instead of requesting them: an incremental export.
   */
  reuseUnchanged?: boolean;
}

/** Totals of one receiveDirectory call. */
export interface ReceiveResult {
  /** Entries listed by the sender. */
  entries: number;
  /** Regular files written (empty files and hard links included). */
  files: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Files taken unchanged from dest instead of being transferred. */
  reused: number;
}

// Like Go's receiver, every file is requested as soon as its STAT is placed: the sender
// serves requests from a queue, and a short one leaves it idle between round trips.
// Creating files is bounded instead: at most this many are created ahead of their
// content (on the thread pool, in parallel) and hold a descriptor.
const MAX_FILES_OPEN = 64;

/** The receiving half of the fsutil protocol, writing into a TreeWriter. */
class Receiver {
  private readonly validator = new EntryValidator();
  // Files to create, in the order their content was requested (or, if empty, listed).
  private readonly toCreate: Array<IncomingFile | undefined> = [];
  private nextCreate = 0;
  private readonly emptyFiles = new Set<IncomingFile>();
  private readonly receiving = new Map<number, IncomingFile>();
  // Created (or being created) and not finished.
  private readonly live = new Set<IncomingFile>();
  private nextId = 0;
  private listed = false;
  private finSent = false;
  private finishing: Promise<void> | undefined;
  readonly result: ReceiveResult = { entries: 0, files: 0, bytes: 0, reused: 0 };

  constructor(
    private readonly channel: PacketChannel,
    private readonly tree: TreeWriter,
  ) {}

  /** Runs the protocol until the sender's FIN; the whole tree is then written. */
  async run(): Promise<void> {
    for (;;) {
      let packet;
      try {
        packet = await this.channel.recv();
      } catch (err) {
        // The daemon cancels the stream right after the FIN exchange, and under load the
        // cancel can overtake its FIN. Once our FIN is out, everything requested is
        // written: the transfer is complete whatever happens to the stream.
        if (this.finSent && (await this.finishedCleanly())) return;
        throw err;
      }
      if (packet === null) {
        if (this.finSent && (await this.finishedCleanly())) return;
        throw new FileSyncProtocolError("the sender closed the stream without FIN");
      }
      switch (packet.type) {
        case PacketType.STAT:
          if (this.listed) throw new FileSyncProtocolError("STAT packet after the end of the listing");
          if (packet.stat) await this.place(packet.stat, this.nextId++);
          else this.listed = true;
          break;
        case PacketType.DATA:
          await this.data(packet.id, packet.data);
          break;
        case PacketType.FIN:
          if (!this.finSent) throw new FileSyncProtocolError("the sender finished before every requested file arrived");
          await this.finishing;
          return;
        case PacketType.ERR:
          throw new PeerError("sender", Buffer.from(packet.data ?? []).toString("utf8"));
      }
      this.progress();
    }
  }

  // True when our own FIN was written after every file was complete.
  private async finishedCleanly(): Promise<boolean> {
    try {
      await this.finishing;
      return true;
    } catch {
      return false;
    }
  }

  /** Closes files still open after a failure, once no create is in flight (so none lands after the staging dir is removed). */
  async abandon(): Promise<void> {
    await Promise.allSettled([...this.live].map((file) => file.created()));
    for (const file of this.live) file.close();
    await this.tree.settled();
  }

  private async place(stat: Stat, id: number): Promise<void> {
    this.validator.check(stat);
    this.result.entries++;
    if (isRegularMode(stat.mode)) this.result.files++;
    const placed = await this.tree.place(stat);
    if (placed === "done") return;
    const file = this.tree.openFile(stat);
    this.toCreate.push(file);
    if (placed === "empty") {
      this.emptyFiles.add(file);
      return;
    }
    this.receiving.set(id, file);
    this.channel.send({ type: PacketType.REQ, id }).catch((err: unknown) => this.channel.fail(err));
  }

  private startCreate(file: IncomingFile): void {
    if (file.started) return;
    file.create();
    this.live.add(file);
  }

  // Finishes a file once it is created; the transfer fails if that does.
  private complete(file: IncomingFile): void {
    const finish = () => {
      this.live.delete(file);
      file.finish();
      this.result.bytes += file.bytes;
    };
    const created = file.created();
    if (created === undefined) return finish();
    created.then(finish).then(
      () => this.progress(),
      (err: unknown) => this.channel.fail(err),
    );
  }

  private async data(id: number, data: Uint8Array | undefined): Promise<void> {
    const file = this.receiving.get(id);
    if (!file) throw new FileSyncProtocolError(`invalid file request ${id}`);
    if (!data || data.length === 0) {
      this.receiving.delete(id);
      this.startCreate(file);
      this.complete(file);
      return;
    }
    // Content may come before the file's turn in the create window.
    this.startCreate(file);
    const created = file.created();
    if (created !== undefined) await created;
    file.write(data);
  }

  // Runs after every packet and every finished file: creates files ahead of their
  // content while there is room, and ends the transfer once everything is written.
  private progress(): void {
    while (this.live.size < MAX_FILES_OPEN && this.nextCreate < this.toCreate.length) {
      const file = this.toCreate[this.nextCreate]!;
      // Walked forward only; dropping the entry frees it once complete.
      this.toCreate[this.nextCreate++] = undefined;
      if (file.started) continue;
      this.startCreate(file);
      if (this.emptyFiles.delete(file)) this.complete(file);
    }
    if (this.listed && !this.finSent && this.receiving.size === 0 && this.nextCreate === this.toCreate.length && this.live.size === 0) {
      // Set first: the sender's FIN may arrive before the send below settles.
      this.finSent = true;
      this.finishing = this.tree.finish().then(() => this.channel.send({ type: PacketType.FIN, id: 0 }));
      this.finishing.catch((err: unknown) => this.channel.fail(err));
    }
  }
}

function ownership(options: ReceiveOptions): Ownership | undefined {
  // Without explicit ids nothing is chowned: new files already belong to this process.
  if (options.uid === undefined && options.gid === undefined) return undefined;
  return { uid: options.uid ?? process.getuid?.() ?? 0, gid: options.gid ?? process.getgid?.() ?? 0 };
}

/**
 * Receives a `local` export (FileSend.DiffCopy: the daemon sends fsutil packets)
 * into `dest`. Every entry is checked before anything is written for it; the
 * tree is assembled in a staging directory beside dest and moved in only once
 * complete (top-level entries replaced whole, other entries of dest kept). On
 * failure or abort dest is left as it was. The stream is not ended; the caller
 * finishes the call.
 */
export async function receiveDirectory(stream: Duplex, options: ReceiveOptions): Promise<ReceiveResult> {
  if (options.signal?.aborted) throw new TransferAbortedError(options.signal.reason);
  const staging = await Staging.create(path.resolve(options.dest), { within: options.within, signal: options.signal, onWait: options.onWait });
  const channel = new PacketChannel(stream, options.signal);
  const unchanged = options.reuseUnchanged ? new UnchangedFiles(path.resolve(options.dest)) : undefined;
  const tree = new TreeWriter(staging.root, ownership(options), unchanged);
  const receiver = new Receiver(channel, tree);
  tree.onFailure = (err) => channel.fail(err);
  try {
    await receiver.run();
    await tree.finishTopLevel(await staging.commit());
    return { ...receiver.result, reused: tree.reused };
  } catch (err) {
    if (!(err instanceof PeerError)) {
      channel.sendBestEffort({ type: PacketType.ERR, id: 0, data: Buffer.from(err instanceof Error ? err.message : String(err)) });
    }
    channel.fail(err);
    await receiver.abandon();
    await staging.discard();
    throw err;
  } finally {
    channel.dispose();
  }
}
