import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BrewkitProcess } from "../support/process.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

// Every build sees the files as they are when it starts, even while another build of
// the same project (a concurrent run, or the build a rebuild cancelled) is still on
// the daemon with the same steps.

/** A project whose step blocks until its content's flag exists in a shared cache; `release` sets flags. */
function blockingProject(): string {
  // Unique per project: cache ids do not count in the daemon's cache keys, commands do.
  const barrier = `barrier-${randomBytes(6).toString("hex")}`;
  return makeProject({
    "brewkit.config.ts": `import { cache, scratch, target } from "brewkit";
${busyboxBase}
const gate = cache(${JSON.stringify(barrier)}, "/barrier");
export const app = target({
  from: base,
  copy: "src",
  cache: [gate],
  command: "v=$(cat /src/a.txt); echo started-$v ${barrier}; while [ ! -e /barrier/go-$v ]; do sleep 0.05; done; mkdir -p /out && echo $v > /out/a",
  output: { artifact: "/out", local: process.env.OUT ?? "out" },
});
export const release = target({ from: base, cache: [gate], env: { FLAGS: process.env.FLAGS ?? "" }, command: "for f in $FLAGS; do touch /barrier/go-$f; done # ${barrier}" });
`,
    "src/a.txt": "one\n",
  });
}

const release = async (project: string, flags: string[]) => {
  const result = await brewkit(["run", "release"], { cwd: project, env: { FLAGS: flags.join(" ") } });
  expect(result.code, result.stderr).toBe(0);
};

let running: BrewkitProcess[] = [];
afterEach(() => {
  for (const p of running) p.child.kill("SIGKILL");
  running = [];
});

describe("a build sees the files as they are when it starts", () => {
  it("when another run of the same project is still building", async () => {
    const project = blockingProject();
    const first = new BrewkitProcess(["run", "app", "--progress", "plain"], { cwd: project, env: { OUT: "out-first" } });
    running.push(first);
    await first.waitFor(/started-one/);
    writeFileSync(path.join(project, "src/a.txt"), "two\n");
    const second = new BrewkitProcess(["run", "app", "--progress", "plain"], { cwd: project, env: { OUT: "out-second" } });
    running.push(second);
    // The second run's step is on the daemon (its own, or, wrongly, the first run's).
    await second.waitFor(/\[app\] v=\$\(cat/);
    await release(project, ["one", "two"]);
    const [a, b] = await Promise.all([first.exited, second.exited]);
    expect(a.code, first.output).toBe(0);
    expect(b.code, second.output).toBe(0);
    expect(readFileSync(path.join(project, "out-first/a"), "utf8")).toBe("one\n");
    expect(readFileSync(path.join(project, "out-second/a"), "utf8")).toBe("two\n");
  });

  it("when watch rebuilds while the cancelled build is still ending on the daemon", async () => {
    const project = blockingProject();
    const watch = new BrewkitProcess(["watch", "app", "--progress", "plain"], { cwd: project });
    running.push(watch);
    let at = await watch.waitFor(/started-one/);
    writeFileSync(path.join(project, "src/a.txt"), "two\n");
    at = await watch.waitFor(/↻ changed: src\/a\.txt/, at);
    at = await watch.waitFor(/\[app\] v=\$\(cat/, at);
    writeFileSync(path.join(project, "src/a.txt"), "three\n");
    const lastChange = (at = await watch.waitFor(/↻ changed: src\/a\.txt/, at));
    at = await watch.waitFor(/\[app\] v=\$\(cat/, at);
    await release(project, ["one", "two", "three"]);
    const built = await watch.waitFor(/✔ app/, at);
    expect(readFileSync(path.join(project, "out/a"), "utf8")).toBe("three\n");
    const lastBuild = watch.output.slice(lastChange, built);
    expect(lastBuild).toContain("started-three");
    expect(lastBuild).not.toMatch(/started-(one|two)|context canceled/);
    watch.child.kill("SIGINT");
    expect((await watch.exited).code).toBe(130);
  });
});
