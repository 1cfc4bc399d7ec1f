// brewkit's start compiles its CLI bundle from V8's code cache (src/launch): a run from
// the cache builds as one compiled from source, configs included (a script compiled
// from a code cache has no import() of its own: the launcher lends it one).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { brewkit, busyboxBase, makeProject } from "../support/project.ts";

const traced = (file: string, event: string) => readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { event: string; status?: string }).filter((e) => e.event === event);

describe("the CLI from its code cache", () => {
  for (const commonJs of [false, true]) {
    it(`builds a ${commonJs ? "CommonJS" : "ES module"} project's config the same from the cache as without it`, async () => {
      const token = randomUUID();
      const dir = makeProject({
        ...(commonJs ? {} : { "package.json": JSON.stringify({ type: "module" }) }),
        "brewkit.config.ts": `import { target, scratch } from "brewkit";\n${busyboxBase}\nexport const out = target({ from: base, command: "echo ${token} > /token", output: { artifact: "/token", local: "dist" } });\n`,
      });
      // A home of its own: its code cache starts empty.
      const home = mkdtempSync(path.join(tmpdir(), "brewkit-home-"));
      const statuses: Array<string | undefined> = [];
      for (let run = 0; run < 2; run++) {
        const traceFile = path.join(dir, `trace-${run}.jsonl`);
        const result = await brewkit(["run", "out", "--progress", "plain"], { cwd: dir, env: { BREWKIT_HOME: home, BREWKIT_TRACE: traceFile } });
        expect(result.stderr).toContain("✔ out");
        expect(result.code).toBe(0);
        expect(readFileSync(path.join(dir, "dist", "token"), "utf8")).toBe(`${token}\n`);
        expect(traced(traceFile, "solve-sent")).toHaveLength(1);
        statuses.push(traced(traceFile, "code-cache")[0]?.status);
      }
      expect(statuses).toEqual(["miss", "hit"]);
    });
  }
});
