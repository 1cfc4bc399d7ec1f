export { ProgressTracker, type ProgressEvent, type ProgressSummary, type VertexState } from "./tracker.ts";
export { plainRenderer } from "./plain.ts";
