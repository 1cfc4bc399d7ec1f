// Every scenario of `npm run bench`, one file each; common.ts holds what they share.
export { type BenchSettings, type Row } from "./common.ts";
export { uploadAndExport } from "./transfers.ts";
export { cachedRerun } from "./cached-rerun.ts";
export { manyTargets } from "./many-targets.ts";
export { watchLatency } from "./watch-latency.ts";
export { editLoop } from "./edit-loop.ts";
export { rootlessAgainstRootful } from "./rootless.ts";
export { imagesAndCache } from "./images.ts";
export { startAgainstNode } from "./start-ratio.ts";
