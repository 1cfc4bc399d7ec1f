import { UserInputError } from "../errors.ts";

/** An ignore/include pattern that moby/patternmatcher would reject too. */
export class PatternSyntaxError extends UserInputError {
  /** The pattern as the user wrote it. */
  readonly pattern: string;

  constructor(pattern: string, reason: string) {
    super("PATTERN_SYNTAX", `invalid pattern ${JSON.stringify(pattern)}: ${reason}`, {
      hint: "Patterns use Docker's .dockerignore syntax: *, ?, [a-z], ** and a leading ! for exceptions; escape special characters with \\.",
    });
    this.pattern = pattern;
  }
}
