import { decodeMessage } from "../proto/decode.ts";
import { messageSchema } from "../proto/registry.ts";

/**
 * Encodes `BytesMessage{data}` by hand, `data` given whole or in parts: every byte a
 * session carries passes through here, so each part is copied exactly once.
 */
export function encodeBytesMessage(data: Uint8Array | readonly Uint8Array[]): Buffer {
  const parts = data instanceof Uint8Array ? [data] : data;
  let length = 0;
  for (const part of parts) length += part.length;
  if (length === 0) return Buffer.alloc(0);
  let header = 1;
  for (let rest = length; rest >= 0x80; rest >>>= 7) header++;
  const out = Buffer.allocUnsafe(1 + header + length);
  out[0] = 0x0a; // field 1, length-delimited
  let offset = 1;
  for (let rest = length; ; rest >>>= 7) {
    if (rest < 0x80) {
      out[offset++] = rest;
      break;
    }
    out[offset++] = (rest & 0x7f) | 0x80;
  }
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
