/**
 * The lines a call spans in a JavaScript or TypeScript source: from the call at `line`
 * (1-based; `column`, 1-based, narrows it to the call that starts there) to the line of
 * its closing parenthesis. Strings, template literals and comments are skipped; when the
 * call cannot be followed to its end (a regular expression literal with a parenthesis,
 * say), it is the one line.
 */
export function callLines(text: string, line: number, column?: number): { start: number; end: number } {
  const start = lineStart(text, line);
  if (start < 0) return { start: line, end: line };
  const end = text.indexOf("\n", start) < 0 ? text.length : text.indexOf("\n", start);
  // A column past the line's end (the first line of a compiled module may be shifted) is not used.
  const byColumn = column !== undefined && column > 1 && start + column - 1 < end ? spanFrom(text, line, start + column - 1, end) : undefined;
  return byColumn ?? spanFrom(text, line, start, end) ?? { start: line, end: line };
}

function spanFrom(text: string, line: number, at: number, lineEnd: number): { start: number; end: number } | undefined {
  const open = text.indexOf("(", at);
  // The call's own parenthesis is on its first line.
  if (open < 0 || open > lineEnd) return undefined;
  const close = matchingParen(text, open);
  if (close < 0) return undefined;
  return { start: line, end: line + countNewlines(text, open, close) };
}

// The start of every line of the text last asked about: a config's targets are all
// looked up in one text, and finding a line by counting from the top for each of them
// would grow with the square of the number of targets.
let indexedText: string | undefined;
let lineStarts: number[] = [];

function lineStart(text: string, line: number): number {
  if (line <= 1) return 0;
  if (text !== indexedText) {
    lineStarts = [0];
    for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) lineStarts.push(at + 1);
    indexedText = text;
  }
  return line <= lineStarts.length ? lineStarts[line - 1]! : -1;
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

const openerOf: Record<string, string> = { ")": "(", "]": "[", "}": "{" };

/** Index of the `)` that closes the `(` at `open`, or -1. */
function matchingParen(text: string, open: number): number {
  // What is open: brackets, and template literals (a `}` may end a `${` inside one).
  const stack: string[] = [];
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      if (end < 0) return -1;
      i = end;
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) return -1;
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      i = stringEnd(text, i, c);
      if (i < 0) return -1;
      continue;
    }
    if (c === "`" || (c === "}" && stack.at(-1) === "${")) {
      if (c === "}") stack.pop();
      // Inside a template literal: up to its end, or to a `${`.
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === "\\") j++;
        else if (text[j] === "`") break;
        else if (text[j] === "$" && text[j + 1] === "{") break;
      }
      if (j >= text.length) return -1;
      if (text[j] === "$") {
        stack.push("${");
        i = j + 2;
      } else i = j + 1;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") stack.push(c);
    else if (c === ")" || c === "]" || c === "}") {
      const top = stack.pop();
      if (top !== openerOf[c]) return -1;
      if (stack.length === 0) return i;
    }
    i++;
  }
  return -1;
}

/** Index just past the string literal that starts at `from`, or -1. */
function stringEnd(text: string, from: number, quote: string): number {
  for (let j = from + 1; j < text.length; j++) {
    const c = text[j];
    if (c === "\\") j++;
    else if (c === quote) return j + 1;
    else if (c === "\n") return -1;
  }
  return -1;
}
