// Slash-separated path helpers with the exact semantics of Go's `path` package:
// the paths end up inside op bytes, so any difference would change digests.

/** Go's `path.Clean`: the shortest equivalent path, "." for an empty one. */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const joined = out.join("/");
  if (rooted) return "/" + joined;
  return joined === "" ? "." : joined;
}

/** Go's `path.Join`: joins the non-empty elements and cleans; "" when all are empty. */
export function joinPath(...elems: string[]): string {
  const nonEmpty = elems.filter((e) => e !== "");
  return nonEmpty.length === 0 ? "" : cleanPath(nonEmpty.join("/"));
}

/** Go's `path.IsAbs`. */
export function isAbsPath(p: string): boolean {
  return p.startsWith("/");
}
