import { Redactor } from "../secrets/redactor.ts";

/**
 * The redactor of this process: the secret store teaches it every value read, and every
 * write to stdout and stderr passes through it (see `redactWrites`), so no output path,
 * present or future, can print a value.
 */
export const outputRedactor = new Redactor();

/**
 * Makes every write to `stream` pass through `redactor`. Each write is redacted whole:
 * brewkit writes whole lines (or whole frames of the live view), and progress has been
 * redacted line by line before, where a value cut between the daemon's chunks is whole again.
 * Writes pass untouched (bytes included) while the redactor knows no value.
 */
export function redactWrites(stream: NodeJS.WritableStream, redactor: Redactor): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    if (!redactor.active) return write(chunk, ...rest);
    if (typeof chunk === "string") return write(redactor.redact(chunk), ...rest);
    if (chunk instanceof Uint8Array) {
      const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("utf8");
      const redacted = redactor.redact(text);
      return write(redacted === text ? chunk : Buffer.from(redacted, "utf8"), ...rest);
    }
    return write(chunk, ...rest);
  }) as typeof stream.write;
}
