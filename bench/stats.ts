/** Latency histograms as the k6 scenarios print them: whole milliseconds → count (see bench/k6/lib/common.js). */
export type Hist = Record<string, number>;
export type Summary = { count: number; mean: number; p50: number; p90: number; p95: number; p99: number; p999: number; max: number } | null;

export function mergeHist(hs: Hist[]): Hist {
  const out: Hist = {};
  for (const h of hs) for (const [k, n] of Object.entries(h)) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** Count, mean and nearest-rank percentiles; null for an empty histogram. */
export function summarize(h: Hist): Summary {
  const entries = Object.entries(h).map(([k, n]) => [Number(k), n] as const).sort((a, b) => a[0] - b[0]);
  const count = entries.reduce((a, [, n]) => a + n, 0);
  if (count === 0) return null;
  const at = (q: number) => {
    const rank = Math.max(1, Math.ceil(q * count));
    let seen = 0;
    for (const [v, n] of entries) {
      seen += n;
      if (seen >= rank) return v;
    }
    return entries[entries.length - 1]?.[0] ?? 0;
  };
  const mean = entries.reduce((a, [v, n]) => a + v * n, 0) / count;
  return { count, mean: Math.round(mean * 100) / 100, p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), p999: at(0.999), max: entries[entries.length - 1]?.[0] ?? 0 };
}
