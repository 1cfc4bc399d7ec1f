import { describe, expect, it } from "vitest";
import { isDaemonCommandLine } from "../../src/daemon/daemon-process.ts";
import { startFailureCause } from "../../src/daemon/start-failure.ts";

/** A Go stack as github.com/pkg/errors prints it under `%+v`: function lines, then tab-indented file lines. */
function stack(...functions: string[]): string[] {
  return functions.flatMap((fn, i) => [fn, `\tgithub.com/moby/buildkit@v0.32.2/${fn.split(".")[0]}.go:${10 + i}`]);
}

describe("startFailureCause", () => {
  it("finds the message of buildkitd's exit error among its stack frames, outermost first", () => {
    const log = [
      'time="2026-12-02T14:40:33Z" level=info msg="auto snapshotter: using overlayfs"',
      'time="2026-12-02T14:40:33Z" level=warning msg="CDI setup error /etc/cdi: failed to monitor for changes: no such file or directory"',
      "buildkitd: stat /opt/cni/bin/bridge: no such file or directory",
      'failed to find CNI bridge "/opt/cni/bin/bridge" or buildkit-cni-bridge',
      ...stack("cniprovider.NewBridge", "netproviders.Providers", "main.main", "runtime.main", "runtime.goexit"),
      "",
    ].join("\n");
    expect(startFailureCause(log)).toBe('failed to find CNI bridge "/opt/cni/bin/bridge" or buildkit-cni-bridge: stat /opt/cni/bin/bridge: no such file or directory');
  });

  it("collects messages wrapped around an error that has a stack of its own", () => {
    const log = ["buildkitd: inner problem", ...stack("a.inner", "runtime.goexit"), "middle context", ...stack("b.middle"), "outer context", ...stack("c.outer")].join("\n");
    expect(startFailureCause(log)).toBe("outer context: middle context: inner problem");
  });

  it("falls back to the last fatal log entry, then to a panic", () => {
    const fatal = ['time="t" level=info msg="starting"', 'time="t" level=fatal msg="cannot listen" error="listen unix /x.sock: bind: address \\"x\\" in use"'].join("\n");
    expect(startFailureCause(fatal)).toBe('cannot listen: listen unix /x.sock: bind: address "x" in use');
    const panic = ['time="t" level=info msg="starting"', "panic: runtime error: index out of range [3] with length 3", "", "goroutine 1 [running]:", "main.main()", "\t/src/main.go:10 +0x1d"].join("\n");
    expect(startFailureCause(panic)).toBe("panic: runtime error: index out of range [3] with length 3");
  });

  it("says nothing when the log names no cause", () => {
    expect(startFailureCause('time="t" level=info msg="running server on /x.sock"\n')).toBeUndefined();
    expect(startFailureCause("")).toBeUndefined();
  });
});

describe("isDaemonCommandLine", () => {
  const address = "unix:///home/u/.brewkit/daemon/buildkitd.sock";

  it("accepts buildkitd listening on the daemon's socket, directly or under rootlesskit", () => {
    expect(isDaemonCommandLine(["/home/u/.brewkit/bin/buildkitd", "--addr", address, "--root", "/r"], address)).toBe(true);
    expect(isDaemonCommandLine(["/usr/bin/rootlesskit", "/usr/local/bin/buildkitd", "--oci-worker-no-process-sandbox", "--addr", address], address)).toBe(true);
    expect(isDaemonCommandLine(["buildkitd", `--addr=${address}`], address)).toBe(true);
  });

  it("refuses other processes and other daemons", () => {
    expect(isDaemonCommandLine(["sleep", "1000"], address)).toBe(false);
    expect(isDaemonCommandLine(["/usr/bin/buildkitd", "--addr", "unix:///run/buildkit/buildkitd.sock"], address)).toBe(false);
    expect(isDaemonCommandLine(["/usr/bin/sh", "-c", `buildkitd --addr ${address}`], address)).toBe(false);
    expect(isDaemonCommandLine(["/usr/bin/cat", "--addr", address], address)).toBe(false);
  });
});
