// When the CLI runs as a script compiled from V8's code cache (bin/brewkit.js), V8 drops
// the script's own import() handler on a cache hit: the loader passes its import() in.
declare const __brewkitImport: ((specifier: string) => Promise<unknown>) | undefined;

/** `import()` of a module outside brewkit's bundle (a user's compiled config), by absolute URL. */
export function importModule(specifier: string): Promise<unknown> {
  return typeof __brewkitImport === "function" ? __brewkitImport(specifier) : import(specifier);
}
