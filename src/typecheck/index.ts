import { createRequire } from "node:module";
import path from "node:path";
import type TS from "typescript";

/** The outcome of typechecking a config. */
export interface TypecheckResult {
  /** `file:line:col: message`, one per error in the config or its local modules. */
  errors: string[];
  /** Why no typecheck ran, when it did not (plain JS config, no TypeScript). */
  skipped?: string;
  /** The TypeScript version used. */
  version?: string;
}

/** The project's TypeScript, else the one brewkit was installed with. */
function loadTypeScript(projectDir: string): typeof TS | undefined {
  for (const from of [path.join(projectDir, "package.json"), import.meta.url]) {
    try {
      return createRequire(from)("typescript") as typeof TS;
    } catch {
      // not installed there
    }
  }
  return undefined;
}

/** Typechecks `configFile` (and the local modules it imports) the way brewkit loads it. */
export function typecheckConfig(configFile: string, projectDir: string): TypecheckResult {
  if (/\.m?js$/.test(configFile)) return { errors: [], skipped: "the config is plain JavaScript" };
  const ts = loadTypeScript(projectDir);
  if (!ts) return { errors: [], skipped: "TypeScript is not installed in the project (npm install --save-dev typescript)" };
  const program = ts.createProgram([configFile], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
  });
  // Only the user's files: errors inside installed packages are not theirs to fix.
  const errors = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error && (!d.file || !/[\\/]node_modules[\\/]/.test(d.file.fileName)))
    .map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      if (!d.file || d.start === undefined) return message;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${path.relative(process.cwd(), d.file.fileName) || d.file.fileName}:${line + 1}:${character + 1}: ${message}`;
    });
  return { errors, version: ts.version };
}
