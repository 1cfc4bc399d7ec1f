#!/usr/bin/env node
// brewkit runs from its compiled JavaScript (dist/, made by `npm run build`); tsx is
// loaded only to evaluate a TypeScript config.
import { existsSync } from "node:fs";

const main = new URL("../dist/bundle/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("error: brewkit is not built (dist/bundle/main.js is missing)\nhint: run `npm run build` in the brewkit package\n");
  process.exit(1);
}
await import(main.href);
