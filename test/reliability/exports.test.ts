import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BrewkitProcess } from "../support/process.ts";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

const transient = (name: string) => name.includes(".brewkit-export-") || name.includes(".brewkit-replaced-") || name.startsWith(".brewkit-export.lock");

describe("exports never write outside their place", () => {
  it("refuse an output whose directory an earlier export turned into a symlink out of the project", async () => {
    const outside = mkdtempSync(path.join(tmpdir(), "brewkit-outside-"));
    const project = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";
${busyboxBase}
export const docs = target({ from: base, command: "mkdir -p /out && ln -s ${outside} /out/docs", output: { artifact: "/out", local: "dist" } });
export const site = target({ from: base, command: "mkdir -p /site && echo pwned > /site/index.html", output: { artifact: "/site", local: "dist/docs" }, dependsOn: [docs] });
`,
    });
    const result = await brewkit(["run", "site"], { cwd: project });
    expect(result.stderr).toMatch(/error: .*dist\/docs, a symlink to .* outside the project/);
    expect(result.code).toBe(1);
    expect(readdirSync(outside)).toEqual([]);
  });

  it("refuse a user's symlink on the output path unless the output is allowed outside the project", async () => {
    const outside = mkdtempSync(path.join(tmpdir(), "brewkit-outside-"));
    const config = (allow: boolean) => `import { scratch, target } from "brewkit";
${busyboxBase}
export default target({ from: base, command: "mkdir -p /out && echo built > /out/app", output: { artifact: "/out", local: "out/app"${allow ? ", allowOutsideProject: true" : ""} } });
`;
    const project = makeProject({ "brewkit.config.ts": config(false) });
    symlinkSync(outside, path.join(project, "out"));
    const refused = await brewkit(["run"], { cwd: project });
    expect(refused.stderr).toMatch(/error: .*out, a symlink to .* outside the project/);
    expect(refused.stderr).toContain("allowOutsideProject");
    expect(refused.code).toBe(1);
    expect(readdirSync(outside)).toEqual([]);

    writeFileSync(path.join(project, "brewkit.config.ts"), config(true));
    const allowed = await brewkit(["run"], { cwd: project });
    expect(allowed.code).toBe(0);
    expect(readFileSync(path.join(outside, "app/app"), "utf8")).toBe("built\n");
  });
});

describe("concurrent runs writing one output", () => {
  it("end with one run's complete artifact, never a mix: the second waits for the first", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { scratch, target } from "brewkit";
${busyboxBase}
export const gen = target({
  from: base,
  env: { TAG: process.env.RUN_TAG ?? "none" },
  command: "for i in $(seq 1 500); do mkdir -p /out/d$i && echo $TAG > /out/d$i/f; done",
  output: { artifact: "/out", local: "dist" },
});
`,
    });
    expect((await brewkit(["run", "gen"], { cwd: project, env: { RUN_TAG: "first" } })).code).toBe(0);
    const dist = path.join(project, "dist");
    // Run a is frozen in the middle of moving its export in: it has set the first directory aside.
    let a: BrewkitProcess | undefined;
    const midCommit = new Promise<void>((resolve) => {
      const watcher = watch(dist, (_event, name) => {
        if (name?.includes(".brewkit-replaced-") && a) {
          a.child.kill("SIGSTOP");
          watcher.close();
          resolve();
        }
      });
    });
    a = new BrewkitProcess(["run", "gen", "--progress", "plain"], { cwd: project, env: { RUN_TAG: "a" } });
    await Promise.race([midCommit, a.exited.then(() => Promise.reject(new Error(`run a ended before exporting:\n${a!.output}`)))]);
    const b = new BrewkitProcess(["run", "gen", "--progress", "plain"], { cwd: project, env: { RUN_TAG: "b" } });
    // b must wait for a; it says so. (Without the lock it would move its files in over a's half.)
    await b.waitFor(/waiting for another brewkit run \(pid \d+\) to finish writing into dist/).catch(() => undefined);
    a.child.kill("SIGCONT");
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect(ea.code, a.output).toBe(0);
    expect(eb.code, b.output).toBe(0);
    const dirs = readdirSync(dist);
    expect(dirs.length).toBe(500);
    const tags = [...new Set(dirs.map((d) => readFileSync(path.join(dist, d, "f"), "utf8")))];
    expect(tags).toEqual(["b\n"]);
    expect(readdirSync(project).filter(transient)).toEqual([]);
  });
});

