import { constants } from "node:os";

const handled = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

let received: NodeJS.Signals | undefined;

/** The exit code of a run stopped by a signal (128 + its number), once one arrived. */
export function signalExitCode(): number | undefined {
  return received === undefined ? undefined : 128 + constants.signals[received];
}

/**
 * Cancels `abort` on Ctrl-C, SIGTERM or SIGHUP, so that a build stops the way it does on
 * an error (transfers stopped, staging dirs removed, sessions closed) instead of dying
 * halfway through writing an export. A second signal gets the default behaviour.
 */
export function cancelOnSignals(abort: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    received ??= signal;
    dispose();
    abort.abort(new Error(`stopped by ${signal}`));
  };
  const dispose = () => {
    for (const signal of handled) process.off(signal, onSignal);
  };
  for (const signal of handled) process.once(signal, onSignal);
  return dispose;
}
