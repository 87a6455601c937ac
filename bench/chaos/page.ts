/**
 * `bench/CHAOS.md` from the chaos results in `bench/results/`: the newest run of each size in one
 * table, then the newest of the largest size in full (every invariant, recovery per fault kind, the
 * fault timeline), then the analysis kept by hand in `bench/chaos/NOTES.md`. Rewritten after every
 * run; `npx tsx bench/chaos/page.ts` rewrites it by hand.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ChaosResult } from './report.ts';

const BENCH = resolve(import.meta.dirname, '..');
const ORDER = ['soak', 'medium', 'smoke'];
/** A longer timeline is summed up per kind (the results file keeps every fault). */
const TIMELINE_ROWS = 40;

const rows = (list: string[][]) => list.map((l) => `| ${l.join(' | ')} |`).join('\n');
const n = (x: number) => x.toLocaleString('en');

/** The newest result of each size, largest size first, with its file name. */
function newest(): { r: ChaosResult; file: string }[] {
  const dir = join(BENCH, 'results');
  const files = readdirSync(dir).filter((f) => /^\d{4}-\d\d-\d\d-chaos-[a-z]+\.json$/.test(f)).sort();
  const bySize = new Map<string, { r: ChaosResult; file: string }>();
  for (const f of files) {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as ChaosResult;
    bySize.set(r.size, { r, file: `bench/results/${f}` });
  }
  return [...bySize.values()].sort((a, b) => ORDER.indexOf(a.r.size) - ORDER.indexOf(b.r.size));
}

function summary({ r, file }: { r: ChaosResult; file: string }): string[] {
  const failed = r.invariants.filter((i) => !i.ok);
  const verdict = failed.length === 0 ? `all ${r.invariants.length} verdicts hold` : `**${failed.length} of ${r.invariants.length} verdicts violated**: ${[...new Set(failed.map((i) => i.name))].join('; ')}`;
  return [r.size, r.date, String(r.seed), n(r.texts), n(r.changes), String(r.users), String(r.faults.length), `${n(r.wallSeconds)} s`, verdict, `[${file.slice(file.lastIndexOf('/') + 1)}](results/${file.slice(file.lastIndexOf('/') + 1)})`];
}

function timeline(r: ChaosResult): string {
  if (r.faults.length <= TIMELINE_ROWS) {
    return `Fault timeline (seconds from the start of the storm):

| t | fault | target | back after |
|---:|---|---|---:|
${rows(r.faults.map((f) => [f.t.toFixed(1), f.kind, f.target + (f.error ? ` (error: ${f.error})` : ''), `${(f.backMs / 1000).toFixed(1)} s`]))}`;
  }
  const gaps = r.faults.slice(1).map((f, i) => f.t - (r.faults[i] as { t: number }).t);
  const errors = r.faults.filter((f) => f.error);
  return `${r.faults.length} faults over ${n(Math.round(r.faults.at(-1)?.t ?? 0))} s, ${(Math.min(...gaps)).toFixed(1)}–${(Math.max(...gaps)).toFixed(1)} s apart; each one's time, target and recovery are in the results file. ${errors.length === 0 ? 'None failed to inject.' : `${errors.length} failed to inject: ${errors.slice(0, 3).map((f) => `${f.kind} at ${f.t.toFixed(1)} s (${f.error})`).join('; ')}.`}`;
}

/** A run that stopped at its storm limit before the messages it was meant to reach says so. */
function short(r: ChaosResult): string {
  const o = r.offered;
  if (!o || o.messages === 0 || r.texts >= o.messages) return '';
  return `\n\n**This run stopped at its storm limit (${n(o.stormS)} s, ${n(o.rate)} actions/s offered) with ${n(r.texts)} of the ${n(o.messages)} messages its size asks for.**`;
}

export function page(): string {
  const runs = newest();
  const main = runs[0];
  if (!main) return '# Chaos runs\n\nNo chaos run has written results yet.\n';
  const { r, file } = main;
  return `# Chaos runs

\`npm run chaos -- <smoke|medium|soak> [--seed N] [--base-port P]\` (bench/chaos/) brings up the whole
stack, drives chat users through instance kills and drains, a Redis master failover, worker kills,
a MongoDB restart and reconnect storms, with group membership changes, edits, deletes and
reactions throughout, and checks every invariant at the end of the storm and again after a quiet
period. Each run writes \`bench/results/<date>-chaos-<size>.json\`; this page is rewritten from them.

## The newest run of each size

| size | date | seed | messages | edits, deletes, reactions | users | faults | wall time | invariants | results |
|---|---|---:|---:|---:|---:|---:|---:|---|---|
${rows(runs.map(summary))}

## ${r.size}, ${r.date}, seed ${r.seed}

${n(r.messages)} acknowledged entries (${n(r.texts)} messages, ${n(r.changes)} edits, deletes and reactions),
${r.users} users in ${r.rooms} rooms, ${r.faults.length} faults, ${Object.entries(r.memberChanges).map(([k, v]) => `${v} ${k}`).join(', ')} group
membership changes; ${n(r.wallSeconds)} s wall time. Results: \`${file}\`.${short(r)}

| invariant | phase | checked | violations | verdict |
|---|---|---:|---:|---|
${rows(r.invariants.map((i) => [i.name, i.phase, n(i.count), n(i.violations), i.ok ? 'holds' : '**violated**']))}

Recovery per fault kind:

| fault | faults | clients measured | p50 | p99 | what is measured |
|---|---:|---:|---:|---:|---|
${rows(r.recovery.map((x) => [x.kind, String(x.faults), n(x.clients), `${(x.p50Ms / 1000).toFixed(2)} s`, `${(x.p99Ms / 1000).toFixed(2)} s`, x.measures]))}

${timeline(r)}
${notes()}`;
}

/** The hand-written analysis of the runs, when there is one. */
function notes(): string {
  const file = join(BENCH, 'chaos', 'NOTES.md');
  return existsSync(file) ? `\n${readFileSync(file, 'utf8')}` : '';
}

export function writePage(): void {
  writeFileSync(join(BENCH, 'CHAOS.md'), page());
}

if (process.argv[1] === import.meta.filename) writePage();
