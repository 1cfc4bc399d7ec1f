// brewkit's own example build: tests and packages the app in example/.
// Everything runs offline: the base image is Debian's static busybox on scratch.
import { cache, scratch, target } from "brewkit";

/** A minimal base image: Debian's static busybox on an empty filesystem. */
export const base = target({
  description: "busybox on scratch (from the host's busybox-static package)",
  from: scratch,
  copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" },
  command: ["/bin/busybox", "--install", "-s", "/bin"],
});

/** Runs the example's tests. */
export const test = target({
  description: "run the example's tests",
  from: base,
  workdir: "/src",
  copy: "example",
  command: "sh example/test.sh",
});

/** Packages the example app into example/dist. */
export const release = target({
  description: "package the example app into example/dist",
  from: base,
  workdir: "/src",
  copy: "example/src",
  env: { GREET_VERSION: "1.0.0" },
  cache: [cache("example-build-log", "/var/cache/example")],
  commands: [
    "mkdir -p /out/bin && cp example/src/greet.sh /out/bin/greet && chmod 755 /out/bin/greet",
    "sh /out/bin/greet packager > /out/GREETING",
    "date -u >> /var/cache/example/builds && wc -l < /var/cache/example/builds > /out/BUILDS-SEEN-BY-CACHE",
  ],
  output: { artifact: "/out", local: "example/dist" },
  dependsOn: [test],
});

export default release;
