/**
 * Orders strings as their UTF-8 bytes compare (Go's string order). UTF-16 code units
 * agree with that except that surrogates (code points above U+FFFF) sort before
 * U+E000–U+FFFF, where UTF-8 puts them after.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff, ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate && (xSurrogate ? y : x) >= 0xe000) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Sorts `items` in place by `compare` (stable, as Array.prototype.sort), by insertion: for
 * the few keys of one op's metadata, without the work arrays the built-in sort allocates.
 */
export function sortFew<T>(items: T[], compare: (a: T, b: T) => number): T[] {
  // Insertion grows with the square of the length: long lists take the built-in sort.
  if (items.length > 16) return items.sort(compare);
  for (let i = 1; i < items.length; i++) {
    const item = items[i]!;
    let j = i - 1;
    for (; j >= 0 && compare(items[j]!, item) > 0; j--) items[j + 1] = items[j]!;
    items[j + 1] = item;
  }
  return items;
}

/** Orders strings by UTF-16 code units, as Array.prototype.sort does without a comparator. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
