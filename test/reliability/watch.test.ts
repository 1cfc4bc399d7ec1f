import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BrewkitProcess } from "../support/process.ts";
import { busyboxBase, makeProject } from "../support/project.ts";

let running: BrewkitProcess | undefined;
afterEach(() => {
  running?.child.kill("SIGKILL");
  running = undefined;
});

describe("watch never reacts to what brewkit itself writes", () => {
  it("when a target copies the whole project, its output's parent included", async () => {
    const project = makeProject({
      "brewkit.config.ts": `import { fmt, scratch, target, variable } from "brewkit";
${busyboxBase}
const flavour = variable({ from: base, copy: "flavour", command: "cat flavour" });
export const app = target({ from: base, copy: ".", command: "mkdir -p /out && cat src/a.txt > /out/a && date +%s%N > /out/stamp", output: [
  { artifact: "/out", local: "dist" },
  { artifact: "/out", local: fmt\`dist-\${flavour}\` },
] });
`,
      "src/a.txt": "first\n",
      flavour: "plain\n",
    });
    const w = (running = new BrewkitProcess(["watch", "app", "--progress", "quiet"], { cwd: project }));
    let at = await w.waitFor(/✔ app/);
    for (const content of ["second\n", "third\n"]) {
      writeFileSync(path.join(project, "src/a.txt"), content);
      at = await w.waitFor(/↻ changed: src\/a\.txt\n/, at);
      at = await w.waitFor(/✔ app/, at);
      expect(readFileSync(path.join(project, "dist/a"), "utf8")).toBe(content);
      expect(readFileSync(path.join(project, "dist-plain/a"), "utf8")).toBe(content);
    }
    w.child.kill("SIGINT");
    expect((await w.exited).code).toBe(130);
    // One rebuild per edit: staging dirs, outputs (named by a variable too) and the export lock never count as changes.
    expect(w.output.match(/↻ changed: .*/g)).toEqual(["↻ changed: src/a.txt", "↻ changed: src/a.txt"]);
  });
});
