import { execFileSync } from "node:child_process";
import path from "node:path";
import { generateContext, manyTargetsConfig } from "../fixtures.ts";
import { measure } from "../tools.ts";
import { removeWorkDir, setUpRootlessUser, userEnv, userProject } from "../../test/support/rootless-user.ts";
import { alternate, brewkit, hangNote, ms, notes, project, type Alternated, type BenchSettings, type Row } from "./common.ts";

/**
 * Scenario 7: brewkit on a rootless daemon (an unprivileged user's own, under RootlessKit)
 * against brewkit on the rootful one, on this machine: the fully cached 10-target re-run and
 * the warm 2,000-file upload. The rootless runs fill the "brewkit" column, the rootful ones
 * the "buildctl" column, so the ratio is rootless ÷ rootful. Needs root, to make the user.
 */
export async function rootlessAgainstRootful(s: BenchSettings): Promise<Row[]> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench: the rootless rows need root (to make their unprivileged user); left out\n");
    return [];
  }
  const user = setUpRootlessUser();
  const userRun = (cwd: string, args: string[], extra: Record<string, string> = {}) =>
    measure(path.join(user.packageDir, "bin/brewkit.js"), [...args, ...(args[0] === "run" ? ["--progress", "quiet"] : [])], { cwd, env: userEnv(user, extra), user });
  try {
    const started = await userRun(user.home, ["daemon", "start"]);
    const socket = /on (unix:\/\/\S+)/.exec(started.stdout)?.[1];
    if (!started.stdout.includes("(rootless)") || !socket) throw new Error(`the rootless daemon did not start as expected:\n${started.stdout}${started.stderr}`);
    const on = { BUILDKIT_HOST: socket };
    const upload = `import { target, scratch } from "brewkit";\nexport const up = target({ from: scratch, copy: "ctx" });\n`;
    const rootful = { cached: project(path.join(s.work, "rootful-cached"), manyTargetsConfig(10)), upload: project(path.join(s.work, "rootful-upload"), upload) };
    const rootless = {
      cached: userProject(user, { "package.json": `${JSON.stringify({ type: "module" })}\n`, "brewkit.config.ts": manyTargetsConfig(10) }),
      upload: userProject(user, { "package.json": `${JSON.stringify({ type: "module" })}\n`, "brewkit.config.ts": upload }),
    };
    const files = 2_000;
    const fixture = generateContext(path.join(rootful.upload, "ctx"), files, 20 * 2 ** 20);
    generateContext(path.join(rootless.upload, "ctx"), files, 20 * 2 ** 20);
    execFileSync("chown", ["-R", `${user.uid}:${user.gid}`, rootless.upload]);
    // Warm both daemons: everything after is cached, and the uploads find their files known.
    for (const [dir, args] of [[rootless.cached, ["run", "all"]], [rootless.upload, ["run", "up"]]] as const) await userRun(dir, [...args], on);
    for (const [dir, args] of [[rootful.cached, ["run", "all"]], [rootful.upload, ["run", "up"]]] as const) await brewkit(s, dir, [...args]);
    const cached = await alternate(s, { brewkit: () => userRun(rootless.cached, ["run", "all"], on), buildctl: () => brewkit(s, rootful.cached, ["run", "all"]) });
    const warm = await alternate(s, { brewkit: () => userRun(rootless.upload, ["run", "up"], on), buildctl: () => brewkit(s, rootful.upload, ["run", "up"]) });
    const goal = (a: Alternated) => ms(a.brewkit).median / ms(a.buildctl).median < 1.1;
    const columns = "brewkit on each: rootless in the brewkit column, rootful in the buildctl column";
    return [
      { scenario: "7. rootless ÷ rootful daemon: fully cached re-run, 10 targets", brewkit: ms(cached.brewkit), buildctl: ms(cached.buildctl), unit: "ms", goal: "ratio < 1.10", met: goal(cached), note: notes(columns, hangNote(cached)) },
      { scenario: `7. rootless ÷ rootful daemon: upload, warm (${files.toLocaleString("en")} files / ${Math.round(fixture.bytes / 2 ** 20)} MiB)`, brewkit: ms(warm.brewkit), buildctl: ms(warm.buildctl), unit: "ms", goal: "ratio < 1.10", met: goal(warm), note: notes(columns, hangNote(warm)) },
    ];
  } finally {
    await userRun(user.home, ["daemon", "stop"]).catch(() => undefined);
    removeWorkDir(user);
  }
}
