import { UserInputError, type ErrorCode } from "../errors.ts";
import type { SourceLocation } from "../model/index.ts";

/** A config that cannot be planned; names the target, field and definition site. */
export class PlanError extends UserInputError {
  constructor(code: ErrorCode, message: string, options: { target?: string; field?: string; at?: SourceLocation; hint?: string }) {
    const where = options.at ? `${options.at.file}:${options.at.line}: ` : "";
    const subject = options.target ? `target "${options.target}"${options.field ? `, field "${options.field}"` : ""}: ` : "";
    super(code, `${where}${subject}${message}`, {
      hint: options.hint,
      context: { file: options.at?.file, line: options.at?.line, target: options.target, field: options.field },
    });
  }
}
