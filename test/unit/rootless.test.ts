import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { daemonConfigToml } from "../../src/daemon/daemon-config.ts";
import { isDaemonCommandLine } from "../../src/daemon/daemon-process.ts";
import { daemonLaunch, type DaemonMode } from "../../src/daemon/launch.ts";
import { daemonPaths, defaultDaemonPaths } from "../../src/daemon/paths.ts";
import { privacyProblems, type FileOwnership } from "../../src/daemon/privacy.ts";
import { hasRange, planRootless, rootlessNotReady, type RootlessFacts } from "../../src/daemon/rootless.ts";

/** A machine ready for a rootless daemon with an isolated network. */
function ready(overrides: Partial<RootlessFacts> = {}): RootlessFacts {
  return {
    user: "dev",
    uid: 1000,
    rootlesskit: "/usr/bin/rootlesskit",
    newuidmap: "/usr/bin/newuidmap",
    newgidmap: "/usr/bin/newgidmap",
    slirp4netns: "/usr/bin/slirp4netns",
    subuid: "other:100000:65536\ndev:165536:65536\n",
    subgid: "1000:165536:65536\n",
    maxUserNamespaces: "63000",
    rootlesskitAppArmorProfile: false,
    cniPlugins: true,
    ...overrides,
  };
}

describe("planRootless", () => {
  it("finds nothing missing on a ready machine, and isolates steps with slirp4netns", () => {
    expect(planRootless(ready())).toEqual({ problems: [], network: { driver: "slirp4netns" } });
  });

  it("names each missing piece with the command that fixes it", () => {
    const { problems } = planRootless(ready({ rootlesskit: undefined, newgidmap: undefined, subuid: undefined, subgid: "dev:1:10\n", unprivilegedUsernsClone: "0", maxUserNamespaces: "0" }));
    expect(problems.map((p) => p.fix)).toEqual([
      "sudo apt-get install rootlesskit",
      "sudo apt-get install uidmap",
      expect.stringMatching(/^sudo usermod --add-subuids \d+-\d+ --add-subgids \d+-\d+ dev\b/),
      "sudo sysctl -w user.max_user_namespaces=28633",
      "sudo sysctl -w kernel.unprivileged_userns_clone=1",
    ]);
    expect(problems[2]!.what).toContain("/etc/subuid");
    expect(problems[2]!.what).toContain("/etc/subgid");
    const error = rootlessNotReady(problems);
    expect(error.code).toBe("ROOTLESS_NOT_READY");
    for (const p of problems) expect(error.message).toContain(`fix: ${p.fix}`);
  });

  it("asks for AppArmor's consent only where no profile lets rootlesskit create user namespaces", () => {
    expect(planRootless(ready({ apparmorRestrictsUserns: "1" })).problems[0]!.fix).toContain("kernel.apparmor_restrict_unprivileged_userns=0");
    expect(planRootless(ready({ apparmorRestrictsUserns: "1", rootlesskitAppArmorProfile: true })).problems).toEqual([]);
  });

  it("shares the host's network, saying why, where slirp4netns cannot run; never silently", () => {
    const tun = "/dev/net/tun is not open to you (mode 0600)";
    expect(planRootless(ready({ tunProblem: tun })).network).toEqual({ driver: "host", reason: tun });
    expect(planRootless(ready({ slirp4netns: undefined })).network).toEqual({ driver: "host", reason: expect.stringContaining("slirp4netns is not installed") });
    // Without CNI plugins, the host network is not taken instead of the isolated one: it is a problem to fix.
    const noCni = planRootless(ready({ cniPlugins: false }));
    expect(noCni.network).toEqual({ driver: "slirp4netns" });
    expect(noCni.problems.map((p) => p.fix)).toEqual(["sudo apt-get install containernetworking-plugins"]);
  });
});

describe("hasRange", () => {
  it("matches the user by name or uid, with a range of at least 65536 ids", () => {
    expect(hasRange("dev:100000:65536\n", "dev", 1000)).toBe(true);
    expect(hasRange("1000:100000:70000\n", "dev", 1000)).toBe(true);
    expect(hasRange("dev:100000:1000\n", "dev", 1000)).toBe(false);
    expect(hasRange("developer:100000:65536\n", "dev", 1000)).toBe(false);
    expect(hasRange("dev:x:65536\n", "dev", 1000)).toBe(false);
    expect(hasRange(undefined, "dev", 1000)).toBe(false);
  });
});

