/** Median, min and max of samples. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  p95: number;
  samples: number[];
}

/** Summarises samples (milliseconds, bytes, ...). */
export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { median: at(0.5), min: sorted[0]!, max: sorted[sorted.length - 1]!, p95: at(0.95), samples };
}

/** `value` with a unit: ms below 10 s, else s; bytes as MB. */
export function formatMs(ms: number): string {
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
