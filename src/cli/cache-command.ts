import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { prepareBuild } from "../build/index.ts";
import { busyboxTool, compileCacheExport, compileCacheImport, targetState, type CopyTool } from "../compile/index.ts";
import { UserInputError } from "../errors.ts";
import { image, type Platform } from "../llb/index.ts";
import { newId } from "../session/ids.ts";
import { solveJob } from "../solve/index.ts";
import type { ControlClient } from "../client/control.ts";
import { printDiskUsage, pruneCache } from "./cache-usage.ts";
import { hostBusybox } from "./host-busybox.ts";
import { progressOutput } from "./progress-mode.ts";
import { cancelOnSignals } from "./signals.ts";
import { connect, tlsFromFlags, type ConnectFlags } from "./connect.ts";
import { loadProject, planProject } from "./project.ts";
import { projectSharedKey } from "./shared-key.ts";

/** Options of `brewkit cache export|import`. */
export interface CacheOptions extends ConnectFlags {
  config?: string;
  progress?: string;
  /** Image that runs the copy (needs `sh` and `cp`); by default, this machine's static busybox. */
  image?: string;
  /** A target of the config that runs the copy (needs `sh` and `cp`). */
  target?: string;
  /** prune: every unused record, not only the ones the daemon would collect first. */
  all?: boolean;
}

/** What runs the copy: a target of the config, an image, or (needing no registry) this machine's static busybox. */
async function copyTool(control: ControlClient, platform: Platform, options: CacheOptions, action: string, runId: string): Promise<CopyTool> {
  if (!options.target) {
    if (options.image) return { state: image(options.image), localDirs: new Map() };
    const busybox = hostBusybox(platform, `cache ${action}`);
    return busyboxTool(busybox.dir, busybox.name);
  }
  const project = await loadProject(options);
  const plan = planProject(project, [options.target]);
  const name = plan.requested[0]!;
  const prepared = await prepareBuild(control, { ...plan, waves: [] }, { platform, sharedKey: projectSharedKey(plan.projectDir), runId });
  return targetState(plan, name, prepared.compileOptions);
}

/**
 * `brewkit cache du|prune`: the daemon's cache; `brewkit cache export <id> <dir>` /
 * `brewkit cache import <id> <dir>`: move a cache mount's content to or from a host folder.
 */
export async function cacheCommand(action: string, id: string | undefined, dir: string | undefined, options: CacheOptions): Promise<number> {
  if (action === "du" || action === "prune") {
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const { control } = await connect({ addr: options.addr, tls: tlsFromFlags(options), log: (l) => process.stderr.write(`${l}\n`) });
    try {
      if (action === "du") await printDiskUsage(control, out);
      else await pruneCache(control, options.all === true, out);
      return 0;
    } finally {
      control.close();
    }
  }
  if (action !== "export" && action !== "import") {
    throw new UserInputError("UNKNOWN_CACHE_ACTION", `unknown cache action "${action}"`, { hint: "use `brewkit cache du`, `cache prune [--all]`, `cache export <id> <dir>` or `cache import <id> <dir>`" });
  }
  if (!id || !dir) throw new UserInputError("CACHE_ARGS", `\`brewkit cache ${action}\` needs a cache id and a host folder`, { hint: `e.g. brewkit cache ${action} go-mod .cache/go-mod` });
  if (dir === "~" || dir.startsWith("~/")) {
    throw new UserInputError("PATH_TILDE", `the folder ${dir} starts with "~", which brewkit does not expand to your home directory (only a shell does)`, { hint: `leave the path unquoted so that the shell expands it, or write it out, e.g. brewkit cache ${action} ${id} $HOME${dir.slice(1)}` });
  }
  const hostDir = path.resolve(dir);
  if (action === "import" && !(existsSync(hostDir) && statSync(hostDir).isDirectory())) {
    throw new UserInputError("CACHE_IMPORT_DIR", `${hostDir} is not a folder`, { hint: "import from an existing folder, e.g. one written by `brewkit cache export`" });
  }
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const { control, platform } = await connect({ addr: options.addr, tls: tlsFromFlags(options), log: err });
  const abort = new AbortController();
  const stopHandlingSignals = cancelOnSignals(abort);
  try {
    const runId = newId();
    const progress = progressOutput(options.progress);
    const tool = await copyTool(control, platform, options, action, runId);
    const transfer = action === "export" ? compileCacheExport(id, { tool, platform, runId }) : compileCacheImport(id, hostDir, { tool, platform, runId });
    const result = await solveJob(
      control,
      { name: `cache ${action}`, definition: transfer.definition, localDirs: transfer.localDirs, exports: action === "export" ? [{ dest: hostDir, incremental: true }] : [] },
      { sharedKey: projectSharedKey(hostDir), onEvent: progress.onEvent, onStatus: progress.onStatus, onWarning: progress.onWarning, signal: abort.signal },
    ).finally(() => progress.finish());
    const t = result.transfer;
    err(action === "export"
      ? `✔ exported cache ${id} to ${dir}: ${t.filesReceived} files written, ${t.filesReused} unchanged`
      : `✔ imported ${dir} into cache ${id}: ${[...t.sentFiles.values()].flat().length} files uploaded`);
    return 0;
  } finally {
    stopHandlingSignals();
    control.close();
  }
}
