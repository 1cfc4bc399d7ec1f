import { errorCodes, type ErrorCode } from "./error-codes.ts";

export { errorCodes, isGatewayFailure, type ErrorCode, type ErrorCodeInfo } from "./error-codes.ts";

/** Where in a user's config an error comes from. */
export interface ErrorContext {
  /** Config file the offending definition lives in. */
  file?: string;
  /** 1-based line in `file`. */
  line?: number;
  /** Target name. */
  target?: string;
  /** Field of the target (e.g. `copy[0].src`). */
  field?: string;
}

/**
 * Base of every error brewkit reports to a user. `code` is stable and machine
 * readable (one of `errorCodes`); `message` says what is wrong; `hint` says how to fix
 * it (the code's own hint when the error has none more precise). The CLI prints these
 * without a stack trace (unless --debug).
 */
export class BrewkitError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { hint?: string; context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint ?? errorCodes[code].hint;
    this.context = options.context ?? {};
  }

  /** The error as data, e.g. for `--progress rawjson`: code, message, hint, context. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}), context: this.context };
  }
}

/** The input a user gave (config, flags, paths) is wrong. */
export class UserInputError extends BrewkitError {}

/** The BuildKit daemon could not be reached or did not behave as expected. */
export class DaemonError extends BrewkitError {}

/** A build ran and failed (a step exited non-zero, a file was missing, ...). */
export class BuildError extends BrewkitError {}

/** This machine could not do its part of a build: a full disk, a name too long, a permission. */
export class HostError extends BrewkitError {}

/** A protocol peer sent something brewkit cannot accept. */
export class ProtocolError extends BrewkitError {}

/** Where in the config a failed step was written: a file and the lines of its `target()` call. */
export interface ConfigLocation {
  /** The file, as the build's definition names it (relative to the project). */
  file: string;
  /** First line, 1-based. */
  line: number;
  /** Last line of the call. */
  endLine: number;
}

/** Everything known about a failed step, rendered the same way by every output mode. */
export interface StepFailure {
  /** The target (or the build's name, e.g. `prepare`) the step belongs to. */
  target: string;
  /** The step's name as progress shows it. */
  step: string;
  /** The command's argv, for a command that failed. */
  command?: string[];
  /** The command's exit code, when it ran and exited. */
  exitCode?: number;
  /** The daemon's error message. */
  reason: string;
  /** The last lines the step printed. */
  lastLines: string[];
  /** Where the step was written, from the daemon's error details. */
  location?: ConfigLocation;
}

/** A step of a build failed: a command exited non-zero, a copy found no source, an image was not there. */
export class StepFailedError extends BuildError {
  readonly failure: StepFailure;

  constructor(failure: StepFailure, options: { subject?: string; cause?: unknown } = {}) {
    const at = failure.location ? `${failure.location.file}:${failure.location.line}: ` : "";
    const subject = options.subject ?? `target "${failure.target}"`;
    const logs = failure.lastLines.length ? `\n--- last output of the step ---\n${failure.lastLines.join("\n")}` : "";
    super("STEP_FAILED", `${at}${subject}: step "${failure.step}" failed: ${failure.reason}${logs}`, {
      context: { target: failure.target, ...(failure.location ? { file: failure.location.file, line: failure.location.line } : {}) },
      hint: "fix the command or its inputs and run again",
      cause: options.cause,
    });
    this.failure = failure;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), step: this.failure };
  }
}
