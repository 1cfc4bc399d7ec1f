import { TextDecoder } from "node:util";
import type {
  Google_Protobuf_Timestamp as Timestamp,
  Moby_Buildkit_V1_StatusResponse as StatusResponse,
  Moby_Buildkit_V1_VertexLog as VertexLog,
} from "../proto/generated.ts";
import type { Redactor } from "../secrets/index.ts";

// A stream that prints this much without a line break is passed on, all but what may be
// the beginning of a value.
const maxHeldChars = 64 * 1024;

interface HeldLog {
  vertex: string;
  stream: number;
  timestamp: Timestamp | undefined;
  decoder: TextDecoder;
  text: string;
}

/**
 * Hides secret values in the Status messages of one build before anyone sees them. The
 * daemon cuts a step's output into chunks anywhere, even inside a value, so log bytes are
 * passed on up to the last line break of each step's stream; the rest waits for the next
 * chunk (or `flush`). Step names, errors and warnings are redacted as they are.
 */
export class StatusRedactor {
  private readonly held = new Map<string, HeldLog>();

  constructor(private readonly redactor: Redactor) {}

  /** `message` with values hidden; the same object when there is nothing to hide. */
  redact(message: StatusResponse): StatusResponse {
    if (!this.redactor.active) return message;
    const text = (s: string | undefined) => (s === undefined ? s : this.redactor.redact(s));
    return {
      ...message,
      vertexes: message.vertexes?.map((v) => ({ ...v, name: text(v.name), error: text(v.error) })),
      statuses: message.statuses?.map((s) => ({ ...s, ID: text(s.ID), name: text(s.name) })),
      logs: message.logs?.flatMap((log) => this.log(log)),
      warnings: message.warnings?.map((w) => ({ ...w, short: w.short && this.bytes(w.short), detail: w.detail?.map((d) => this.bytes(d)), url: text(w.url) })),
    };
  }

  /** The output held back at the end of the stream, redacted; undefined when there is none. */
  flush(): StatusResponse | undefined {
    const logs: VertexLog[] = [];
    for (const held of this.held.values()) {
      const rest = held.text + held.decoder.decode();
      if (rest) logs.push(this.entry(held, this.redactor.redact(rest)));
    }
    this.held.clear();
    return logs.length > 0 ? { logs } : undefined;
  }

  private log(log: VertexLog): VertexLog[] {
    if (!log.msg) return [log];
    const vertex = log.vertex ?? "";
    const stream = log.stream ?? 1;
    const key = `${vertex}\0${stream}`;
    let held = this.held.get(key);
    if (!held) this.held.set(key, (held = { vertex, stream, timestamp: log.timestamp, decoder: new TextDecoder(), text: "" }));
    held.timestamp = log.timestamp;
    const text = held.text + held.decoder.decode(log.msg, { stream: true });
    // Values never span a line break (each line of a multi-line value is hidden on its own).
    const end = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r")) + 1;
    let now = text.slice(0, end);
    held.text = text.slice(end);
    if (held.text.length > maxHeldChars) {
      const [more, later] = this.redactor.splitStreamed(held.text);
      now += more;
      held.text = later;
    }
    return now ? [this.entry(held, this.redactor.redact(now))] : [];
  }

  private entry(held: HeldLog, text: string): VertexLog {
    return { vertex: held.vertex, stream: held.stream, timestamp: held.timestamp, msg: Buffer.from(text, "utf8") };
  }

  private bytes(data: Uint8Array): Uint8Array {
    const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
    const redacted = this.redactor.redact(text);
    return redacted === text ? data : Buffer.from(redacted, "utf8");
  }
}
