import protobuf from "protobufjs/minimal.js";

/** Encodes `BytesMessage{data}` by hand: this sits on the session's hot path. */
export function encodeBytesMessage(data: Uint8Array): Buffer {
  if (data.length === 0) return Buffer.alloc(0);
  const writer = protobuf.Writer.create();
  writer.uint32(0x0a).bytes(data);
  return Buffer.from(writer.finish());
}

/** Decodes `BytesMessage{data}`; unknown fields are skipped. */
export function decodeBytesMessage(bytes: Uint8Array): Buffer {
  const reader = protobuf.Reader.create(bytes);
  let data: Uint8Array = new Uint8Array(0);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === 0x0a) data = reader.bytes();
    else reader.skipType(tag & 7);
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
