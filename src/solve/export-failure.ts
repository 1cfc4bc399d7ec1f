import { BrewkitError, HostError, type ErrorCode } from "../errors.ts";
import type { ExportFailure } from "../session/file-services.ts";

// Linux's limits: NAME_MAX bytes for one name, PATH_MAX for a whole path.
const nameMax = 255;
const pathMax = 4096;

/** The errno code (`ENOSPC`, ...) of an error or of one of its causes, and the path it is about. */
function errnoOf(error: unknown): { code: string; path: string | undefined } | undefined {
  let named: string | undefined;
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const { code, path } = e as { code?: unknown; path?: unknown };
    // The system call's own path is the most precise; brewkit's errors name the file they were writing.
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return { code, path: typeof path === "string" ? path : named };
    named = typeof path === "string" ? path : named;
  }
  return undefined;
}

/** What is too long in `file`: its longest name, or the whole path. */
function tooLong(file: string | undefined): string {
  if (file === undefined) return "a file name or path there is longer than the file system allows";
  const longest = file.split("/").reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), "");
  const bytes = Buffer.byteLength(longest);
  if (bytes > nameMax) return `the name "${longest.slice(0, 40)}…" is ${bytes} bytes long, more than the file system allows (${nameMax})`;
  return `the path is ${Buffer.byteLength(file)} bytes long, more than the system allows (${pathMax})`;
}

/**
 * The error for an export that this machine could not write: a host error naming the
 * destination and the cause (a full disk, a name too long), not a failed step.
 */
export function exportWriteError(target: string, failure: ExportFailure): Error {
  const { dest, error } = failure;
  const errno = errnoOf(error);
  // brewkit's own errors (an unsafe path in the stream, a destination that is a file) say it best.
  if (!errno && error instanceof BrewkitError) return error;
  const where = `target "${target}": cannot write its output to ${dest}: `;
  const elsewhere = "or write the output elsewhere (output.local)";
  const message = error instanceof Error ? error.message : String(error);
  if (!errno) return new HostError("EXPORT_FAILED", `${where}${message}`, { context: { target }, hint: `check ${dest} on this machine, ${elsewhere}`, cause: error });
  const known: Record<string, [code: ErrorCode, reason: string, hint: string]> = {
    ENOSPC: ["EXPORT_ENOSPC", "the file system is full (no space left on device)", `free space on the file system that holds ${dest}, ${elsewhere}`],
    EDQUOT: ["EXPORT_EDQUOT", "your disk quota is used up", `free space within your quota, ${elsewhere}`],
    ENAMETOOLONG: ["EXPORT_ENAMETOOLONG", tooLong(errno.path), "use a shorter output directory (output.local), or shorter file names in the artifact"],
    EACCES: ["EXPORT_EACCES", `permission denied${errno.path ? ` on ${errno.path}` : ""}`, `make ${dest} writable for this user, ${elsewhere}`],
    EPERM: ["EXPORT_EPERM", `operation not permitted${errno.path ? ` on ${errno.path}` : ""}`, `make ${dest} writable for this user, ${elsewhere}`],
    EROFS: ["EXPORT_EROFS", "the file system is read-only", "write the output elsewhere (output.local)"],
  };
  const [code, reason, hint] = known[errno.code] ?? ["EXPORT_FAILED", message, `check ${dest} on this machine, ${elsewhere}`];
  return new HostError(code, `${where}${reason}`, { context: { target }, hint, cause: error });
}
