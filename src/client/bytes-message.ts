import { decodeMessage } from "../proto/decode.ts";
import { messageSchema } from "../proto/registry.ts";

/** The protobuf header of `BytesMessage{data}` for `length` bytes of data: field 1, length-delimited. */
export function bytesMessageFieldHeader(length: number): Buffer {
  const header = [0x0a];
  for (let rest = length; ; rest = Math.floor(rest / 0x80)) {
    if (rest < 0x80) {
      header.push(rest);
      return Buffer.from(header);
    }
    header.push((rest % 0x80) | 0x80);
  }
}

/**
 * Encodes `BytesMessage{data}` by hand, `data` given whole or in parts: every byte a
 * session carries passes through here, so each part is copied exactly once.
 */
export function encodeBytesMessage(data: Uint8Array | readonly Uint8Array[]): Buffer {
  const parts = data instanceof Uint8Array ? [data] : data;
  let length = 0;
  for (const part of parts) length += part.length;
  if (length === 0) return Buffer.alloc(0);
  const header = bytesMessageFieldHeader(length);
  const out = Buffer.allocUnsafe(header.length + length);
  out.set(header, 0);
  let offset = header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Decodes `BytesMessage{data}`; unknown fields are skipped. */
export function decodeBytesMessage(bytes: Uint8Array): Buffer {
  return (decodeMessage(messageSchema("moby.buildkit.v1.BytesMessage"), bytes).data as Buffer | undefined) ?? Buffer.alloc(0);
}
