import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";

/** The brewkit repository (its package is linked into every test project). */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** brewkit's home for tests: keeps machine ids and daemons away from the user's. */
export const testHome = mkdtempSync(path.join(tmpdir(), "brewkit-home-"));

/** Creates a project directory with `files` and `brewkit` resolvable from its config. */
export function makeProject(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "brewkit-project-"));
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(repoRoot, path.join(dir, "node_modules", "brewkit"), "dir");
  for (const [name, content] of Object.entries(files)) writeFile(dir, name, content);
  return dir;
}

/** Writes `content` to `name` under `dir`, creating parent directories. */
export function writeFile(dir: string, name: string, content: string): void {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** What one CLI invocation did. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Runs the brewkit CLI in `cwd` against the suite's daemon, like a user would. */
export function brewkit(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "bin/brewkit.js"), ...args], {
      cwd: options.cwd,
      env: { ...process.env, BUILDKIT_HOST: inject("buildkitHost"), BREWKIT_HOME: testHome, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, durationMs: Date.now() - started }));
  });
}

/** A config snippet: the offline base image (Debian's static busybox on scratch). */
export const busyboxBase = `
/** Debian's static busybox on an empty filesystem. */
export const base = target({
  description: "busybox base",
  from: scratch,
  copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" },
  command: ["/bin/busybox", "--install", "-s", "/bin"],
});
`;
