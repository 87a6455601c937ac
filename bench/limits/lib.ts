/** Helpers of bench/limits/abuse.ts: sockets, frames, latency histograms, /metrics scraping, tables. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { type Hist, summarize } from '../stats.ts';

/** Wall clock in ms with sub-ms precision; senders and receivers are in this process, so one clock. */
export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const tick = () => new Promise<void>((r) => setImmediate(r));

export type Frame = { type: string; [k: string]: unknown };

/** The frames in one WebSocket message, `batch` unwrapped. */
export function frames(data: WebSocket.RawData): Frame[] {
  const f = JSON.parse(data.toString()) as Frame;
  return f.type === 'batch' ? (f['events'] as Frame[]) : [f];
}

/**
 * Opens a socket and waits for `hello`. Resolves `{ ws }`, or `{ status }` when the upgrade was
 * refused (HTTP status, 0 for a network error). `onFrame` sees every frame after `hello`.
 */
export function open(url: string, onFrame?: (f: Frame) => void): Promise<{ ws: WebSocket } | { status: number; error: string }> {
  return new Promise((done) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let settled = false;
    ws.on('message', (data) => {
      for (const f of frames(data)) {
        if (!settled && f.type === 'hello') {
          settled = true;
          done({ ws });
        } else onFrame?.(f);
      }
    });
    ws.on('error', (err) => {
      if (settled) return;
      settled = true;
      const m = /Unexpected server response: (\d+)/.exec(err.message);
      done({ status: m ? Number(m[1]) : 0, error: err.message });
    });
    ws.on('close', () => {
      if (settled) return;
      settled = true;
      done({ status: 0, error: 'closed before hello' });
    });
  });
}

/** Latencies in a bench/stats.ts histogram at 0.1 ms resolution. */
export class Latency {
  readonly hist: Hist = {};
  add(ms: number): void {
    const k = String(Math.round(ms * 10) / 10);
    this.hist[k] = (this.hist[k] ?? 0) + 1;
  }
  summary() {
    return summarize(this.hist);
  }
}

/** `parley_refused_total` by reason and `parley_errors_total` by code, summed over `urls`' /metrics. */
export async function scrape(urls: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    for (const line of text.split('\n')) {
      const m = /^(parley_refused_total|parley_errors_total)\{([^}]*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const label = /(?:reason|code)="([^"]*)"/.exec(m[2] as string)?.[1] ?? '?';
      const key = `${m[1] === 'parley_refused_total' ? 'refused' : 'errors'}:${label}`;
      out[key] = (out[key] ?? 0) + Number(m[3]);
    }
  }
  return out;
}

/** b − a for every key of either. */
export function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) out[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return out;
}

/** Lines of level warn/error in the chat instances' logs, grouped by level and message. */
export function logFindings(logDir: string): { level: string; msg: string; count: number; example: string }[] {
  const found = new Map<string, { level: string; msg: string; count: number; example: string }>();
  for (const f of readdirSync(logDir).filter((n) => /^(chat|presence|archive)-\d+\.log$/.test(n))) {
    for (const line of readFileSync(join(logDir, f), 'utf8').split('\n')) {
      let rec: { level?: string; msg?: string };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        if (/error|exception|unhandled/i.test(line)) rec = { level: 'raw', msg: line.slice(0, 160) };
        else continue;
      }
      if (rec.level !== 'warn' && rec.level !== 'error' && rec.level !== 'fatal' && rec.level !== 'raw') continue;
      const key = `${f} ${rec.level} ${rec.msg}`;
      const e = found.get(key) ?? { level: rec.level, msg: `${f.replace(/\.log$/, '')}: ${rec.msg}`, count: 0, example: line.slice(0, 300) };
      e.count++;
      found.set(key, e);
    }
  }
  return [...found.values()].sort((a, b) => b.count - a.count);
}

/** A markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

export const fmt = (v: number | undefined) => (v === undefined ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(1));
