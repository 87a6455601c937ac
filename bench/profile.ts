/**
 * Where a chat instance's CPU time goes, from V8 CPU profiles (`node --cpu-prof`, which
 * `npm run bench -- <scenario> <size> --profile` turns on for every instance):
 *
 *   npx tsx bench/profile.ts .stack-bench-parley/profiles/*.cpuprofile [--top 25]
 *
 * Prints self time by function and by package (the module a function's file belongs to: parley's own
 * src/, a node_modules package, or Node's internals), summed over all the files given.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
type Profile = { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

/** The package a script URL belongs to. */
export function packageOf(url: string): string {
  if (url === '') return '(native / idle / gc)';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const m = /\/(src|routes|workers|bench)\/(.*)$/.exec(url);
  return m ? `parley ${m[1]}/${m[2]?.split('/')[0]}` : url;
}

export type ProfileSummary = { totalMs: number; byFunction: [string, number][]; byPackage: [string, number][] };

export function summarizeProfiles(files: string[]): ProfileSummary {
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  let totalMs = 0;
  for (const file of files) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    // Self time of a node: the time deltas of the samples that landed on it.
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i] as number);
      const ms = (p.timeDeltas[i] ?? 0) / 1000;
      if (!n) continue;
      const name = n.callFrame.functionName || '(anonymous)';
      if (name === '(idle)') continue;
      totalMs += ms;
      const where = n.callFrame.url ? `${n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|src|routes|workers)\//, '$1/')}:${n.callFrame.lineNumber + 1}` : '';
      fn.set(`${name} ${where}`.trim(), (fn.get(`${name} ${where}`.trim()) ?? 0) + ms);
      const k = name === '(garbage collector)' ? '(garbage collector)' : name === '(program)' ? '(program: V8/libuv outside JS)' : packageOf(n.callFrame.url);
      pkg.set(k, (pkg.get(k) ?? 0) + ms);
    }
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { totalMs, byFunction: sorted(fn), byPackage: sorted(pkg) };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args.splice(t, 2)[1]) : 25;
  if (args.length === 0) {
    console.error('usage: profile.ts <file.cpuprofile>… [--top N]');
    process.exit(2);
  }
  const s = summarizeProfiles(args);
  const pct = (ms: number) => `${((ms / s.totalMs) * 100).toFixed(1).padStart(5)} %`;
  console.log(`${args.length} profile(s), ${(s.totalMs / 1000).toFixed(1)} s of CPU (idle excluded)\n`);
  console.log('by package');
  for (const [k, ms] of s.byPackage.slice(0, top)) console.log(`  ${pct(ms)}  ${k}`);
  console.log('\nby function (self time)');
  for (const [k, ms] of s.byFunction.slice(0, top)) console.log(`  ${pct(ms)}  ${k}`);
}
