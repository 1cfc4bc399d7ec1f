import { DaemonError } from "../errors.ts";

/** What this machine offers a rootless daemon, as `probeRootless` finds it. */
export interface RootlessFacts {
  /** The user's name and id. */
  user: string;
  uid: number;
  /** Paths of the programs rootless mode runs, when installed. */
  rootlesskit?: string;
  newuidmap?: string;
  newgidmap?: string;
  slirp4netns?: string;
  /** The text of /etc/subuid and /etc/subgid (undefined when missing). */
  subuid?: string;
  subgid?: string;
  /** The values of the sysctls that gate unprivileged user namespaces, where they exist. */
  maxUserNamespaces?: string;
  unprivilegedUsernsClone?: string;
  apparmorRestrictsUserns?: string;
  /** An AppArmor profile that lets rootlesskit create user namespaces is installed. */
  rootlesskitAppArmorProfile: boolean;
  /** Why /dev/net/tun cannot be opened by the user (slirp4netns needs it), or undefined when it can. */
  tunProblem?: string;
  /** The CNI plugins of the bridge that RootlessKit's own network namespace holds are installed. */
  cniPlugins: boolean;
}

/** One thing rootless mode lacks, and the command that provides it. */
export interface RootlessProblem {
  what: string;
  fix: string;
}

/** How a rootless daemon's steps reach the network. */
export type RootlessNetwork =
  /** RootlessKit's own network namespace (slirp4netns), a bridge in it for the steps: isolated from the host. */
  | { driver: "slirp4netns" }
  /** The user's host network, shared: nothing better works on this machine (`reason` says why). */
  | { driver: "host"; reason: string };

/** What `planRootless` decided: the problems that stop a start, else the network to use. */
export interface RootlessPlan {
  problems: RootlessProblem[];
  network: RootlessNetwork;
}

// A range this large maps every uid an image may use (up to nobody, 65534) besides root.
const minimumSubordinateIds = 65536;

/**
 * Decides how a rootless daemon can run from what the machine offers: every missing piece
 * (rootlesskit, newuidmap, subordinate ids, user namespaces), each with the command that
 * fixes it, and the steps' network. Steps get RootlessKit's own network namespace when
 * slirp4netns can run; where it cannot, they share the user's host network, and the
 * returned reason says why (brewkit says so, never silently).
 */
export function planRootless(facts: RootlessFacts): RootlessPlan {
  const sudo = "sudo ";
  const problems: RootlessProblem[] = [];
  if (!facts.rootlesskit) problems.push({ what: "rootlesskit is not installed", fix: `${sudo}apt-get install rootlesskit` });
  if (!facts.newuidmap || !facts.newgidmap) problems.push({ what: "newuidmap and newgidmap are not installed", fix: `${sudo}apt-get install uidmap` });
  const suggested = "100000-165535";
  const missingRanges = [
    ...(hasRange(facts.subuid, facts.user, facts.uid) ? [] : ["subordinate user ids (/etc/subuid)"]),
    ...(hasRange(facts.subgid, facts.user, facts.uid) ? [] : ["subordinate group ids (/etc/subgid)"]),
  ];
  if (missingRanges.length) {
    problems.push({
      what: `${facts.user} has no range of ${missingRanges.join(" or ")} of at least ${minimumSubordinateIds} ids`,
      fix: `${sudo}usermod --add-subuids ${suggested} --add-subgids ${suggested} ${facts.user}  (any free range of ${minimumSubordinateIds} ids)`,
    });
  }
  if (facts.maxUserNamespaces === "0") {
    problems.push({ what: "user namespaces are disabled (user.max_user_namespaces is 0)", fix: `${sudo}sysctl -w user.max_user_namespaces=28633` });
  }
  if (facts.unprivilegedUsernsClone === "0") {
    problems.push({ what: "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone is 0)", fix: `${sudo}sysctl -w kernel.unprivileged_userns_clone=1` });
  }
  if (facts.apparmorRestrictsUserns === "1" && !facts.rootlesskitAppArmorProfile) {
    problems.push({
      what: "AppArmor keeps unprivileged programs from creating user namespaces (kernel.apparmor_restrict_unprivileged_userns is 1)",
      fix: `echo kernel.apparmor_restrict_unprivileged_userns=0 | ${sudo}tee /etc/sysctl.d/99-rootless.conf && ${sudo}sysctl --system`,
    });
  }
  let network: RootlessNetwork;
  if (!facts.slirp4netns) {
    network = { driver: "host", reason: "slirp4netns is not installed (apt-get install slirp4netns)" };
  } else if (facts.tunProblem) {
    network = { driver: "host", reason: facts.tunProblem };
  } else {
    network = { driver: "slirp4netns" };
    if (!facts.cniPlugins) {
      problems.push({ what: "the CNI plugins of the steps' bridge are not installed", fix: `${sudo}apt-get install containernetworking-plugins` });
    }
  }
  return { problems, network };
}

/** The error that stops a rootless start: every missing piece, each with its fix. */
export function rootlessNotReady(problems: readonly RootlessProblem[]): DaemonError {
  const lines = problems.map((p) => `  - ${p.what}\n    fix: ${p.fix}`);
  return new DaemonError("ROOTLESS_NOT_READY", `brewkit's daemon runs rootless for a user who is not root, and this machine is not ready for it:\n${lines.join("\n")}`, {
    hint: "run the commands above (then `brewkit daemon start`), or run as root, or point --addr / BUILDKIT_HOST at a running buildkitd",
  });
}

/** True when `text` (/etc/subuid or /etc/subgid) gives `user` (by name or id) a range large enough. */
export function hasRange(text: string | undefined, user: string, uid: number): boolean {
  if (!text) return false;
  return text.split("\n").some((line) => {
    const [owner, start, count] = line.trim().split(":");
    if (owner !== user && owner !== String(uid)) return false;
    return /^\d+$/.test(start ?? "") && /^\d+$/.test(count ?? "") && Number(count) >= minimumSubordinateIds;
  });
}
