import crypto from "node:crypto";
import { encodeMessage as encodeProto } from "../proto/encode.ts";
import { messageSchema } from "../proto/registry.ts";
import type { Pb_Op, Pb_OpMetadata } from "../proto/generated.ts";

/**
 * A message as the encoder accepts it: like the generated interface, except that
 * every integer may also be a bigint (file timestamps are nanoseconds, beyond 2^53).
 */
export type Wire<T> = T extends number
  ? number | bigint
  : T extends Uint8Array
    ? Uint8Array
    : T extends readonly (infer U)[]
      ? readonly Wire<U>[]
      : T extends object
        ? { [K in keyof T]?: Wire<T[K]> }
        : T;

/**
 * Encodes `message` of the fully qualified type `typeName` byte for byte like Go's
 * deterministic marshalling; a property the type has no field for is an error.
 */
export function encodeMessage(typeName: string, message: object): Uint8Array {
  return encodeProto(messageSchema(typeName), message, { strict: true });
}

/** Encodes one LLB op; its digest is the sha256 of exactly these bytes. */
export function encodeOp(op: Wire<Pb_Op>): Uint8Array {
  return encodeMessage("pb.Op", op);
}

/** Encodes per-op metadata deterministically (used to compare with Go). */
export function encodeOpMetadata(metadata: Pb_OpMetadata): Uint8Array {
  return encodeMessage("pb.OpMetadata", metadata);
}

// One-shot hashing (Node >= 20.12) costs a fraction of a Hash object for a few hundred bytes.
const sha256Hex: (bytes: Uint8Array) => string =
  typeof crypto.hash === "function" ? (bytes) => crypto.hash("sha256", bytes, "hex") : (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");

/** The content address BuildKit gives to serialized bytes: `sha256:<hex>`. */
export function digestOf(bytes: Uint8Array): string {
  return "sha256:" + sha256Hex(bytes);
}
