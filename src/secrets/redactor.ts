/** What a hidden value is replaced with, as CI systems do. */
export const redactionMark = "***";

/**
 * Values (and lines of multi-line values) shorter than this many characters are not
 * hidden: hiding every `ab` or `42` would hide half of a log.
 */
export const minRedactedLength = 4;

// A piece of an encoded value cut by a line break (`base64` wraps at 76 columns) is
// hidden when it is at least this long; shorter pieces match ordinary text too often.
const minFragmentLength = 8;

/**
 * Values (and lines) longer than this many bytes are hidden as they are, URL-encoded and
 * JSON-escaped, but not in base64 or hex: tokens, passwords and keys are far shorter, and
 * indexing the encodings of large files would cost more than it protects.
 */
export const maxEncodedBytes = 4096;

// Characters of base64, base64url and hex: where an encoded value (or a piece of it) can hide.
const encodedRun = new RegExp(`[A-Za-z0-9+/_-]{${minFragmentLength},}`, "g");

/**
 * Hides secret values in text: each value, each of its lines, and the common encodings
 * of them (base64 and base64url at the three alignments a value can have inside a longer
 * encoded string, URL encoding, hex, JSON string escapes) become `***`. Pieces of an
 * encoded value that a line break cut are hidden too. It only learns values (`add`) and
 * rewrites strings: the places that print or write text call it. Lookups go through
 * indexes of short keys, so the cost of redacting grows with the text, not with the
 * number or size of the values.
 */
export class Redactor {
  // Patterns by a hash of their first minRedactedLength characters, longest first.
  private readonly byPrefix = new Map<number, string[]>();
  // Each piece of minFragmentLength characters of each encoded form (by hash), with where it is.
  private readonly pieces = new Map<number, Array<{ form: string; at: number }>>();
  // Encoded forms by a hash of their first minFragmentLength characters.
  private readonly formStarts = new Map<number, string[]>();
  private readonly known = new Set<string>();
  private longestPattern = 0;

  /** True once it knows a value to hide. */
  get active(): boolean {
    return this.known.size > 0;
  }

  /** Length of the longest text it replaces: a match can start this many characters minus one before the end of a chunk. */
  get longest(): number {
    return this.longestPattern;
  }

  /** Learns a secret value; false when no part of it is long enough to hide (see `minRedactedLength`). */
  add(value: Uint8Array | string): boolean {
    const forms = redactedForms(value);
    for (const pattern of forms.patterns) {
      if (this.known.has(pattern)) continue;
      this.known.add(pattern);
      this.longestPattern = Math.max(this.longestPattern, pattern.length);
      const key = hashOf(pattern, minRedactedLength);
      this.byPrefix.set(key, [...(this.byPrefix.get(key) ?? []), pattern].sort((a, b) => b.length - a.length));
      if (!forms.encoded.has(pattern) || pattern.length < minFragmentLength) continue;
      const start = hashOf(pattern, minFragmentLength);
      this.formStarts.set(start, [...(this.formStarts.get(start) ?? []), pattern]);
      windowHashes(pattern, minFragmentLength, (at, hash) => {
        const where = this.pieces.get(hash);
        if (where) where.push({ form: pattern, at });
        else this.pieces.set(hash, [{ form: pattern, at }]);
      });
    }
    return forms.patterns.length > 0;
  }

  /** `text` with every known value, encoded form and cut piece of one replaced by `***`. */
  redact(text: string): string {
    if (!this.active || text.length < minRedactedLength) return text;
    let out = "";
    let shown = 0;
    for (const [start, end] of this.matches(text)) {
      out += text.slice(shown, start) + redactionMark;
      shown = end;
    }
    out = shown === 0 ? text : out + text.slice(shown);
    return this.pieces.size > 0 ? out.replace(encodedRun, (run) => this.redactRun(run)) : out;
  }

  /**
   * Splits a streamed text that has no line break for a long time: the first part can be
   * redacted and shown now, the second may be the beginning of a value still arriving
   * and must wait for the next chunk. No value starting in the first part ends in the second.
   */
  splitStreamed(text: string): [now: string, later: string] {
    if (!this.active) return [text, ""];
    let cut = Math.max(0, text.length - (this.longestPattern - 1));
    for (const [start, end] of this.matches(text)) {
      if (start >= cut) break;
      if (end > cut) cut = end;
    }
    return [text.slice(0, cut), text.slice(cut)];
  }

  // Where known patterns occur in `text`, left to right, the longest at each place, not overlapping.
  private matches(text: string): Array<[start: number, end: number]> {
    const found: Array<[number, number]> = [];
    let free = 0;
    windowHashes(text, minRedactedLength, (i, hash) => {
      if (i < free) return;
      const pattern = this.byPrefix.get(hash)?.find((p) => text.startsWith(p, i));
      if (pattern === undefined) return;
      found.push([i, i + pattern.length]);
      free = i + pattern.length;
    });
    return found;
  }

