import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { DaemonError } from "../errors.ts";
import { findCniPlugins } from "./cni-plugins.ts";
import { packageRoot } from "./paths.ts";
import { findOnPath } from "./which.ts";

/** The BuildKit version pinned by brewkit's go.mod. */
export function pinnedBuildkitVersion(root = packageRoot): string {
  const goMod = readFileSync(path.join(root, "go.mod"), "utf8");
  const match = /^\s*github\.com\/moby\/buildkit (v\S+)/m.exec(goMod);
  if (!match?.[1]) throw new DaemonError("GO_MOD_PIN", `go.mod in ${root} does not pin github.com/moby/buildkit`);
  return match[1];
}

/** Where Go's own installer puts `go`, which is often not on PATH. */
export const goInstallerBinary = "/usr/local/go/bin/go";

/** The `go` to build BuildKit with: the one on `envPath`, else `installed`; GO_MISSING when there is none. */
export function findGo(envPath = process.env.PATH ?? "", installed = goInstallerBinary): string {
  const go = findOnPath("go", envPath) ?? (existsSync(installed) ? installed : undefined);
  if (!go) {
    throw new DaemonError("GO_MISSING", "building BuildKit needs Go (>= 1.26), which was not found on PATH", {
      hint: "install Go, or point --addr / BUILDKIT_HOST at an existing buildkitd",
    });
  }
  return go;
}

function run(command: string, args: string[], options: { cwd?: string; log: (line: string) => void }): Promise<void> {
  return new Promise((resolve, reject) => {
    options.log(`$ ${command} ${args.join(" ")}`);
    const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new DaemonError("INSTALL_FAILED", `${command} ${args.join(" ")} exited with ${code}`)),
    );
  });
}

/**
 * Builds the pinned buildkitd and buildctl into `binDir` with Go, and installs from the
 * system's packages what the daemon runs when it is missing: runc, the CNI plugins of the
 * steps' network, and (for the rootless daemon of a user who is not root) rootlesskit,
 * uidmap and slirp4netns. apt runs as root, or through sudo when it asks no password;
 * otherwise each missing package is named with the command that installs it.
 */
export async function installDaemon(binDir: string, log: (line: string) => void = console.error): Promise<void> {
  const go = findGo();
  mkdirSync(binDir, { recursive: true });
  const version = pinnedBuildkitVersion();
  const ldflags = `-X github.com/moby/buildkit/version.Version=${version} -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit`;
  await run(go, ["build", "-trimpath", "-ldflags", ldflags, "-o", binDir + path.sep,
    "github.com/moby/buildkit/cmd/buildkitd", "github.com/moby/buildkit/cmd/buildctl"], { cwd: packageRoot, log });
  const missing = missingPackages(binDir);
  if (missing.length) {
    const names = missing.map((m) => m.name);
    const asRoot = process.getuid?.() === 0;
    const viaSudo = !asRoot && (await sudoAsksNoPassword());
    if ((asRoot || viaSudo) && findOnPath("apt-get")) {
      const apt = ["apt-get", "install", "-y", "-q", ...names];
      await (viaSudo ? run("sudo", ["-n", ...apt], { log }) : run("apt-get", apt.slice(1), { log }));
    } else {
      for (const m of missing) log(`warning: ${m.name} is not installed; ${m.why} (Debian/Ubuntu: sudo apt-get install ${m.name})`);
    }
  }
  log(`installed buildkitd and buildctl ${version} into ${binDir}`);
}

/** The system packages the daemon needs that are not installed. */
function missingPackages(binDir: string): Array<{ name: string; why: string }> {
  const missing: Array<{ name: string; why: string }> = [];
  if (!findOnPath("runc") && !findOnPath("buildkit-runc")) missing.push({ name: "runc", why: "buildkitd needs it to run steps" });
  if (!hasCniPlugins(binDir)) missing.push({ name: "containernetworking-plugins", why: "they give each step its own network" });
  if (!findOnPath("rootlesskit")) missing.push({ name: "rootlesskit", why: "it runs the daemon of a user who is not root" });
  if (!findOnPath("newuidmap") || !findOnPath("newgidmap")) missing.push({ name: "uidmap", why: "rootlesskit maps the user's subordinate ids with it" });
  if (!findOnPath("slirp4netns")) missing.push({ name: "slirp4netns", why: "it gives a rootless daemon a network of its own" });
  return missing;
}

function sudoAsksNoPassword(): Promise<boolean> {
  if (!findOnPath("sudo")) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn("sudo", ["-n", "true"], { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}

function hasCniPlugins(binDir: string): boolean {
  try {
    findCniPlugins([binDir, process.env.PATH ?? ""].join(path.delimiter));
    return true;
  } catch {
    return false;
  }
}
