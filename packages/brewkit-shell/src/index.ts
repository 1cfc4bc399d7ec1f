// Target factories for shell-script projects. A config calls shellProject() and
// exports the targets it returns.
import { cache, scratch, target, type Target } from "brewkit";

/** Options of `shellProject`. */
export interface ShellProjectOptions {
  /** Name of the packaged program, e.g. `"greet"`. */
  name: string;
  /** Project-relative path of the script to package, e.g. `"src/greet.sh"`. */
  script: string;
  /** Project-relative test script run with `sh` before packaging, e.g. `"test.sh"`. */
  test?: string;
  /** Project-relative directory receiving the packaged program (default `"dist"`). */
  dist?: string;
  /** Host path of a static busybox (default: Debian's busybox-static). */
  busybox?: string;
}

/** The targets of a shell project. */
export interface ShellProject {
  /** Busybox on an empty filesystem, built from the host's static binary (no registry needed). */
  base: Target;
  /** Runs the tests (a target that always succeeds when there is no test script). */
  test: Target;
  /** Packages the script into `dist`, after the tests. */
  build: Target;
}

/** Targets that test and package one shell script, offline. */
export function shellProject(options: ShellProjectOptions): ShellProject {
  const dist = options.dist ?? "dist";
  const base = target({
    description: "busybox base image",
    from: scratch,
    copy: { src: options.busybox ?? "/usr/bin/busybox", dest: "/bin/busybox" },
    command: ["/bin/busybox", "--install", "-s", "/bin"],
  });
  const test = target({
    description: `test ${options.name}`,
    from: base,
    workdir: "/src",
    copy: options.test ? [options.script, options.test] : [options.script],
    command: options.test ? ["sh", options.test] : "true",
  });
  const build = target({
    description: `package ${options.name} into ${dist}/`,
    from: base,
    workdir: "/src",
    copy: options.script,
    cache: [cache(`shell-project-${options.name}`, "/var/cache/shell-project")],
    commands: [
      `mkdir -p /out && cp ${options.script} /out/${options.name} && chmod 755 /out/${options.name}`,
      `echo "${options.name} packaged" >> /var/cache/shell-project/log`,
    ],
    output: { artifact: "/out", local: dist },
    dependsOn: [test],
  });
  return { base, test, build };
}
