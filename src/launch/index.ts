// What bin/brewkit.js runs: the CLI bundle, compiled with caches that spare the next
// start most of its parsing and compiling.
import * as nodeModule from "node:module";
import path from "node:path";
import { brewkitHome } from "../daemon/paths.ts";
import { trace } from "../trace.ts";
import { compileCachedScript } from "./code-cache.ts";

// Node 22.1+; absent from Node 20's types.
const { enableCompileCache } = nodeModule as unknown as { enableCompileCache?: (dir: string) => unknown };

/**
 * Runs the CLI's CommonJS bundle (`bundleFile`) with V8's code cache under brewkit's
 * cache dir, and, on Nodes that have it, Node's own compile cache for the ES modules
 * loaded after it (a user's compiled config, brewkit's config API).
 */
export function launch(bundleFile: string): void {
  const cacheDir = path.join(brewkitHome(), "cache");
  // Node checks its entries itself, and ignores a cache it cannot write.
  enableCompileCache?.(path.join(cacheDir, "compile"));
  // The entry grows with each command's first run: a first `--version` must not leave `run` uncached.
  const command = process.argv.slice(2).find((arg) => !arg.startsWith("-")) ?? "";
  const script = compileCachedScript(bundleFile, path.join(cacheDir, "code"), ["__brewkitImport"], command);
  trace("code-cache", { status: script.status, uses: script.uses });
  // At exit the functions this run compiled go into the entry too.
  process.once("exit", () => script.save());
  // The bundle's import() goes through this module: a script compiled from a code cache has no import() of its own.
  script.run({ require: nodeModule.createRequire(bundleFile), extra: [(specifier: string) => import(specifier)] });
}
