#!/usr/bin/env node
// brewkit ships TypeScript sources; tsx compiles them (and users' configs) on load.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
