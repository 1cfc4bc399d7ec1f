import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { brewkitHome } from "../daemon/paths.ts";

/** A random id of this machine, kept in brewkit's home so uploads stay incremental across runs. */
function machineId(): string {
  const file = path.join(brewkitHome(), "machine-id");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    const id = randomBytes(16).toString("hex");
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${id}\n`);
    return id;
  }
}

/** The session shared key of a project on this machine. */
export function projectSharedKey(projectDir: string): string {
  const digest = createHash("sha256").update(`${machineId()}\0${projectDir}`).digest("hex").slice(0, 16);
  return `${path.basename(projectDir)}:${digest}`;
}
