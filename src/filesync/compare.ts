// Go compares strings byte-wise (UTF-8). JS compares UTF-16 code units, which
// disagrees for characters above U+FFFF versus U+E000..U+FFFF; shifting the
// surrogate range above the rest of the BMP restores code point (= UTF-8) order.
function unitOrder(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Byte-wise comparison of the UTF-8 encodings of `a` and `b` (Go's `a < b`); negative, zero or positive. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unitOrder(x) - unitOrder(y);
  }
  return a.length - b.length;
}

/**
 * fsutil's ComparePath: byte-wise like compareUtf8 but with `/` smaller than any
 * other byte, which is the order of a depth-first walk with sorted siblings.
 */
export function comparePath(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    return unitOrder(x) - unitOrder(y);
  }
  return a.length - b.length;
}