describe("daemonLaunch", () => {
  const paths = daemonPaths("/home/dev/.local/share/brewkit/daemon", "/home/dev/.brewkit/bin", "/run/user/1000/brewkit/daemon-1");
  const common = { binary: "/home/dev/.brewkit/bin/buildkitd", paths, extraAddresses: [], allowHostNetwork: true };
  const entitlements = (args: string[]) => args.flatMap((arg, i) => (args[i - 1] === "--allow-insecure-entitlement" ? [arg] : []));

  it("runs buildkitd itself as root, each step on the daemon's bridge", () => {
    const { command, args } = daemonLaunch({ ...common, mode: { kind: "rootful" }, cniDir: "/usr/lib/cni" });
    expect(command).toBe(common.binary);
    expect(args).toContain("--oci-worker-net=bridge");
    expect(args.slice(args.indexOf("--oci-cni-binary-dir"), args.indexOf("--oci-cni-binary-dir") + 2)).toEqual(["--oci-cni-binary-dir", "/usr/lib/cni"]);
    expect(args.slice(0, 2)).toEqual(["--addr", "unix:///run/user/1000/brewkit/daemon-1/buildkitd.sock"]);
    expect(entitlements(args)).toEqual(["network.host"]);
  });

  it("runs buildkitd under RootlessKit for a user: in its own network namespace with slirp4netns, else on the host's", () => {
    const isolated: DaemonMode = { kind: "rootless", rootlesskit: "/usr/bin/rootlesskit", network: { driver: "slirp4netns" } };
    const own = daemonLaunch({ ...common, mode: isolated, cniDir: "/usr/lib/cni" });
    expect(own.command).toBe("/usr/bin/rootlesskit");
    expect(own.args).toContain("--net=slirp4netns");
    expect(own.args).toContain("--disable-host-loopback");
    expect(own.args).toContain("--oci-worker-net=bridge");
    expect(own.args.slice(own.args.indexOf(common.binary) + 1)).toContain("--addr");
    expect(isDaemonCommandLine([own.command, ...own.args], `unix://${paths.socket}`)).toBe(true);

    const shared = daemonLaunch({ ...common, mode: { kind: "rootless", rootlesskit: "/usr/bin/rootlesskit", network: { driver: "host", reason: "no tun" } } });
    expect(shared.args).toContain("--net=host");
    expect(shared.args).toContain("--oci-worker-net=host");
    expect(shared.args).not.toContain("--oci-cni-binary-dir");
    expect(isDaemonCommandLine([shared.command, ...shared.args], `unix://${paths.socket}`)).toBe(true);
    // RootlessKit's child runs as /proc/self/exe with the same arguments.
    expect(isDaemonCommandLine(["/proc/self/exe", ...shared.args], `unix://${paths.socket}`)).toBe(true);
  });

  it("never grants more than network.host, and that only when asked", () => {
    for (const mode of [{ kind: "rootful" }, { kind: "rootless", rootlesskit: "rk", network: { driver: "host", reason: "" } }] as DaemonMode[]) {
      expect(entitlements(daemonLaunch({ ...common, mode }).args)).toEqual(["network.host"]);
      expect(entitlements(daemonLaunch({ ...common, mode, allowHostNetwork: false }).args)).toEqual([]);
      expect(daemonLaunch({ ...common, mode }).args.join(" ")).not.toContain("security.insecure");
    }
  });
});

describe("isDaemonCommandLine under RootlessKit", () => {
  it("refuses a rootlesskit that runs something else on the address", () => {
    const address = "unix:///run/user/1000/brewkit/daemon-1/buildkitd.sock";
    expect(isDaemonCommandLine(["rootlesskit", "--net=host", "/bin/sleep", "--addr", address], address)).toBe(false);
    expect(isDaemonCommandLine(["rootlesskit", "--net=host", "buildkitd", "--addr", "unix:///other.sock"], address)).toBe(false);
  });
});

