import type { DaemonPaths } from "./paths.ts";
import type { RootlessNetwork } from "./rootless.ts";

/** How brewkit runs its daemon: as root, or as the user under RootlessKit. */
export type DaemonMode =
  | { kind: "rootful" }
  | { kind: "rootless"; rootlesskit: string; network: RootlessNetwork };

/** What `daemonLaunch` needs to know. */
export interface LaunchOptions {
  mode: DaemonMode;
  /** The buildkitd binary. */
  binary: string;
  paths: DaemonPaths;
  /** More addresses to listen on besides the socket. */
  extraAddresses: readonly string[];
  /** Grant the `network.host` entitlement (brewkit's own daemon, on its private socket). */
  allowHostNetwork: boolean;
  /** `--oci-cni-binary-dir`, when the steps' bridge uses plugins from a directory off PATH. */
  cniDir?: string;
}

/** True when the daemon's steps get a bridge of their own (on the host, or in RootlessKit's namespace). */
export function stepsHaveOwnNetwork(mode: DaemonMode): boolean {
  return mode.kind === "rootful" || mode.network.driver === "slirp4netns";
}

/**
 * The command that starts the daemon. Rootful: buildkitd itself, each step on the
 * daemon's bridge. Rootless: buildkitd under RootlessKit, as the mapped root of a user
 * namespace; with slirp4netns RootlessKit gives the daemon a network namespace of its own
 * (no way to the host's loopback) and the bridge lives in it; without, the daemon and its
 * steps share the user's host network. Entitlements are never more than `network.host`,
 * and that only because the socket is the user's alone.
 */
export function daemonLaunch(options: LaunchOptions): { command: string; args: string[] } {
  const { mode, paths } = options;
  const ownNetwork = stepsHaveOwnNetwork(mode);
  const buildkitd = [
    "--addr", `unix://${paths.socket}`,
    ...options.extraAddresses.flatMap((addr) => ["--addr", addr]),
    "--root", paths.root,
    "--config", paths.effectiveConfigFile,
    "--oci-worker=true",
    "--containerd-worker=false",
    // Each step gets its own network namespace on the daemon's bridge, not the daemon's network.
    `--oci-worker-net=${ownNetwork ? "bridge" : "host"}`,
    ...(ownNetwork && options.cniDir ? ["--oci-cni-binary-dir", options.cniDir] : []),
    // brewkit's own daemon serves one user, who may ask for host networking per target.
    ...(options.allowHostNetwork ? ["--allow-insecure-entitlement", "network.host"] : []),
  ];
  if (mode.kind === "rootful") return { command: options.binary, args: buildkitd };
  const rootlesskit = ["--state-dir", paths.rootlesskitStateDir];
  if (mode.network.driver === "host") {
    return { command: mode.rootlesskit, args: [...rootlesskit, "--net=host", options.binary, ...buildkitd] };
  }
  return {
    command: mode.rootlesskit,
    args: [
      ...rootlesskit,
      "--net=slirp4netns",
      "--disable-host-loopback",
      // resolv.conf names slirp4netns's DNS; the CNI plugins keep their state in /var/lib/cni.
      "--copy-up=/etc",
      "--copy-up=/run",
      "--copy-up=/var/lib",
      // The copied-up /var/lib/cni still leads to the host's (root's) directory: give the
      // plugins an empty one of the namespace's own.
      "/bin/sh", "-c", 'rm -rf /var/lib/cni && mkdir -p /var/lib/cni && exec "$@"', "brewkit-rootless",
      options.binary, ...buildkitd,
    ],
  };
}
