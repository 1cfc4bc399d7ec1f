import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import type { TestProject } from "vitest/node";
import { LocalDaemon } from "../../src/daemon/local-daemon.ts";
import { daemonPaths, defaultDaemonPaths } from "../../src/daemon/paths.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Address of the buildkitd every end-to-end test talks to. */
    buildkitHost: string;
    /** A tcp:// address of the same daemon, when the suite started it. */
    buildkitTcpHost: string | undefined;
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
    project.provide("buildkitTcpHost", external.startsWith("tcp://") ? external : undefined);
    return async () => {};
  }
  // Short path: the socket must fit in a unix socket address.
  const dir = mkdtempSync("/tmp/brewkit-test-");
  const tcp = `tcp://127.0.0.1:${await freePort()}`;
  const daemon = new LocalDaemon(daemonPaths(dir, defaultDaemonPaths().binDir), [tcp]);
  await daemon.start({ timeoutMs: 60_000 });
  project.provide("buildkitHost", daemon.address);
  project.provide("buildkitTcpHost", tcp);
  return async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

/** A loopback TCP port that is free right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
