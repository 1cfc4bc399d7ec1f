import { describe, expect, it } from "vitest";
import { usageError } from "../../src/cli/usage-error.ts";

describe("usageError", () => {
  it("names an unknown option as typed, not by the parser's key", () => {
    expect(usageError("Unknown option `--fooBar`", ["run", "--foo-bar"], "run")?.message).toBe("unknown option --foo-bar for `brewkit run`");
    expect(usageError("Unknown option `--cahce`", ["run", "t", "--no-cahce"], "run")?.message).toBe("unknown option --no-cahce for `brewkit run`");
    expect(usageError("Unknown option `--cacheToo`", ["--cache-too=x"], "run")?.message).toBe("unknown option --cache-too for `brewkit run`");
    expect(usageError("Unknown option `-x`", ["-x"], undefined)).toEqual({ message: "unknown option -x", hint: "run `brewkit --help` for the usage and options" });
  });

  it("does not take a target's name after -- for the option", () => {
    expect(usageError("Unknown option `--fooBar`", ["run", "--", "--foo-bar"], "run")?.message).toBe("unknown option --fooBar for `brewkit run`");
  });

  it("says which value or argument is missing or extra", () => {
    expect(usageError("option `--progress <mode>` value is missing", [], "run")?.message).toBe("option --progress needs a value (--progress <mode>)");
    expect(usageError("missing required args for command `shell <target>`", [], "shell")?.message).toBe("missing arguments: the usage is `brewkit shell <target>`");
    expect(usageError("Unused args: `a`, `b`", [], "targets")).toEqual({ message: "unexpected arguments for `brewkit targets`: `a`, `b`", hint: "run `brewkit targets --help` for its usage and options" });
  });

  it("leaves messages it does not know alone", () => {
    expect(usageError("something else", [], "run")).toBeUndefined();
  });
});
