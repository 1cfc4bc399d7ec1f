import path from "node:path";
import { measure, type Measured } from "../tools.ts";
import { alternate, brewkit, buildctl, definitionFor, hangNote, ms, project, type BenchSettings, type Row } from "./common.ts";

/**
 * Scenario 8: images and a shared build cache. (a) Pushing an image whose new layer is
 * `pushBytes` of random data to the local registry: brewkit against `buildctl build
 * --output type=image,push=true` on the same daemon and LLB (the layer is built once and
 * cached; each sample pushes into an emptied registry, so every sample uploads it).
 * (b) A cold build on a second daemon, with and without importing the registry cache
 * that the first daemon exported.
 */
export async function imagesAndCache(s: BenchSettings): Promise<Row[]> {
  const dir = path.join(s.work, "images");
  const sizeMiB = Math.round(s.pushBytes / 2 ** 20);
  let sample = 0;
  const ref = () => `${s.registry}/bench/push:${sample++}`;
  project(dir, `import { scratch, target } from "brewkit";
export const base = target({ from: scratch, copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" }, command: ["/bin/busybox", "--install", "-s", "/bin"] });
export const layer = target({ from: base, command: "head -c ${s.pushBytes} /dev/urandom > /big" });
export const pushed = target({ from: layer, output: { image: process.env.PUSH_REF ?? "${s.registry}/bench/push:first", push: true } });
`);
  const def = await definitionFor(s, dir, "layer");
  await brewkit(s, dir, ["run", "pushed"]);
  const push = await alternate(s, {
    brewkit: () => brewkit(s, dir, ["run", "pushed"], { PUSH_REF: ref() }),
    buildctl: () => buildctl(s, dir, ["build", ...def.locals, "--output", `type=image,name=${ref()},push=true`], def.file),
    before: () => s.emptyRegistry(),
  });

  // (b) An expensive step: on daemon A once, its cache exported; then cold builds on daemon B.
  const cacheDir = path.join(s.work, "cache-share");
  const cacheRef = `${s.registry}/bench/cache:shared`;
  const steps = `sleep ${s.expensiveSeconds} && head -c ${Math.round(s.pushBytes / 10)} /dev/urandom > /out`;
  project(cacheDir, `import { scratch, target } from "brewkit";
export const base = target({ from: scratch, copy: { src: "/usr/bin/busybox", dest: "/bin/busybox" }, command: ["/bin/busybox", "--install", "-s", "/bin"] });
export const app = target({ from: base, command: "${steps}", output: { artifact: "/out", local: "dist" } });
`);
  await brewkit(s, cacheDir, ["run", "app", "--cache-to", `type=registry,ref=${cacheRef},mode=max`]);
  const onB = { BUILDKIT_HOST: s.secondDaemonAddress };
  const cold = { brewkit: [] as Measured[], buildctl: [] as Measured[] };
  for (let i = 0; i < s.samples; i++) {
    await measure(s.buildctl, ["--addr", s.secondDaemonAddress, "prune", "--all"], { cwd: cacheDir });
    cold.buildctl.push(await brewkit(s, cacheDir, ["run", "app"], onB));
    await measure(s.buildctl, ["--addr", s.secondDaemonAddress, "prune", "--all"], { cwd: cacheDir });
    cold.brewkit.push(await brewkit(s, cacheDir, ["run", "app", "--cache-from", `type=registry,ref=${cacheRef}`], onB));
  }
  return [
    { scenario: `8. image push, ${sizeMiB} MiB layer, to the local registry`, brewkit: ms(push.brewkit), buildctl: ms(push.buildctl), unit: "ms", goal: "ratio ≤ 1.05", met: ms(push.brewkit).median / ms(push.buildctl).median <= 1.05, note: hangNote(push) },
    {
      scenario: `8. cold build on a second daemon (a ${s.expensiveSeconds} s step): importing the registry cache (brewkit column) against none (buildctl column, also brewkit)`,
      brewkit: ms(cold.brewkit),
      buildctl: ms(cold.buildctl),
      unit: "ms",
      goal: "reported",
    },
  ];
}