describe("a run stopped while exporting", () => {
  const config = `import { scratch, target } from "brewkit";
${busyboxBase}
export default target({
  from: base,
  command: "mkdir -p /out && for i in $(seq 1 40); do head -c 8000000 /dev/urandom > /out/big$i; done && echo fresh > /out/marker",
  output: { artifact: "/out", local: "dist" },
});
`;

  /** Starts a run and freezes it as soon as its staging dir appears in the project. */
  async function frozenInExport(project: string): Promise<BrewkitProcess> {
    let run: BrewkitProcess | undefined;
    const staged = new Promise<void>((resolve) => {
      const watcher = watch(project, (_event, name) => {
        if (name && name.includes(".brewkit-export-") && run) {
          run.child.kill("SIGSTOP");
          watcher.close();
          resolve();
        }
      });
    });
    run = new BrewkitProcess(["run", "--progress", "plain"], { cwd: project });
    await Promise.race([staged, run.exited.then(() => Promise.reject(new Error(`the run ended before exporting:\n${run!.output}`)))]);
    return run;
  }

  it("on SIGTERM removes its staging dir, leaves the old output as it was and exits 143", async () => {
    const project = makeProject({ "brewkit.config.ts": config });
    mkdirSync(path.join(project, "dist"));
    writeFileSync(path.join(project, "dist/marker"), "old\n");
    const run = await frozenInExport(project);
    run.child.kill("SIGTERM");
    run.child.kill("SIGCONT");
    const { code } = await run.exited;
    expect(code, run.output).toBe(143);
    expect(readdirSync(project).filter(transient)).toEqual([]);
    expect(readdirSync(path.join(project, "dist"))).toEqual(["marker"]);
    expect(readFileSync(path.join(project, "dist/marker"), "utf8")).toBe("old\n");
  });

  it("killed outright leaves a staging dir that the next run removes", async () => {
    const project = makeProject({ "brewkit.config.ts": config });
    const run = await frozenInExport(project);
    run.child.kill("SIGKILL");
    await run.exited;
    expect(readdirSync(project).filter(transient).length).toBeGreaterThan(0);
    const next = await brewkit(["run"], { cwd: project });
    expect(next.code, next.stderr).toBe(0);
    expect(readdirSync(project).filter(transient)).toEqual([]);
    expect(readFileSync(path.join(project, "dist/marker"), "utf8")).toBe("fresh\n");
    expect(existsSync(path.join(project, "dist/big40"))).toBe(true);
  });
});

describe("a run stopped while writing an image archive", () => {
  const config = `import { scratch, target } from "brewkit";
${busyboxBase}
export default target({
  from: base,
  command: "head -c 60000000 /dev/urandom > /big && echo $RUN_TOKEN > /marker",
  env: { RUN_TOKEN: process.env.RUN_TOKEN ?? "none" },
  output: { tarball: "dist/app.tar", format: "oci" },
});
`;

  /** Starts a run and freezes it as soon as its archive's temporary file appears beside the destination. */
  async function frozenInArchive(project: string, token: string): Promise<BrewkitProcess> {
    let run: BrewkitProcess | undefined;
    const staged = new Promise<void>((resolve) => {
      const watcher = watch(path.join(project, "dist"), (_event, name) => {
        if (name && name.includes(".brewkit-export-") && run) {
          run.child.kill("SIGSTOP");
          watcher.close();
          resolve();
        }
      });
    });
    run = new BrewkitProcess(["run", "--progress", "plain"], { cwd: project, env: { RUN_TOKEN: token } });
    await Promise.race([staged, run.exited.then(() => Promise.reject(new Error(`the run ended before exporting:\n${run!.output}`)))]);
    return run;
  }

  it("on SIGTERM removes the temporary file, leaves the old archive as it was and exits 143; killed outright, the next run removes it", async () => {
    const project = makeProject({ "brewkit.config.ts": config, "dist/app.tar": "the old archive" });
    const stopped = await frozenInArchive(project, `${Date.now()}-a`);
    stopped.child.kill("SIGTERM");
    stopped.child.kill("SIGCONT");
    expect((await stopped.exited).code, stopped.output).toBe(143);
    expect(readdirSync(path.join(project, "dist"))).toEqual(["app.tar"]);
    expect(readFileSync(path.join(project, "dist/app.tar"), "utf8")).toBe("the old archive");

    const killed = await frozenInArchive(project, `${Date.now()}-b`);
    killed.child.kill("SIGKILL");
    await killed.exited;
    expect(readdirSync(path.join(project, "dist")).filter(transient).length).toBe(1);
    const next = await brewkit(["run"], { cwd: project, env: { RUN_TOKEN: `${Date.now()}-c` } });
    expect(next.code, next.stderr).toBe(0);
    expect(readdirSync(path.join(project, "dist"))).toEqual(["app.tar"]);
    expect(readFileSync(path.join(project, "dist/app.tar")).subarray(0, 100).toString("latin1")).not.toContain("the old archive");
  }, 120_000);
});
