import path from "node:path";
import { ownDaemon } from "./connect.ts";
import { installDaemon } from "../daemon/install.ts";
import { defaultDaemonPaths } from "../daemon/paths.ts";
import { UserInputError } from "../errors.ts";

/** `brewkit daemon install|start|stop|status|logs`. */
export async function daemonCommand(action: string, options: { lines?: number }): Promise<number> {
  const paths = defaultDaemonPaths();
  const daemon = ownDaemon(paths);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  switch (action) {
    case "install": {
      await installDaemon(paths.binDir, (line) => process.stderr.write(`${line}\n`));
      // Another user's daemon runs rootless: what that needs is checked now, each missing piece with its fix.
      const mode = daemon.mode();
      if (mode.kind === "rootless") {
        process.stderr.write(mode.network.driver === "slirp4netns"
          ? "rootless: ready; steps get a network of their own in RootlessKit's namespace (slirp4netns)\n"
          : `rootless: ready; warning: steps whose network is "default" will share your host's network: ${mode.network.reason}\n`);
      }
      return 0;
    }
    case "start": {
      const { started } = await daemon.start();
      const mode = daemon.startRecord()?.mode;
      out(started ? `started buildkitd${mode ? ` (${mode})` : ""} on ${daemon.address}` : `buildkitd already running on ${daemon.address}`);
      return 0;
    }
    case "stop": {
      const { stopped, unrelatedPid, namespacesLeft } = await daemon.stop();
      if (unrelatedPid !== undefined) {
        process.stderr.write(`warning: ${paths.pidFile} named process ${unrelatedPid}, which is not this buildkitd: left it running and removed the pid file\n`);
      }
      if (namespacesLeft) {
        process.stderr.write(`warning: ${namespacesLeft.length} step network namespace(s) of a daemon that did not shut down cleanly are still mounted under ${path.dirname(namespacesLeft[0]!)}; buildkitd releases them when it next starts (or run \`umount\` on them as their owner)\n`);
      }
      out(stopped ? "stopped buildkitd" : "buildkitd was not running");
      return 0;
    }
    case "status": {
      const status = await daemon.status();
      const started = status.started;
      out(`running:   ${status.running ? "yes" : "no"}`);
      if (started) out(`mode:      ${started.mode} (${started.reason})`);
      out(`address:   ${status.address}`);
      if (status.pid) out(`pid:       ${status.pid}`);
      if (status.version) out(`version:   ${status.version}`);
      if (status.platforms?.length) out(`platforms: ${status.platforms.join(", ")}`);
      if (status.network?.bridge) {
        out(`network:   bridge ${status.network.bridge.bridgeName}, ${status.network.bridge.subnet}`);
        if (started?.network === "slirp4netns") out("           in RootlessKit's own network namespace (slirp4netns), away from your host's loopback");
      } else if (status.network?.mode === "host" && started?.network === "host") {
        out(`network:   host, shared: steps whose network is "default" reach your host's network and loopback, as the daemon does (${started.networkReason})`);
      } else if (status.network) {
        out(`network:   ${status.network.mode} (steps do not get a network of their own: restart the daemon)`);
      }
      out(`state:     ${status.stateDir}`);
      out(`log:       ${status.logFile}`);
      return status.running ? 0 : 3;
    }
    case "logs":
      out(daemon.logTail(Number(options.lines ?? 50)));
      return 0;
    default:
      throw new UserInputError("UNKNOWN_DAEMON_ACTION", `unknown daemon action "${action}"`, { hint: "use one of: install, start, stop, status, logs" });
  }
}
