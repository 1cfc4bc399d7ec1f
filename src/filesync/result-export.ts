import path from "node:path";
import { compareUtf8 } from "./compare.ts";
import { isDirMode, isRegularMode } from "./mode.ts";
import type { Stat } from "./packet.ts";
import { Staging, type StagingOptions } from "./staging.ts";
import { TreeWriter, type IncomingFile } from "./tree-writer.ts";
import { EntryValidator } from "./validator.ts";

/** Reads a result on the daemon: how an export of a result that no Solve exports is fetched. */
export interface ResultReader {
  /** The entry at `path` (not following a symlink). */
  stat(path: string): Promise<Stat>;
  /** The entries of directory `dir`, their paths being names. */
  list(dir: string): Promise<Stat[]>;
  /** The content of the file at `path` (one message: up to the gRPC limit of 16 MiB). */
  read(path: string): Promise<Uint8Array>;
}

/**
 * Writes the artifact at `artifact` of a result into `dest` as a `local` export of it
 * would: a directory's contents, or a file under its own name. It goes through the
 * same checks and staging as every export (entries validated, written beside `dest`
 * and moved in whole under the project's export lock), so `dest` is left as it was on
 * failure. Returns the number of entries written.
 */
export async function exportResultPath(reader: ResultReader, artifact: string, dest: string, options: StagingOptions): Promise<number> {
  const top = await reader.stat(artifact);
  const entries: Array<{ stat: Stat; from: string }> = [];
  if (isDirMode(top.mode)) await listTree(reader, artifact, "", entries);
  else entries.push({ stat: { ...top, path: path.posix.basename(artifact) }, from: artifact });
  const staging = await Staging.create(path.resolve(dest), options);
  const tree = new TreeWriter(staging.root, undefined);
  const validator = new EntryValidator();
  let open: IncomingFile | undefined;
  try {
    for (const { stat, from } of entries) {
      validator.check(stat);
      const placed = await tree.place(stat);
      if (placed === "done") continue;
      open = tree.openFile(stat);
      open.create();
      await open.created();
      if (placed === "content") {
        if (options.signal?.aborted) throw options.signal.reason;
        open.write(await reader.read(from));
      }
      open.finish();
      open = undefined;
    }
    await tree.finish();
    await tree.finishTopLevel(await staging.commit());
    return entries.length;
  } catch (err) {
    open?.close();
    await tree.settled();
    await staging.discard();
    throw err;
  }
}

// fsutil's order: siblings by name, each directory before what it holds.
async function listTree(reader: ResultReader, dir: string, prefix: string, out: Array<{ stat: Stat; from: string }>): Promise<void> {
  const entries = (await reader.list(dir)).sort((a, b) => compareUtf8(a.path, b.path));
  for (const entry of entries) {
    const name = path.posix.basename(entry.path);
    const from = path.posix.join(dir, name);
    const stat = { ...entry, path: prefix ? `${prefix}/${name}` : name };
    // Hard links between entries of a listing are not told apart: each file comes whole.
    if (isRegularMode(stat.mode)) stat.linkname = "";
    out.push({ stat, from });
    if (isDirMode(stat.mode)) await listTree(reader, from, stat.path, out);
  }
}
