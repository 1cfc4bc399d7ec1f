import { randomBytes } from "node:crypto";

/** A random id in the form BuildKit uses for sessions and build refs (25 base-36 chars). */
export function newId(): string {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  return Array.from(randomBytes(25), (b) => alphabet[b % 36]).join("");
}
