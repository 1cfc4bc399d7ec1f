// A static site: pages in pages/*.txt become HTML with a shared layout, built offline.
import { scratch, target, variable } from "brewkit";

/** Debian's static busybox on an empty filesystem (install it with `apt-get install busybox-static`). */
export const base = target({
  description: "busybox base image, built from the host's static busybox",
  from: scratch,
  copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" },
  command: ["/bin/busybox", "--install", "-s", "/bin"],
});

/** How many pages the site has, computed in a container. */
export const pageCount = variable({ from: base, copy: "pages", command: "ls /pages | wc -l | tr -d ' '" });

/** Renders every page into site/. */
export const site = target({
  description: "render pages/ into site/",
  from: base,
  workdir: "/work",
  copy: ["pages", "layout.html", "render.sh"],
  env: { PAGES: pageCount },
  command: "sh render.sh",
  output: { artifact: "/out", local: "site" },
});

export default site;
