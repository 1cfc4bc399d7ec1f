import type { Moby_Buildkit_V1_StatusResponse as StatusResponse } from "../proto/generated.ts";

/** Writes each Status message as one JSON line (log bytes as base64, like buildctl's rawjson). */
export function rawJsonWriter(write: (line: string) => void): (job: string, message: StatusResponse) => void {
  return (job, message) => write(JSON.stringify({ job, ...message }, base64Bytes));
}

// JSON.stringify hands a replacer what Buffer's toJSON made of it (an array of numbers);
// the holder still has the bytes themselves.
function base64Bytes(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64") : value;
}
