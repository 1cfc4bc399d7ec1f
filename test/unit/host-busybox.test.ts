// The copy tool of `brewkit cache export|import`: this machine's static busybox, checked
// before it is sent to the daemon, with what to do when it cannot serve.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hostBusybox, readElf } from "../../src/cli/host-busybox.ts";
import { BrewkitError } from "../../src/errors.ts";

const amd64 = { OS: "linux", Architecture: "amd64" };
const hostArchitecture = { x64: "amd64", arm64: "arm64" }[process.arch as "x64" | "arm64"];

function errorOf(fn: () => unknown): BrewkitError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BrewkitError) return err;
    throw err;
  }
  throw new Error("expected an error");
}

describe("the host's busybox as the copy tool", () => {
  it("reads the architecture and the linking of real executables", () => {
    // The static busybox the suite builds on (busybox-static), and Node, which is linked dynamically.
    expect(readElf(readFileSync("/usr/bin/busybox"))).toEqual({ architecture: hostArchitecture, dynamic: false });
    expect(readElf(readFileSync(process.execPath))).toEqual({ architecture: hostArchitecture, dynamic: true });
    expect(readElf(Buffer.from("#!/bin/sh\necho not an executable\n".repeat(4)))).toBeUndefined();
  });

  it("is found and named by its directory and file name", () => {
    expect(hostBusybox({ OS: "linux", Architecture: hostArchitecture! }, "cache export")).toEqual({ dir: "/usr/bin", name: "busybox" });
  });

  it("says what to install, or to pass instead, when it is missing or cannot run in an empty filesystem", () => {
    const missing = errorOf(() => hostBusybox(amd64, "cache export", ["/nonexistent/busybox", undefined]));
    expect(missing.code).toBe("BUSYBOX_MISSING");
    expect(missing.message).toContain("`brewkit cache export` runs its copy with this machine's static busybox, so that it needs no registry, and there is none");
    expect(missing.hint).toContain("apt-get install busybox-static");
    expect(missing.hint).toContain("--image <ref>");
    expect(missing.hint).toContain("--target <name>");

    const dynamic = errorOf(() => hostBusybox({ OS: "linux", Architecture: hostArchitecture! }, "cache import", [process.execPath]));
    expect(dynamic.message).toBe(`${process.execPath} is linked dynamically: on an empty filesystem it would find none of its libraries`);

    const script = path.join(mkdtempSync(path.join(tmpdir(), "brewkit-busybox-")), "busybox");
    writeFileSync(script, "#!/bin/sh\n", { mode: 0o755 });
    expect(errorOf(() => hostBusybox(amd64, "cache import", [script])).message).toContain("not an ELF binary");

    const other = errorOf(() => hostBusybox({ OS: "linux", Architecture: "s390x" }, "cache export", ["/usr/bin/busybox"]));
    expect(other.message).toBe(`/usr/bin/busybox is built for ${hostArchitecture}, but the daemon builds for s390x`);
    expect(other.hint).toContain("--image <ref>");
  });
});
