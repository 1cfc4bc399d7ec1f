import { describe, expect, it } from "vitest";
import { mountPointsUnder, releaseStaleNamespaces } from "../../src/daemon/stale-namespaces.ts";

const mountinfo = [
  "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda1 rw",
  "610 22 0:4 net:[4026532401] /state/root/net/cni/abc rw shared:300 - nsfs nsfs rw",
  "611 22 0:4 net:[4026532402] /state/root/net/cni/def rw shared:301 - nsfs nsfs rw",
  // A sibling whose name starts with the same letters is not inside the dir.
  "612 22 0:4 net:[4026532403] /state/root/net/cni-other/x rw shared:302 - nsfs nsfs rw",
  "613 22 0:4 net:[4026532404] /my\\040state/root/net/cni/sp rw shared:303 - nsfs nsfs rw",
  "614 22 0:4 net:[4026532405] /state/root/net/cni rw shared:304 - tmpfs tmpfs rw",
  "",
].join("\n");

describe("stale step network namespaces", () => {
  it("finds the mount points inside a dir only, decoding octal escapes", () => {
    expect(mountPointsUnder(mountinfo, "/state/root/net/cni")).toEqual(["/state/root/net/cni/abc", "/state/root/net/cni/def"]);
    expect(mountPointsUnder(mountinfo, "/my state/root/net/cni/")).toEqual(["/my state/root/net/cni/sp"]);
    expect(mountPointsUnder(mountinfo, "/elsewhere")).toEqual([]);
  });

  it("lists deeper mounts first, and each once", () => {
    const nested = "1 0 0:1 / /d/a rw - x x rw\n2 1 0:1 / /d/a/b rw - x x rw\n3 1 0:1 / /d/a rw - x x rw\n";
    expect(mountPointsUnder(nested, "/d")).toEqual(["/d/a/b", "/d/a"]);
  });

  it("reports what it could not unmount, and touches nothing outside the daemon's namespace dir", () => {
    // Paths that are not mount points: umount fails, so each is reported as left.
    const fake = "1 0 0:4 net:[1] /nonexistent-brewkit-state/root/net/cni/n1 rw - nsfs nsfs rw\n1 0 0:4 / /nonexistent-brewkit-state/other rw - nsfs nsfs rw\n";
    expect(releaseStaleNamespaces("/nonexistent-brewkit-state/root", fake)).toEqual(["/nonexistent-brewkit-state/root/net/cni/n1"]);
  });
});
