#!/usr/bin/env node
// brewkit runs from its compiled JavaScript (dist/, made by `npm run build`): the CLI's
// bundle, compiled by the launcher with V8's code cache.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../dist/bundle/main.cjs", import.meta.url));
const launcher = new URL("../dist/bundle/launch.js", import.meta.url);
if (!existsSync(bundle) || !existsSync(launcher)) {
  process.stderr.write("error: brewkit is not built (dist/bundle/main.cjs is missing)\nhint: run `npm run build` in the brewkit package\n");
  process.exit(1);
}
const { launch } = await import(launcher.href);
launch(bundle);
