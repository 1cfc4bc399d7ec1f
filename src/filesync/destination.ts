import { promises as fsp } from "node:fs";
import path from "node:path";
import { FileSyncPathError } from "./errors.ts";

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * The real path an export to `dest` writes to. With `within` (the project), every
 * existing component of `dest` is resolved in turn and a symlink that leads out of
 * `within`, or that dangles, is refused: a lexical check alone would let a symlink an
 * earlier export (or the user) put in the way carry the files anywhere. Without
 * `within` (an output allowed outside the project) symlinks are simply followed.
 * Components that do not exist yet are returned as they are: brewkit creates them.
 */
export async function resolveDestination(dest: string, within: string | undefined): Promise<string> {
  if (within === undefined) return resolveExisting(dest);
  const realWithin = await fsp.realpath(within).catch((err: unknown) => {
    throw new FileSyncPathError("cannot resolve the project directory", within, { cause: err });
  });
  if (!isInside(within, dest)) throw new FileSyncPathError(`the export destination is outside ${within}`, dest, { hint: "write inside the project, or set allowOutsideProject: true on this output" });
  let current = realWithin;
  const parts = path.relative(within, dest).split(path.sep).filter(Boolean);
  for (const [i, part] of parts.entries()) {
    const next = path.join(current, part);
    const stat = await fsp.lstat(next).catch((err: unknown) => {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw new FileSyncPathError("cannot use the export destination", dest, { cause: err });
    });
    if (!stat) return path.join(next, ...parts.slice(i + 1));
    if (!stat.isSymbolicLink()) {
      current = next;
      continue;
    }
    const shown = path.join(within, ...parts.slice(0, i + 1));
    const target = await fsp.realpath(next).catch(() => undefined);
    if (target === undefined) {
      throw new FileSyncPathError(`the export destination goes through ${shown}, a symlink to ${await fsp.readlink(next).catch(() => "?")} that does not exist`, dest, {
        hint: "remove the symlink, or point the output elsewhere",
      });
    }
    if (!isInside(realWithin, target)) {
      throw new FileSyncPathError(`the export destination goes through ${shown}, a symlink to ${target} outside the project`, dest, {
        hint: "remove the symlink (an earlier export may have written it), or set allowOutsideProject: true on this output to write there",
      });
    }
    current = target;
  }
  return current;
}

// The real path of the deepest existing ancestor, joined with what does not exist yet.
async function resolveExisting(dest: string): Promise<string> {
  const missing: string[] = [];
  for (let p = dest; ; p = path.dirname(p)) {
    const real = await fsp.realpath(p).catch(() => undefined);
    if (real !== undefined) return path.join(real, ...missing.reverse());
    if (path.dirname(p) === p) return dest;
    missing.push(path.basename(p));
  }
}
