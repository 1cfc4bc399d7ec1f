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
 * readable; `message` says what is wrong; `hint` says how to fix it. The CLI prints
 * these without a stack trace (unless --debug).
 */
export class BrewkitError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly context: ErrorContext;

  constructor(code: string, message: string, options: { hint?: string; context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.context = options.context ?? {};
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