describe("privacyProblems", () => {
  const owner = { uid: 1000, gid: 1000 };
  const dir = (mode: number, uid = 1000): FileOwnership => ({ path: "/d", expected: "dir", actual: "dir", uid, gid: 1000, mode });
  const socket = (mode: number, uid = 1000, gid = 1000): FileOwnership => ({ path: "/d/s.sock", expected: "socket", actual: "socket", uid, gid, mode });

  it("accepts directories 0700 and a socket 0600, or 0660 to the user's own group", () => {
    expect(privacyProblems([dir(0o700), socket(0o600)], owner)).toEqual([]);
    expect(privacyProblems([dir(0o700), socket(0o660)], owner)).toEqual([]);
  });

  it("refuses what another user could reach: a mode open to others, another group, another owner", () => {
    expect(privacyProblems([dir(0o755)], owner)).toEqual([expect.stringContaining("mode 0755")]);
    expect(privacyProblems([socket(0o666)], owner)).toEqual([expect.stringContaining("mode 0666")]);
    expect(privacyProblems([socket(0o660, 1000, 100)], owner)).toEqual([expect.stringContaining("group 100")]);
    expect(privacyProblems([socket(0o600, 0)], owner)).toEqual([expect.stringContaining("belongs to uid 0")]);
    expect(privacyProblems([dir(0o700, 1001)], owner)).toEqual([expect.stringContaining("belongs to uid 1001")]);
    expect(privacyProblems([{ ...socket(0o600), actual: "other" }], owner)).toEqual(["/d/s.sock is not a socket"]);
  });
});

describe("defaultDaemonPaths", () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps root's daemon, socket included, in brewkit's home", () => {
    const paths = defaultDaemonPaths({ HOME: "/root", BREWKIT_HOME: "/root/.brewkit", XDG_RUNTIME_DIR: "/run/user/0" }, 0);
    expect(paths.dir).toBe("/root/.brewkit/daemon");
    expect(paths.socket).toBe("/root/.brewkit/daemon/buildkitd.sock");
  });

  it("puts a user's state in XDG_DATA_HOME and the socket in a private XDG_RUNTIME_DIR, else beside the state", () => {
    const runtime = mkdtempSync(path.join(tmpdir(), "brewkit-xdg-"));
    made.push(runtime);
    chmodSync(runtime, 0o700);
    // The runtime dir must be the user's: as root, make it another (non-root) user's.
    let uid = process.getuid!();
    if (uid === 0) chownSync(runtime, (uid = 4242), 4242);
    const env = { HOME: "/home/dev", XDG_RUNTIME_DIR: runtime };

    const own = defaultDaemonPaths(env, uid);
    expect(own.dir).toBe("/home/dev/.local/share/brewkit/daemon");
    expect(path.dirname(path.dirname(own.socket))).toBe(path.join(runtime, "brewkit"));
    expect(path.dirname(own.otelSocket)).toBe(own.socketDir);
    expect(defaultDaemonPaths({ ...env, XDG_DATA_HOME: "/data" }, uid).dir).toBe("/data/brewkit/daemon");
    // BREWKIT_HOME holds the state, and its daemon has a socket of its own.
    const moved = defaultDaemonPaths({ ...env, BREWKIT_HOME: "/bk" }, uid);
    expect(moved.dir).toBe("/bk/daemon");
    expect(path.dirname(path.dirname(moved.socket))).toBe(path.join(runtime, "brewkit"));
    expect(moved.socket).not.toBe(own.socket);

    // A runtime dir that others may enter, or that is not the user's, is not used.
    expect(defaultDaemonPaths(env, uid + 1).socket).toBe("/home/dev/.local/share/brewkit/daemon/buildkitd.sock");
    chmodSync(runtime, 0o755);
    expect(defaultDaemonPaths(env, uid).socket).toBe("/home/dev/.local/share/brewkit/daemon/buildkitd.sock");
  });
});

describe("daemonConfigToml's OpenTelemetry socket", () => {
  it("puts buildkitd's OpenTelemetry socket beside the daemon's own, keeping a path the user chose", () => {
    expect(daemonConfigToml(undefined, { otelSocket: "/run/user/1000/b/otel-grpc.sock" })).toBe('[otel]\n  socketPath = "/run/user/1000/b/otel-grpc.sock"\n');
    expect(daemonConfigToml('[otel]\n  socketPath = "/mine.sock"\n', { otelSocket: "/x.sock" })).toBe('[otel]\n  socketPath = "/mine.sock"\n');
  });
});
