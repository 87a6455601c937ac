/** Formatting: numbers, markdown tables and escaping for bench/RESULTS.md. */
import type { ResultFile } from './load.ts';

export const DASH = '—';

export const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
export const fmt = (n: number, digits: number) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const fmtInt = (n: number) => fmt(Math.round(n), 0);
/** Milliseconds: 2 decimals below 10 ms, 1 above. */
export const fmtMs = (n: number) => fmt(n, Math.abs(n) < 10 ? 2 : 1);
/** Rates: whole numbers from 100 up. */
export const fmtRate = (n: number) => fmt(n, Math.abs(n) < 99.95 ? 1 : 0);
export const fmtMB = (kb: number) => fmt(kb / 1024, 1);
export const fmtNum = (n: number) => (Number.isInteger(n) ? fmtInt(n) : fmt(n, 2));
export const opt = (n: number | undefined, f: (n: number) => string) => (n === undefined ? DASH : f(n));

export function table(head: string[], rows: string[][], align?: string[]): string {
  const a = align ?? head.map((_, i) => (i === 0 ? '---' : '---:'));
  return [head, a, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export const runLabel = (f: ResultFile) => `${f.scenario} ${f.size}${f.driver === 'k6' ? ' (k6)' : ''}`;

/** The driver's CPU while sending, per target: "lean 12 % / 14 %" (parley / socketio). */
export function driverCpu(f: ResultFile): string {
  const cpu = ['parley', 'socketio'].map((t) => f.runs.find((r) => r.target === t)?.driverCpuPct);
  const shown = cpu.map((c) => (c === undefined ? DASH : `${fmt(c, 1)} %`));
  return `${f.driver} ${cpu[1] === undefined && f.runs.every((r) => r.target !== 'socketio') ? shown[0] : shown.join(' / ')}`;
}

/**
 * The command that reproduces a file's run today: files from before the lean driver were k6 runs whose
 * command had no `--driver` (k6 was the only load generator then).
 */
export function commandOf(f: ResultFile): string {
  const c = f.command ?? `npm run bench -- ${f.scenario} ${f.size}`;
  return f.driver === 'k6' && !c.includes('--driver') ? `${c} --driver k6` : c;
}

/** The line above each of a run's tables: when, how, and what the load generator itself took. */
export const caption = (f: ResultFile) =>
  `_${f.date ?? 'undated'} · \`${commandOf(f)}\` · driver CPU (parley / socketio, % of one core): ${driverCpu(f)}_`;
