import type { Moby_Buildkit_V1_StatusResponse as StatusResponse } from "../proto/generated.ts";

/** Writes each Status message as one JSON line (log bytes as base64, like buildctl's rawjson). */
export function rawJsonWriter(write: (line: string) => void): (job: string, message: StatusResponse) => void {
  return (job, message) => write(JSON.stringify({ job, ...message }, (_key, value) => (value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value)));
}
