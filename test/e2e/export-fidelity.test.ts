// brewkit's export of a result is the tree BuildKit's own client writes for the same
// definition: modes (special bits, read-only directories), mtimes, contents, symlinks,
// hard links and empty directories.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { promises as fsp, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { defaultDaemonPaths } from "../../src/daemon/paths.ts";
import { brewkit, busyboxBase, makeProject, repoRoot, testHome } from "../support/project.ts";

function run(command: string, args: string[], options: { cwd: string; stdinFile?: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    if (options.stdinFile) child.stdin.end(readFileSync(options.stdinFile));
    else child.stdin.end();
  });
}

interface Entry {
  type: string;
  mode: string;
  mtimeNs: bigint;
  size: number;
  link?: string;
  sha?: string;
  inode?: string;
}

// Every entry below root, hard links labelled by the first path of their inode.
async function tree(root: string): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {};
  const inodes = new Map<bigint, string>();
  const visit = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await fsp.readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fsp.lstat(p, { bigint: true });
      const entry: Entry = { type: st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : st.isFile() ? "file" : "other", mode: (st.mode & 0o7777n).toString(8), mtimeNs: st.mtimeNs, size: st.isDirectory() ? 0 : Number(st.size) };
      if (st.isSymbolicLink()) entry.link = await fsp.readlink(p);
      if (st.isFile()) {
        entry.sha = createHash("sha256").update(await fsp.readFile(p)).digest("hex");
        if (!inodes.has(st.ino)) inodes.set(st.ino, r);
        entry.inode = inodes.get(st.ino);
      }
      out[r] = entry;
      if (st.isDirectory()) await visit(p, r);
    }
  };
  await visit(root, "");
  return out;
}

describe("an exported artifact", () => {
  it("is entry for entry what buildctl exports from the same definition", async () => {
    const token = randomBytes(6).toString("hex");
    const project = makeProject({
      "brewkit.config.ts": `import { target, scratch } from "brewkit";
${busyboxBase}
export const art = target({
  from: base,
  commands: [\`set -e
mkdir -p /art && cd /art && echo ${token} > token
for m in 644 666 600 444 400 755 777 4755 2755 1644 6711; do echo "mode $m" > f-$m; chmod $m f-$m; done
for m in 755 777 700 750 711 555 500 1777 2775; do mkdir -p d-$m/inner/deeper d-$m/empty; echo leaf > d-$m/inner/deeper/leaf; ln -s inner/deeper/leaf d-$m/link; done
: > empty-file
ln f-755 hard-755
ln -s /absolute/elsewhere abs-link
ln -s ../missing dangling
mkdir -p deep && d=deep && for i in $(seq 1 30); do echo $i > $d/f; mkdir $d/n; d=$d/n; done
for i in $(seq 1 200); do mkdir -p many/d$((i % 20)); head -c $((i * 37)) /bin/busybox > many/d$((i % 20))/f$i; done
for m in 755 777 700 750 711 555 500 1777 2775; do chmod $m d-$m/inner/deeper d-$m/inner d-$m/empty d-$m; done\`],
  output: { artifact: "/art", local: "out" },
});
`,
    });
    const built = await brewkit(["run", "art"], { cwd: project });
    expect(built.stderr).not.toContain("error:");
    expect(built.code).toBe(0);

    // buildctl exports the same definition (its busybox local source read from the host, as brewkit serves it).
    const env = { ...process.env, BUILDKIT_HOST: inject("buildkitHost"), BREWKIT_HOME: testHome, NO_COLOR: "1" };
    const definition = await run(process.execPath, [path.join(repoRoot, "bin/brewkit.js"), "definition", "art", "--format", "pb"], { cwd: project, env });
    expect(definition.code, definition.stderr).toBe(0);
    const defFile = path.join(project, "art.def.pb");
    writeFileSync(defFile, definition.stdout);
    const buildctl = path.join(defaultDaemonPaths().binDir, "buildctl");
    const dump = await run(buildctl, ["--addr", inject("buildkitHost"), "debug", "dump-llb"], { cwd: project, stdinFile: defFile });
    const locals = [...new Set([...dump.stdout.toString().matchAll(/local:\/\/([^"]+)/g)].map((m) => m[1]!))];
    const localFlags = locals.flatMap((n) => ["--local", `${n}=${n.startsWith("busybox-") ? "/usr/bin" : project}`]);
    const theirs = path.join(project, "out-buildctl");
    const exported = await run(buildctl, ["--addr", inject("buildkitHost"), "build", ...localFlags, "--output", `type=local,dest=${theirs}`], { cwd: project, stdinFile: defFile });
    expect(exported.code, exported.stderr).toBe(0);

    const ours = await tree(path.join(project, "out"));
    const expected = await tree(theirs);
    expect(ours["token"]?.sha).toBe(createHash("sha256").update(`${token}\n`).digest("hex"));
    expect(Object.keys(ours)).toEqual(Object.keys(expected));
    for (const [p, want] of Object.entries(expected)) {
      const got = ours[p]!;
      expect({ path: p, ...got, mtimeNs: undefined }).toEqual({ path: p, ...want, mtimeNs: undefined });
      // brewkit sets mtimes through a double of seconds: within 2 µs of Go's exact ones.
      const drift = got.mtimeNs > want.mtimeNs ? got.mtimeNs - want.mtimeNs : want.mtimeNs - got.mtimeNs;
      expect(drift, `mtime of ${p}`).toBeLessThan(2000n);
    }
    // Nothing but the two outputs was written beside them.
    expect((await fsp.readdir(project)).filter((n) => n.startsWith("."))).toEqual([]);
  });
});