  // A run of base64/hex characters: hidden whole when it lies inside an encoded value
  // (the middle lines of wrapped output); its head or tail when they end or begin one.
  private redactRun(run: string): string {
    let head = 0;
    for (const { form, at } of this.pieces.get(hashOf(run, minFragmentLength)) ?? []) {
      if (form.startsWith(run, at)) return redactionMark;
      // The run begins with the end of an encoded value.
      if (form.length - at <= run.length && run.startsWith(form.slice(at))) head = Math.max(head, form.length - at);
    }
    let tail = run.length;
    windowHashes(run, minFragmentLength, (j, hash) => {
      if (j >= tail) return;
      // The run ends with the beginning of an encoded value.
      const forms = this.formStarts.get(hash);
      if (forms?.some((form) => run.length - j <= form.length && form.startsWith(run.slice(j)))) tail = j;
    });
    if (head === 0 && tail === run.length) return run;
    if (head >= tail) return redactionMark;
    return `${head > 0 ? redactionMark : ""}${run.slice(head, tail)}${tail < run.length ? redactionMark : ""}`;
  }
}

// A rolling hash of `width` characters (Rabin-Karp, modulo 2^32): keys of the indexes,
// computed for every window of a text without cutting it into strings. Equal hashes are
// candidates only; matches are checked on the text.
const hashBase = 0x01000193;

function hashOf(text: string, width: number): number {
  let hash = 0;
  for (let i = 0; i < width; i++) hash = (Math.imul(hash, hashBase) + text.charCodeAt(i)) | 0;
  return hash;
}

function windowHashes(text: string, width: number, visit: (start: number, hash: number) => void): void {
  let power = 1;
  for (let i = 0; i < width; i++) power = Math.imul(power, hashBase);
  let hash = 0;
  for (let i = 0; i < text.length; i++) {
    hash = (Math.imul(hash, hashBase) + text.charCodeAt(i)) | 0;
    if (i >= width) hash = (hash - Math.imul(text.charCodeAt(i - width), power)) | 0;
    if (i >= width - 1) visit(i - width + 1, hash);
  }
}

/** True when `value` has a part long enough to be hidden (see `minRedactedLength`). */
export function isRedactable(value: Uint8Array | string): boolean {
  return redactedForms(value).patterns.length > 0;
}

/** The texts that stand for `value` in output: the patterns to replace, and the encoded ones among them. */
function redactedForms(value: Uint8Array | string): { patterns: string[]; encoded: Set<string> } {
  const text = typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf8");
  const whole = text.replace(/[\r\n]+$/, "");
  const lines = whole.split(/\r\n|\r|\n/).map((line) => line.trim());
  const multiline = lines.length > 1;
  const units = [...new Set([whole.trim(), ...lines])].filter((unit) => unit.length >= minRedactedLength);
  const patterns = new Set<string>();
  const encoded = new Set<string>();
  for (const unit of units) {
    // A multi-line value never appears whole on one line of output; its lines and its encodings do.
    if (!(multiline && unit === whole.trim())) patterns.add(unit);
    for (const form of escapedForms(unit)) patterns.add(form);
    const bytes = Buffer.from(unit, "utf8");
    if (bytes.length > maxEncodedBytes) continue;
    for (const form of encodedForms(bytes)) {
      if (form.length < minRedactedLength) continue;
      patterns.add(form);
      encoded.add(form);
    }
  }
  return { patterns: [...patterns].filter((p) => p.length >= minRedactedLength), encoded };
}

// URL encodings (as encodeURIComponent, with lowercase escapes, as a form field) and the inside of a JSON string.
function escapedForms(unit: string): string[] {
  const uri = encodeURIComponent(unit);
  return [uri, uri.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()), new URLSearchParams({ v: unit }).toString().slice(2), JSON.stringify(unit).slice(1, -1)].filter(
    (form) => form !== unit,
  );
}

// Hex, and base64 in both alphabets: the whole encoding, and the characters that depend on
// the value alone when it starts at each of the three byte offsets of a base64 group.
function encodedForms(bytes: Buffer): string[] {
  const forms = [bytes.toString("hex"), bytes.toString("hex").toUpperCase()];
  for (const full of [bytes, Buffer.concat([bytes, Buffer.from("\n")])]) forms.push(full.toString("base64"));
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    forms.push(encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6)));
  }
  const urlSafe = forms.map((form) => form.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
  return [...new Set([...forms, ...urlSafe])];
}
