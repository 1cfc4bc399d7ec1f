// patternmatcher turns each pattern into a Go (RE2) regular expression. User text
// inside brackets reaches that regexp verbatim, so `[*]` or `[[:alpha:]]` mean
// whatever RE2 makes of the generated string. To match Go exactly, the generated
// string is parsed here with RE2's rules and re-emitted as an equivalent JS RegExp.

/** A compiled Go regexp and whether anything in it can consume a `/`. */
export interface GoRegexp {
  readonly regexp: RegExp;
  /** True when a character class or `.` could match `/` (then it may span path segments). */
  readonly mayMatchSlash: boolean;
}

/** Raised for RE2 syntax brewkit does not translate or RE2 itself rejects. */
export class GoRegexpError extends Error {}

type Ranges = Array<[number, number]>;

const MAX_RUNE = 0x10ffff;
const SLASH = 0x2f;

const PERL_CLASSES: Record<string, Ranges> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
};

const POSIX_CLASSES: Record<string, Ranges> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

const CONTROL_ESCAPES: Record<string, number> = { a: 0x07, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b };

function normalize(ranges: Ranges): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function negate(ranges: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

function containsSlash(ranges: Ranges): boolean {
  return ranges.some(([lo, hi]) => lo <= SLASH && SLASH <= hi);
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function literal(c: number): string {
  return isAlnum(c) ? String.fromCodePoint(c) : `\\u{${c.toString(16)}}`;
}

function emitClass(ranges: Ranges): string {
  const parts = normalize(ranges).map(([lo, hi]) => (lo === hi ? literal(lo) : `${literal(lo)}-${literal(hi)}`));
  return `[${parts.join("")}]`;
}

class Parser {
  private readonly src: number[];
  private pos = 0;
  mayMatchSlash = false;

  constructor(source: string) {
    this.src = [...source].map((ch) => ch.codePointAt(0)!);
  }

  private peek(offset = 0): number | undefined {
    return this.src[this.pos + offset];
  }

  translate(): string {
    let out = "";
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      switch (c) {
        case 0x5c: // backslash
          out += this.topLevelEscape();
          break;
        case 0x5b: // [
          this.pos++;
          out += this.classBody();
          break;
        case 0x2e: // .  (RE2 without the s flag: anything but newline)
          this.pos++;
          this.mayMatchSlash = true;
          out += "[^\\n]";
          break;
        case 0x28: // (
          this.pos++;
          if (this.peek() === 0x3f) throw new GoRegexpError("group flags are not supported");
          out += "(?:";
          break;
        case 0x5e: // ^
        case 0x24: // $
        case 0x29: // )
        case 0x7c: // |
        case 0x2a: // *
        case 0x2b: // +
        case 0x3f: // ?
          this.pos++;
          out += String.fromCodePoint(c);
          break;
        default:
          this.pos++;
          out += literal(c);
      }
    }
    return out;
  }

  private topLevelEscape(): string {
    this.pos++;
    const c = this.peek();
    if (c === undefined) throw new GoRegexpError("trailing backslash");
    const letter = String.fromCodePoint(c);
    switch (letter) {
      case "A":
        this.pos++;
        return "^";
      case "z":
        this.pos++;
        return "$";
      case "b":
      case "B":
        this.pos++;
        return `\\${letter}`;
    }
    const perl = this.perlClass();
    if (perl) return emitClass(perl);
    return literal(this.escapedChar());
  }

  // \d \D \s \S \w \W, positioned on the letter.
  private perlClass(): Ranges | undefined {
    const c = this.peek();
    if (c === undefined) return undefined;
    const letter = String.fromCodePoint(c);
    const base = PERL_CLASSES[letter.toLowerCase()];
    if (!base || !"dswDSW".includes(letter)) return undefined;
    this.pos++;
    const ranges = letter === letter.toUpperCase() ? negate(base) : base;
    if (containsSlash(ranges)) this.mayMatchSlash = true;
    return ranges;
  }

  // The character after a backslash (already consumed), by RE2's parseEscape.
  private escapedChar(): number {
    const c = this.peek();
    if (c === undefined) throw new GoRegexpError("trailing backslash");
    this.pos++;
    if (c < 0x80 && !isAlnum(c)) return c;
    const control = CONTROL_ESCAPES[String.fromCodePoint(c)];
    if (control !== undefined) return control;
    throw new GoRegexpError(`unsupported escape \\${String.fromCodePoint(c)}`);
  }

  // Positioned just after "[".
  private classBody(): string {
    let negated = false;
    if (this.peek() === 0x5e) {
      negated = true;
      this.pos++;
    }
    let ranges: Ranges = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new GoRegexpError("missing closing ]");
      if (c === 0x5d && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === 0x5b && this.peek(1) === 0x3a) {
        const named = this.namedClass();
        if (named) {
          ranges = ranges.concat(named);
          continue;
        }
      }
      if (c === 0x5c) {
        const next = this.peek(1);
        if (next === 0x70 || next === 0x50) throw new GoRegexpError("unicode classes (\\p) are not supported");
        this.pos++;
        const perl = this.perlClass();
        if (perl) {
          ranges = ranges.concat(perl);
          continue;
        }
        this.pos--;
      }
      const lo = this.classChar();
      let hi = lo;
      if (this.peek() === 0x2d && this.peek(1) !== undefined && this.peek(1) !== 0x5d) {
        this.pos++;
        hi = this.classChar();
        if (hi < lo) throw new GoRegexpError("invalid character class range");
      }
      ranges.push([lo, hi]);
    }
    if (negated) ranges = negate(ranges);
    if (containsSlash(ranges)) this.mayMatchSlash = true;
    return emitClass(ranges);
  }

  private classChar(): number {
    const c = this.peek();
    if (c === undefined) throw new GoRegexpError("missing closing ]");
    if (c === 0x5c) {
      this.pos++;
      return this.escapedChar();
    }
    this.pos++;
    return c;
  }

  // "[:alpha:]" or "[:^alpha:]"; like RE2, the name runs to the next ":]" anywhere.
  private namedClass(): Ranges | undefined {
    const rest = String.fromCodePoint(...this.src.slice(this.pos));
    const end = rest.indexOf(":]", 2);
    if (end < 0) return undefined;
    const name = rest.slice(2, end);
    const negated = name.startsWith("^");
    const base = POSIX_CLASSES[negated ? name.slice(1) : name];
    if (!base) throw new GoRegexpError(`invalid character class ${rest.slice(0, end + 2)}`);
    this.pos += [...rest.slice(0, end + 2)].length;
    return negated ? negate(base) : base;
  }
}

/** Compiles `source` with RE2's meaning into a JS RegExp; throws GoRegexpError when it cannot. */
export function compileGoRegexp(source: string): GoRegexp {
  const parser = new Parser(source);
  const translated = parser.translate();
  let regexp: RegExp;
  try {
    regexp = new RegExp(translated, "u");
  } catch (err) {
    throw new GoRegexpError((err as Error).message);
  }
  return { regexp, mayMatchSlash: parser.mayMatchSlash };
}
