import { BrewkitError, UserInputError } from "../errors.ts";
import { plainRenderer, rawJsonWriter, TtyRenderer, type ProgressEvent } from "../progress/index.ts";
import type { Moby_Buildkit_V1_StatusResponse as StatusResponse } from "../proto/generated.ts";
import type { ExportedImage } from "../solve/index.ts";

/** The progress output modes, after buildx's. */
export const progressModes = ["auto", "tty", "plain", "rawjson", "quiet"] as const;

/** Hooks that show a run's progress, and a call to end the display. */
export interface ProgressOutput {
  onEvent?: (job: string, event: ProgressEvent) => void;
  onStatus?: (job: string, message: StatusResponse) => void;
  /** Reports an image the run exported (rawjson: one line per image). */
  onImage?: (job: string, image: ExportedImage) => void;
  /** Prints a `warning:` line (in every mode, quiet included). */
  onWarning: (message: string) => void;
  /** Reports the error that ended the run as data, in modes that print data (rawjson); the CLI prints it as text in every mode. */
  onError?: (error: unknown) => void;
  finish(): void;
}

/** The progress display for `mode` on stderr; `auto` is the live view when stderr is a terminal. */
export function progressOutput(mode: string | undefined, stream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env): ProgressOutput {
  const chosen = mode ?? "auto";
  if (!(progressModes as readonly string[]).includes(chosen)) {
    throw new UserInputError("PROGRESS_MODE", `unknown progress mode "${chosen}"`, { hint: `use one of: ${progressModes.join(", ")}` });
  }
  const line = (text: string) => stream.write(`${text}\n`);
  const onWarning = (message: string) => line(`warning: ${message}`);
  const effective = chosen === "auto" ? (stream.isTTY ? "tty" : "plain") : chosen;
  switch (effective) {
    case "tty": {
      const tty = new TtyRenderer({ write: (t) => stream.write(t), columns: () => stream.columns || Number(env.COLUMNS) || 80, color: !env.NO_COLOR && env.TERM !== "dumb" });
      return { onEvent: tty.onEvent, onWarning: (message) => tty.printAbove(`warning: ${message}`), finish: () => tty.finish() };
    }
    case "plain":
      return { onEvent: plainRenderer(line), onWarning, finish: () => {} };
    case "rawjson":
      return {
        onStatus: rawJsonWriter(line),
        onImage: (job, image) => line(JSON.stringify({ job, image })),
        onWarning,
        onError: (error) => line(JSON.stringify({ error: errorData(error) })),
        finish: () => {},
      };
    default:
      return { onWarning, finish: () => {} };
  }
}

/** An error as the JSON of rawjson mode: brewkit's own with its code and fields, any other by its message. */
function errorData(error: unknown): unknown {
  if (error instanceof BrewkitError) return error.toJSON();
  return { message: error instanceof Error ? error.message : String(error) };
}
