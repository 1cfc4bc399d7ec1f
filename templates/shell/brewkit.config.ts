// A shell project: lint-free tests and a packaged script, built offline on busybox.
import { cache, scratch, target } from "brewkit";

/** Debian's static busybox on an empty filesystem (install it with `apt-get install busybox-static`). */
export const base = target({
  description: "busybox base image, built from the host's static busybox",
  from: scratch,
  copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" },
  command: ["/bin/busybox", "--install", "-s", "/bin"],
});

/** Runs the tests in test.sh. */
export const test = target({
  description: "run the tests",
  from: base,
  workdir: "/src",
  copy: ["src", "test.sh"],
  command: "sh test.sh",
});

/** Packages the script into dist/. */
export const build = target({
  description: "package the script into dist/",
  from: base,
  workdir: "/src",
  copy: "src",
  cache: [cache("shell-template-builds", "/var/cache/builds")],
  commands: [
    "mkdir -p /out && cp src/hello.sh /out/hello && chmod 755 /out/hello",
    "date -u >> /var/cache/builds/log && wc -l < /var/cache/builds/log > /out/BUILD_NUMBER",
  ],
  output: { artifact: "/out", local: "dist" },
  dependsOn: [test],
});

export default build;
