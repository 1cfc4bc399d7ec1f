// Docker-style ignore patterns (moby/patternmatcher semantics) and .dockerignore parsing.
export { cleanPath } from "../gopath/index.ts";
export { PatternSyntaxError } from "./errors.ts";
export { globMatch, hasWildcards } from "./glob.ts";
export { parseIgnoreFile } from "./ignorefile.ts";
export { Pattern, PatternMatcher } from "./patterns.ts";
export type { MatchInfo, MatchResult } from "./patterns.ts";
