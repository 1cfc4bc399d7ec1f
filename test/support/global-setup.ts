import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { LocalDaemon } from "../../src/daemon/local-daemon.ts";
import { daemonPaths, defaultDaemonPaths } from "../../src/daemon/paths.ts";
import { freePort, mirrorConfig, pushTestImages, startRegistry } from "./registry.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Address of the buildkitd every end-to-end test talks to. */
    buildkitHost: string;
    /** A tcp:// address of the same daemon, when the suite started it. */
    buildkitTcpHost: string | undefined;
    /** `127.0.0.1:<port>` of the suite's registry; the daemon mirrors docker.io to it. */
    registry: string;
    /** `127.0.0.1:<port>` of a registry that refuses every pull (authentication required). */
    privateRegistry: string;
  }
}

/**
 * Starts a local registry with the test images and a private buildkitd for the suite
 * (or uses BUILDKIT_HOST). If anything cannot start, this throws and every test fails:
 * end-to-end tests never skip. The suite's daemon is started as brewkit starts its own
 * (each step on the daemon's own bridge network), so the tests exercise that setup.
 *
 * The daemon pulls Docker Hub images through the registry (a `docker.io` mirror in its
 * buildkitd.toml), so tests can name `busybox` offline. An external daemon
 * (BUILDKIT_HOST) is not reconfigured: it must share this machine's loopback and mirror
 * docker.io to the registry itself; set BREWKIT_TEST_REGISTRY_PORT to the port its
 * buildkitd.toml names (`[registry."docker.io"] mirrors = ["127.0.0.1:<port>"]`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Short path: the daemon's socket must fit in a unix socket address.
  const dir = mkdtempSync("/tmp/brewkit-test-");
  const cleanups: Array<() => Promise<unknown>> = [];
  const teardown = async () => {
    // Daemon first: it may still hold connections to the registries. One failing
    // cleanup must not leave the other processes running.
    const errors: unknown[] = [];
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => errors.push(err));
    rmSync(dir, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  };
  try {
    const port = registryPort(process.env.BREWKIT_TEST_REGISTRY_PORT);
    const registry = await startRegistry({ dir: path.join(dir, "registry"), port });
    cleanups.push(registry.stop);
    const privateRegistry = await startRegistry({ dir: path.join(dir, "private-registry"), requireAuth: true });
    cleanups.push(privateRegistry.stop);

    const external = process.env.BUILDKIT_HOST;
    let buildkitHost: string;
    if (external) {
      buildkitHost = external;
      project.provide("buildkitTcpHost", external.startsWith("tcp://") ? external : undefined);
    } else {
      const tcp = `tcp://127.0.0.1:${await freePort()}`;
      const paths = daemonPaths(path.join(dir, "daemon"), defaultDaemonPaths().binDir);
      // Host networking stays refused here, so the refusal can be tested; brewkit's own daemon allows it.
      const daemon = new LocalDaemon(paths, [tcp], false);
      mkdirSync(paths.dir);
      writeFileSync(paths.configFile, mirrorConfig(registry.address), { flag: "wx" });
      // Registered first: a daemon that timed out while starting may still be running.
      cleanups.push(() => daemon.stop());
      await daemon.start({ timeoutMs: 60_000 });
      buildkitHost = daemon.address;
      project.provide("buildkitTcpHost", tcp);
    }
    await pushTestImages(buildkitHost, registry.address, path.join(dir, "images")).catch((err: Error) => {
      if (!external) throw err;
      throw new Error(`cannot push the test images through BUILDKIT_HOST=${external}; an external daemon must reach ${registry.address} on this machine's loopback\n${err.message}`, { cause: err });
    });
    project.provide("buildkitHost", buildkitHost);
    project.provide("registry", registry.address);
    project.provide("privateRegistry", privateRegistry.address);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}

function registryPort(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`BREWKIT_TEST_REGISTRY_PORT must be a TCP port, not "${value}"`);
  return port;
}
