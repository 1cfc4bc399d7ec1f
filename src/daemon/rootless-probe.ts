import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { findCniPlugins } from "./cni-plugins.ts";
import type { RootlessFacts } from "./rootless.ts";
import { findOnPath } from "./which.ts";

/** What this machine offers a rootless daemon of the current user, programs looked up on `searchPath`. */
export function probeRootless(searchPath: string): RootlessFacts {
  const uid = process.getuid?.() ?? 0;
  return {
    user: userName(uid),
    uid,
    rootlesskit: findOnPath("rootlesskit", searchPath),
    newuidmap: findOnPath("newuidmap", searchPath),
    newgidmap: findOnPath("newgidmap", searchPath),
    slirp4netns: findOnPath("slirp4netns", searchPath),
    subuid: readText("/etc/subuid"),
    subgid: readText("/etc/subgid"),
    maxUserNamespaces: readText("/proc/sys/user/max_user_namespaces")?.trim(),
    unprivilegedUsernsClone: readText("/proc/sys/kernel/unprivileged_userns_clone")?.trim(),
    apparmorRestrictsUserns: readText("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")?.trim(),
    rootlesskitAppArmorProfile: ["/etc/apparmor.d/rootlesskit", "/etc/apparmor.d/usr.bin.rootlesskit"].some((file) => existsSync(file)),
    tunProblem: tunProblem(),
    cniPlugins: hasCniPlugins(searchPath),
  };
}

function userName(uid: number): string {
  try {
    return userInfo().username;
  } catch {
    return String(uid);
  }
}

/**
 * Why slirp4netns cannot open /dev/net/tun for this user, or undefined when it can. Inside
 * RootlessKit's user namespace the device's owner (the host's root) is nobody, so the
 * user's own access is what counts.
 */
function tunProblem(): string | undefined {
  const device = "/dev/net/tun";
  try {
    closeSync(openSync(device, "r+"));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `${device} does not exist, so slirp4netns cannot give the daemon a network namespace of its own`;
    const mode = modeOf(device);
    return `${device} is not open to you${mode ? ` (mode ${mode})` : ""}, so slirp4netns cannot give the daemon a network namespace of its own (as root, \`chmod 0666 ${device}\`, the kernel's usual mode, opens it)`;
  }
}

function modeOf(file: string): string | undefined {
  try {
    return `0${(statSync(file).mode & 0o777).toString(8)}`;
  } catch {
    return undefined;
  }
}

function hasCniPlugins(searchPath: string): boolean {
  try {
    findCniPlugins(searchPath);
    return true;
  } catch {
    return false;
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
