/** The targets the benchmarks answer: the Targets table of bench/RESULTS.md. */
import { DASH, esc, fmt, fmtInt, fmtMs, opt } from './format.ts';
import {
  bestStep,
  num,
  ok,
  opened,
  type ResultFile,
  runOf,
  type Run,
  sizeUsers,
  type Step,
  total,
} from './load.ts';

export type Verdict = 'met' | 'not met' | 'not measured yet';
export type TargetRow = { target: string; figure: string; result: Verdict; source: string };

/** false anywhere → not met; otherwise undefined anywhere → not measured yet. */
const verdict = (checks: (boolean | undefined)[]): Verdict =>
  checks.includes(false) ? 'not met' : checks.includes(undefined) ? 'not measured yet' : 'met';
const le = (x: number | undefined, limit: number) => (x === undefined ? undefined : x <= limit);
const eq0 = (x: number | undefined) => (x === undefined ? undefined : x === 0);

export function targetRows(files: ResultFile[], src: (f: ResultFile) => string): TargetRow[] {
  const none = (target: string): TargetRow => ({ target, figure: DASH, result: 'not measured yet', source: DASH });
  const failed = (target: string, f: ResultFile, r: Run): TargetRow => ({
    target,
    figure: `parley run failed: ${esc(r.error ?? '').slice(0, 120)}`,
    result: 'not met',
    source: src(f),
  });
  const rows: TargetRow[] = [];
  const chat = files.filter((f) => f.scenario === 'chat');

  // 1. 20,000 concurrent users, no failed connection or message.
  let t = '20,000 concurrent users through the balancer, 0 failed connections or messages';
  const big = chat
    .filter((f) => (num(f.params.users) ?? runOf(f, 'parley')?.conn.wanted ?? 0) >= 20000 && runOf(f, 'parley'))
    .sort((a, b) => sizeUsers(b) - sizeUsers(a))[0];
  const bigRun = runOf(big, 'parley');
  if (!big || !bigRun) rows.push(none(t));
  else if (!ok(bigRun)) rows.push(failed(t, big, bigRun));
  else {
    const c = bigRun.conn;
    const [lost, sendFailed] = [total(bigRun, 'lost'), total(bigRun, 'sendFailed')];
    rows.push({
      target: t,
      figure: `${opt(c.opened, fmtInt)} of ${opt(c.wanted, fmtInt)} opened, ${opt(c.failed, fmtInt)} failed, ` +
        `${opt(c.closedEarly, fmtInt)} closed early; ${opt(lost, fmtInt)} lost, ${
          opt(sendFailed, fmtInt)
        } failed sends`,
      result: verdict([
        c.opened === undefined ? undefined : c.opened >= 20000,
        eq0(c.failed),
        eq0(c.closedEarly),
        eq0(lost),
        eq0(sendFailed),
      ]),
      source: src(big),
    });
  }

  // 2. 10k users, rooms of 10, 1,000 msg/s.
  const tenK = chat.find((f) => f.size === '10k');
  const tenRun = runOf(tenK, 'parley');
  const tenStep = tenRun?.steps.find((s) => s.n.rate === 1000) ?? tenRun?.steps[0];
  const at = tenStep?.n.rate === undefined ? '' : ` at ${fmtInt(tenStep.n.rate)} msg/s`;
  for (
    const [label, key, limit] of [
      ['10,000 users, rooms of 10, 1,000 msg/s: p50 ≤ 2 ms', 'p50', 2],
      ['… p99 ≤ 20 ms', 'p99', 20],
      ['… stretch: p99 ≤ 6.8 ms', 'p99', 6.8],
    ] as const
  ) {
    if (!tenK || !tenRun) rows.push(none(label));
    else if (!ok(tenRun)) rows.push(failed(label, tenK, tenRun));
    else {
      const v = tenStep?.latencyMs[key];
      rows.push({
        target: label,
        figure: v === undefined ? DASH : `${key} ${fmtMs(v)} ms${at}`,
        result: verdict([le(v, limit)]),
        source: src(tenK),
      });
    }
  }

  // 3. Fan-out: highest rate with p99 ≤ 100 ms, > 72,000 deliveries/s.
  t = 'Fan-out, rooms of 100: > 72,000 deliveries/s with p99 ≤ 100 ms';
  const fan = files.find((f) => f.size === 'fanout' && f.scenario === 'chat') ?? files.find((f) => f.size === 'fanout');
  const fanP = runOf(fan, 'parley');
  if (!fan || !fanP) rows.push(none(t));
  else if (!ok(fanP)) rows.push(failed(t, fan, fanP));
  else {
    const b = bestStep(fanP);
    rows.push({
      target: t,
      figure: b ? stepFigure(b) : 'no step with p99 ≤ 100 ms and nothing lost',
      result: !fanP.steps.some((s) => s.n.deliveriesPerSec !== undefined && s.latencyMs.p99 !== undefined)
        ? 'not measured yet'
        : b
        ? verdict([(b.n.deliveriesPerSec ?? 0) > 72000])
        : 'not met',
      source: src(fan),
    });
  }

  // 4. Memory per connection, from the largest parley run that reports it.
  t = 'Server memory ≤ 10 KB per connected user';
  const mem = files
    .filter((f) => ok(runOf(f, 'parley')) && runOf(f, 'parley')?.memPerConnKB !== undefined)
    .sort((a, b) => (opened(runOf(b, 'parley')) ?? 0) - (opened(runOf(a, 'parley')) ?? 0))[0];
  const memRun = runOf(mem, 'parley');
  if (!mem || !memRun) rows.push(none(t));
  else {
    const conns = opened(memRun);
    rows.push({
      target: t,
      figure: `${fmt(memRun.memPerConnKB ?? 0, 2)} KB/conn${
        conns === undefined ? '' : ` at ${fmtInt(conns)} connections`
      } (${mem.scenario} ${mem.size})`,
      result: verdict([le(memRun.memPerConnKB, 10)]),
      source: src(mem),
    });
  }

  // 5. Against the Socket.IO peer: ≥ 2× throughput at equal p99, less memory per connection.
  rows.push(throughputVsPeer(fan, src));
  t = 'Less memory per connection than the Socket.IO peer';
  const both = files
    .filter((f) => [runOf(f, 'parley'), runOf(f, 'socketio')].every((r) => ok(r) && r.memPerConnKB !== undefined))
    .sort((a, b) => (opened(runOf(b, 'parley')) ?? 0) - (opened(runOf(a, 'parley')) ?? 0))[0];
  const [mp, ms] = [runOf(both, 'parley')?.memPerConnKB, runOf(both, 'socketio')?.memPerConnKB];
  if (!both || mp === undefined || ms === undefined) rows.push(none(t));
  else {
    rows.push({
      target: t,
      figure: `parley ${fmt(mp, 2)} vs socketio ${fmt(ms, 2)} KB/conn (${
        ms > 0 ? fmt(mp / ms, 2) : DASH
      }×, ${both.scenario} ${both.size})`,
      result: verdict([mp < ms]),
      source: src(both),
    });
  }
  return rows;
}

