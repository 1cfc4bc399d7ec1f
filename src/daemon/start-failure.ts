/**
 * Why buildkitd stopped, read from what it logged while starting: the message of the error
 * it exited with (its `buildkitd: ` line and the messages wrapped around it, without the Go
 * stack between them), else its last fatal log entry, else a panic line. Undefined when the
 * log says none of these.
 */
export function startFailureCause(log: string): string | undefined {
  const lines = log.split("\n").map((line) => line.replace(/\r$/, ""));
  const exit = lastIndexWhere(lines, (line) => line.startsWith("buildkitd: "));
  if (exit !== -1) return errorMessages(lines.slice(exit)).join(": ") || undefined;
  const fatal = lastIndexWhere(lines, (line) => /\blevel=fatal\b/.test(line));
  if (fatal !== -1) return logfmtMessage(lines[fatal]!);
  const panic = lastIndexWhere(lines, (line) => line.startsWith("panic: "));
  if (panic !== -1) return lines[panic];
  return undefined;
}

/**
 * The messages of a Go error printed with `%+v` (github.com/pkg/errors): message lines with
 * stack frames between them, each frame a function line followed by a tab-indented file
 * line. The innermost message comes first; this returns them outermost first, as Go's `%v`.
 */
function errorMessages(block: string[]): string[] {
  const messages: string[] = [];
  for (let i = 0; i < block.length; i++) {
    const line = block[i]!;
    if (line.startsWith("\t")) continue;
    if (block[i + 1]?.startsWith("\t")) continue;
    // Lines logged after the error (or by another run) end its block.
    if (i > 0 && /^time="/.test(line)) break;
    const message = (i === 0 ? line.slice("buildkitd: ".length) : line).trim();
    if (message) messages.push(message);
  }
  return messages.reverse();
}

function logfmtMessage(line: string): string {
  const field = (name: string) => new RegExp(`\\b${name}="((?:[^"\\\\]|\\\\.)*)"`).exec(line)?.[1]?.replace(/\\(.)/g, "$1");
  const msg = field("msg");
  const error = field("error");
  if (msg === undefined) return line;
  return error ? `${msg}: ${error}` : msg;
}

function lastIndexWhere(lines: string[], test: (line: string) => boolean): number {
  for (let i = lines.length - 1; i >= 0; i--) if (test(lines[i]!)) return i;
  return -1;
}
