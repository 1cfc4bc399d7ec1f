import { mkdtempSync, rmSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { LocalDaemon } from "../../src/daemon/local-daemon.ts";
import { daemonPaths, defaultDaemonPaths } from "../../src/daemon/paths.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Address of the buildkitd every end-to-end test talks to. */
    buildkitHost: string;
  }
}

/**
 * Starts a private buildkitd for the suite (or uses BUILDKIT_HOST). If it cannot start,
 * this throws and every test fails: end-to-end tests never skip.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.BUILDKIT_HOST;
  if (external) {
    project.provide("buildkitHost", external);
    return async () => {};
  }
  // Short path: the socket must fit in a unix socket address.
  const dir = mkdtempSync("/tmp/brewkit-test-");
  const daemon = new LocalDaemon(daemonPaths(dir, defaultDaemonPaths().binDir));
  await daemon.start({ timeoutMs: 60_000 });
  project.provide("buildkitHost", daemon.address);
  return async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
