import type { Duplex } from "node:stream";
import { FileSyncProtocolError, TransferAbortedError } from "./errors.ts";
import { decodePacket, encodePacket } from "./packet.ts";
import type { Packet } from "./packet.ts";

/**
 * Packet-level view of an object-mode Duplex carrying one encoded Packet per
 * message: pull-based reads (nothing is buffered beyond the stream's own
 * highWaterMark) and writes that wait for 'drain'.
 */
export class PacketChannel {
  private readonly stream: Duplex;
  private readonly signal: AbortSignal | undefined;
  private readEnded = false;
  private closed = false;
  private failure: Error | undefined;
  private waiters: Array<() => void> = [];
  private readonly listeners: Array<[string, (...args: unknown[]) => void]>;
  private readonly onAbort: () => void;

  constructor(stream: Duplex, signal?: AbortSignal) {
    this.stream = stream;
    this.signal = signal;
    this.listeners = [
      ["readable", () => this.wake()],
      ["drain", () => this.wake()],
      [
        "end",
        () => {
          this.readEnded = true;
          this.wake();
        },
      ],
      [
        "error",
        (err) => {
          this.failure ??= err instanceof Error ? err : new Error(String(err));
          this.wake();
        },
      ],
      [
        "close",
        () => {
          this.closed = true;
          this.wake();
        },
      ],
    ];
    for (const [event, fn] of this.listeners) stream.on(event, fn);
    this.onAbort = () => {
      this.failure ??= new TransferAbortedError(signal?.reason);
      this.wake();
    };
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Makes every pending and later recv/send throw `err`: stops the other tasks of a failed transfer. */
  fail(err: unknown): void {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
    this.wake();
  }

  /** Throws the abort or stream error, if any. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** The next packet, or null once the peer has half-closed. Throws if the stream fails or closes first. */
  async recv(): Promise<Packet | null> {
    for (;;) {
      this.check();
      const chunk: unknown = this.stream.read();
      if (chunk !== null) return decodePacket(toBytes(chunk));
      if (this.readEnded) return null;
      if (this.closed || this.stream.destroyed) {
        throw new FileSyncProtocolError("the stream closed before the transfer finished");
      }
      await this.changed();
    }
  }

  /** Sends one packet, waiting while the stream's write buffer is full. */
  async send(packet: Packet): Promise<void> {
    await this.sendRaw(encodePacket(packet));
  }

  /** Sends one already encoded packet, waiting while the stream's write buffer is full. */
  async sendRaw(bytes: Buffer): Promise<void> {
    this.check();
    this.assertWritable();
    if (this.stream.write(bytes)) return;
    while (this.stream.writableNeedDrain) {
      this.check();
      this.assertWritable();
      await this.changed();
    }
  }

  /** Writes a packet without waiting or failing: for reporting an error to the peer. */
  sendBestEffort(packet: Packet): void {
    if (this.closed || this.stream.destroyed || this.stream.writableEnded) return;
    try {
      this.stream.write(encodePacket(packet));
    } catch {
      // The peer is gone; the local error is what matters.
    }
  }

  /** Detaches from the stream and the signal; the stream itself is left open. */
  dispose(): void {
    for (const [event, fn] of this.listeners) this.stream.off(event, fn);
    this.signal?.removeEventListener("abort", this.onAbort);
    this.wake();
  }

  private assertWritable(): void {
    if (this.closed || this.stream.destroyed || this.stream.writableEnded) {
      throw new FileSyncProtocolError("the stream closed before the transfer finished");
    }
  }
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new FileSyncProtocolError(`expected a binary message, got ${typeof chunk}`);
}
