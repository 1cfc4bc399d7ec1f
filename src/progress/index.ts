export { ProgressTracker, summarize, type ProgressEvent, type ProgressSummary, type VertexState } from "./tracker.ts";
export { plainRenderer } from "./plain.ts";
export { TtyRenderer, type TtyOptions } from "./tty.ts";
export { rawJsonWriter } from "./rawjson.ts";
export { StatusRedactor } from "./status-redactor.ts";
