import { promises as fsp } from "node:fs";
import path from "node:path";
import { cleanPath, globMatch, hasWildcards } from "../ignore/index.ts";
import { compareUtf8 } from "./compare.ts";
import { FileSyncIOError } from "./errors.ts";

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

// Go's filepath.Join for slash paths: empty elements dropped, result cleaned.
function join(...parts: string[]): string {
  const kept = parts.filter((p) => p !== "");
  return kept.length === 0 ? "" : cleanPath(kept.join("/"));
}

function dirname(p: string): string {
  const at = p.lastIndexOf("/");
  if (at < 0) return ".";
  return at === 0 ? "/" : p.slice(0, at);
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/**
 * fsutil's dedupePaths: drops entries below the previous kept one; null when
 * one of them is "." (the whole tree, so no include filter at all).
 */
export function dedupePaths(paths: readonly string[]): string[] | null {
  const out: string[] = [];
  let last = "";
  for (const p of paths) {
    if (p === ".") return null;
    if (p.startsWith(`${last}/`)) continue;
    out.push(p);
    last = p;
  }
  return out;
}

/**
 * fsutil's FollowLinks: resolves the symlinks along each follow path (wildcards
 * allowed in a segment) inside `root` and returns the include patterns that keep
 * both the links and their targets; null means "everything".
 */
export async function resolveFollowPaths(root: string, followPaths: readonly string[]): Promise<string[] | null> {
  const resolved = new Set<string>();

  const lstat = async (rel: string) => {
    // Lookups never leave the root: "." is the root itself and ".." is outside.
    if (rel === "." || rel === "/" || rel === ".." || rel.startsWith("../")) return undefined;
    try {
      return await fsp.lstat(path.join(root, rel));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new FileSyncIOError("cannot stat follow path", path.join(root, rel), err);
    }
  };

  const readSymlink = async (rel: string, allowWildcard: boolean): Promise<string[] | null> => {
    const base = basename(rel);
    if (allowWildcard && hasWildcards(base)) {
      const dir = dirname(rel);
      if (dir === ".." || dir.startsWith("../")) return null;
      let names: string[];
      try {
        names = await fsp.readdir(path.join(root, dir));
      } catch (err) {
        if (isNotFound(err)) return null;
        throw new FileSyncIOError("cannot read directory", path.join(root, dir), err);
      }
      names.sort(compareUtf8);
      let out: string[] | null = null;
      for (const name of names) {
        if (!globMatch(base, name)) continue;
        const targets = await readSymlink(join(dir, name), false);
        if (targets) (out ??= []).push(...targets);
      }
      return out;
    }
    const st = await lstat(rel);
    if (!st?.isSymbolicLink()) return null;
    let link: string;
    try {
      link = cleanPath(await fsp.readlink(path.join(root, rel)));
    } catch (err) {
      throw new FileSyncIOError("cannot read symlink", path.join(root, rel), err);
    }
    if (link.startsWith("/")) return [link];
    return [join("/", join(dirname(rel), link))];
  };

  const append = async (input: string): Promise<void> => {
    let rest = join(".", input);
    let current = ".";
    for (;;) {
      const slash = rest.indexOf("/");
      const first = slash < 0 ? rest : rest.slice(0, slash);
      current = join(current, first);
      const targets = await readSymlink(current, true);
      rest = slash < 0 ? "" : rest.slice(slash + 1);
      if ((rest === "" || targets !== null) && resolved.has(current)) return;
      if (targets !== null) {
        resolved.add(current);
        for (const target of targets) await append(join(target, rest));
        return;
      }
      if (rest === "") {
        resolved.add(current);
        return;
      }
    }
  };

  for (const p of followPaths) await append(p);
  return dedupePaths([...resolved].sort(compareUtf8));
}