const stepFigure = (s: Step) =>
  `${opt(s.n.deliveriesPerSec, fmtInt)} deliveries/s at ${opt(s.n.rate, fmtInt)} msg/s (p99 ${
    opt(s.latencyMs.p99, fmtMs)
  } ms)`;

function throughputVsPeer(fan: ResultFile | undefined, src: (f: ResultFile) => string): TargetRow {
  const target = '≥ 2× the Socket.IO peer’s deliveries/s at equal p99 (fan-out, p99 ≤ 100 ms)';
  const [p, s] = [runOf(fan, 'parley'), runOf(fan, 'socketio')];
  if (!fan || !ok(p) || !ok(s) || p.steps.length === 0 || s.steps.length === 0) {
    return { target, figure: DASH, result: 'not measured yet', source: fan && (p || s) ? src(fan) : DASH };
  }
  const [bp, bs] = [bestStep(p)?.n.deliveriesPerSec, bestStep(s)?.n.deliveriesPerSec];
  if (bp === undefined) {
    return {
      target,
      figure: 'parley had no step with p99 ≤ 100 ms and nothing lost',
      result: 'not met',
      source: src(fan),
    };
  }
  if (bs === undefined) {
    // The peer missed p99 ≤ 100 ms even at its lowest rate, so its limit is below that step's deliveries/s.
    const lowest = Math.min(...s.steps.map((x) => x.n.deliveriesPerSec ?? Infinity));
    const figure = `parley ${fmtInt(bp)}; socketio had no step within p99 ≤ 100 ms (lowest step ${
      opt(Number.isFinite(lowest) ? lowest : undefined, fmtInt)
    } deliveries/s)`;
    return {
      target,
      figure,
      result: Number.isFinite(lowest) && bp >= 2 * lowest ? 'met' : 'not measured yet',
      source: src(fan),
    };
  }
  return {
    target,
    figure: `${fmt(bp / bs, 2)}× (parley ${fmtInt(bp)} vs socketio ${fmtInt(bs)} deliveries/s)`,
    result: verdict([bp >= 2 * bs]),
    source: src(fan),
  };
}
