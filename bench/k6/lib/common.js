// Shared pieces of the k6 scenarios: settings from the environment, the rate schedule, latency
// histograms that several VUs and k6 processes can merge exactly, and the one result line each VU
// prints for bench/run.ts.

export function int(v, def) {
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isFinite(n)) throw new Error(`expected a number, got ${v}`);
  return Math.floor(n);
}

export function num(v, def) {
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isFinite(n)) throw new Error(`expected a number, got ${v}`);
  return n;
}

/** "rate:seconds,rate:seconds" → [{rate, seconds}] (rate: messages/s sent by this k6 process). */
export function parseSteps(s) {
  return s.split(',').map((part) => {
    const [rate, seconds] = part.split(':').map(Number);
    if (!(rate >= 0) || !(seconds > 0)) throw new Error(`STEPS: expected rate:seconds, got ${part}`);
    return { rate, seconds };
  });
}

/** The step a moment belongs to (−1 before the first, steps.length after the last). */
export function stepAt(steps, startAt, t) {
  if (t < startAt) return -1;
  let end = startAt;
  for (let i = 0; i < steps.length; i++) {
    end += steps[i].seconds * 1000;
    if (t < end) return i;
  }
  return steps.length;
}

export function totalSeconds(steps) {
  return steps.reduce((a, s) => a + s.seconds, 0);
}

/**
 * Counts of latencies in whole milliseconds (k6's clock is Date.now(): 1 ms resolution), exact up to
 * 10 s and in 100 ms buckets above. Sparse, so merging is adding counts key by key.
 */
export function histAdd(h, ms) {
  const v = ms < 0 ? 0 : ms < 10000 ? Math.round(ms) : Math.round(ms / 100) * 100;
  h[v] = (h[v] || 0) + 1;
}

/** A short run id for user and room names, unique per bench run. */
export function runId() {
  return Date.now().toString(36).slice(-6);
}

/** Prints one VU's results; bench/run.ts collects these lines from k6's log. */
export function report(obj) {
  console.log(`BENCH ${JSON.stringify(obj)}`);
}
