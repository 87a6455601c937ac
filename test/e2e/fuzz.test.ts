/**
 * Fuzz: 100,000 random, truncated, oversized and wrong-typed frames across many connections on two
 * Node instances sharing a Redis Cluster. Every instance stays up, every frame gets exactly the
 * answer docs/protocol.md allows (an `error` with the right code and cid, an ack, a close 1009 …), and
 * the instances' heap returns to its baseline once the sockets are gone.
 *
 * Reproduce a failure with the seed it prints: `FUZZ_SEED=<seed> npx vitest run test/e2e/fuzz.test.ts`.
 * `FUZZ_FRAMES`, `FUZZ_SOCKETS` and `FUZZ_REST` (REST requests, test/e2e/fuzz-rest.ts) change the size of the run.
 *
 * Correlation: on each socket, frames whose answer carries a key the protocol echoes (a `send`'s or
 * refused frame's `cid`, a heartbeat's `id`) may be many in flight; any other frame is sent only
 * when no other keyless frame is in flight, so that a keyless answer can only be its. Frames that
 * change the socket's state (a valid join or leave) or end it (over the size limit) go alone. A frame
 * whose correct answer is nothing (typing) is followed by a heartbeat: nothing may arrive for it
 * before that heartbeat's answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { down, up } from '../../infra/redis/cluster.ts';
import { type Expectation, type Frame, Rng, describeFrame, expectationOf, fuzzSeed, generate, matches } from './fuzz.ts';
import { RestFuzz } from './fuzz-rest.ts';
import { type Server, closeAllClients, connect, sleep, startServer, uid } from './server.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_FUZZ_PORT'] ?? 7400);
const FRAMES = Number(process.env['FUZZ_FRAMES'] ?? 100_000);
const SOCKETS = Number(process.env['FUZZ_SOCKETS'] ?? 100);
const WARMUP_FRAMES = Math.min(10_000, Math.ceil(FRAMES / 10));
const REST_REQUESTS = Number(process.env['FUZZ_REST'] ?? 8000);
/** Keyed frames in flight per socket. */
const WINDOW = 8;
/** An answer later than this counts as missing. */
const ANSWER_TIMEOUT_MS = 10_000;
/** Heap used after the fuzz may exceed the baseline by this much. */
const HEAP_MARGIN = 20 * 1024 * 1024;
const SEED = fuzzSeed();

let servers: Server[] = [];
const inspectors: string[] = [];

// ---------------------------------------------------------------- bookkeeping

type Pending = { n: number; sock: number; frame: Frame; exp: Expectation; at: number; fence?: string; fenceSeen?: boolean };

class Stats {
  sent = new Map<string, number>();
  outcomes = new Map<string, Map<string, number>>();
  closes = new Map<number, number>();
  reconnects = 0;
  fences = 0;
  unsolicited = new Map<string, number>();
  failures: string[] = [];
  failureCount = 0;
  grey = new Map<string, Map<string, number>>();
  gaps = 0;

  count(map: Map<string, number>, k: string, by = 1): void {
    map.set(k, (map.get(k) ?? 0) + by);
  }
  outcome(p: Pending, what: string): void {
    const m = this.outcomes.get(p.frame.kind) ?? new Map<string, number>();
    this.outcomes.set(p.frame.kind, m);
    this.count(m, what);
    if (p.exp.grey) {
      const g = this.grey.get(p.exp.grey) ?? new Map<string, number>();
      this.grey.set(p.exp.grey, g);
      this.count(g, what);
    }
  }
  fail(msg: string): void {
    this.failureCount++;
    if (this.failures.length < 40) this.failures.push(msg);
  }
}

const label = (e: Record<string, unknown>): string =>
  e['type'] === 'error' ? `error:${String(e['code'])}${e['cid'] !== undefined ? '+cid' : ''}` : String(e['type']);
const brief = (e: unknown) => {
  const s = JSON.stringify(e);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

// ---------------------------------------------------------------- one fuzzing socket

class FuzzSocket {
  ws!: WebSocket;
  readonly joined = new Set<string>();
  readonly keyed = new Map<string, Pending>();
  anon: Pending | null = null;
  #wake: (() => void)[] = [];
  #counter = 0;
  #n = 0;
  /** Last seq seen per joined room: messages must come in seq order. */
  readonly #lastSeq = new Map<string, { epoch: string; seq: number }>();
  #open = false;
  done = false;

  constructor(
    readonly idx: number,
    readonly server: Server,
    readonly user: string,
    readonly partner: string,
    readonly home: string,
    readonly shared: string,
    readonly tag: string,
    readonly rng: Rng,
    readonly stats: Stats,
  ) {}

  async connect(): Promise<void> {
    const ws = new WebSocket(`${this.server.wsUrl}?user=${encodeURIComponent(this.user)}`, { perMessageDeflate: false });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      let hello = false;
      ws.once('error', reject);
      ws.on('message', (data, isBinary) => {
        if (!hello) {
          hello = true;
          const h = JSON.parse(data.toString()) as Record<string, unknown>;
          if (h['type'] !== 'hello' || h['user'] !== this.user) this.stats.fail(`socket ${this.idx}: first frame is not hello: ${brief(h)}`);
          this.#open = true;
          ws.off('error', reject);
          ws.on('error', () => undefined);
          resolve();
          return;
        }
        this.#receive(isBinary ? null : data.toString());
      });
      ws.on('close', (code) => this.#closed(ws, code));
    });
  }

  #receive(raw: string | null): void {
    if (raw === null) return this.stats.fail(`socket ${this.idx}: binary frame from the server`);
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return this.stats.fail(`socket ${this.idx}: server frame is not JSON: ${raw.slice(0, 200)}`);
    }
    const events = frame['type'] === 'batch' && Array.isArray(frame['events']) ? (frame['events'] as Record<string, unknown>[]) : [frame];
    for (const e of events) this.#event(e);
    // A frame whose answer is nothing: its fence heartbeat came back, and nothing for it before.
    const a = this.anon;
    if (a?.fenceSeen) {
      this.stats.outcome(a, 'none');
      this.anon = null;
    }
    this.#notify();
  }

  #event(e: Record<string, unknown>): void {
    if (typeof e !== 'object' || e === null || typeof e['type'] !== 'string') return this.stats.fail(`socket ${this.idx}: event without a type: ${brief(e)}`);
    const type = e['type'];
    if (type === 'message' || type === 'typing' || type === 'presence') {
      this.stats.count(this.stats.unsolicited, type);
      const room = e['room'] as string;
      if (!this.joined.has(room)) return this.stats.fail(`socket ${this.idx}: ${type} for ${room}, a room it has not joined: ${brief(e)}`);
      if (type === 'message') {
        const last = this.#lastSeq.get(room);
        const seq = e['seq'] as number;
        if (last && last.epoch === e['epoch']) {
          if (seq <= last.seq) this.stats.fail(`socket ${this.idx}: message seq ${seq} after ${last.seq} in ${room}`);
          else if (seq > last.seq + 1) this.stats.gaps++;
        }
        this.#lastSeq.set(room, { epoch: e['epoch'] as string, seq });
      }
      return;
    }
    if (type === 'read') {
      // v1.1: the socket's own user's reads, from any room; receipts only from rooms it joined.
      this.stats.count(this.stats.unsolicited, type);
      const room = e['room'] as string;
      if (e['user'] !== this.user && !this.joined.has(room)) return this.stats.fail(`socket ${this.idx}: another user's read of ${room}, a room it has not joined: ${brief(e)}`);
      if (!Number.isInteger(e['seq']) || (e['seq'] as number) < 1) return this.stats.fail(`socket ${this.idx}: read without a valid seq: ${brief(e)}`);
      return;
    }
    if (type === 'hello') return this.stats.fail(`socket ${this.idx}: a second hello`);
    // The key the protocol echoes, if this answer has one that is in flight.
    let key: string | undefined;
    if ((type === 'error' || type === 'ack') && typeof e['cid'] === 'string' && this.keyed.has(`c:${e['cid']}`)) key = `c:${e['cid']}`;
    if (type === 'heartbeat' && typeof e['id'] === 'string' && this.keyed.has(`h:${e['id']}`)) key = `h:${e['id']}`;
    if (type === 'heartbeat' && typeof e['id'] === 'string' && this.anon?.fence === e['id']) {
      this.anon.fenceSeen = true;
      return;
    }
    let p: Pending | undefined;
    if (key) {
      p = this.keyed.get(key);
      this.keyed.delete(key);
    } else if (this.anon && !this.anon.fenceSeen) {
      p = this.anon;
      this.anon = null;
    }
    if (!p) return this.stats.fail(`socket ${this.idx}: an answer to no frame in flight (a second answer?): ${brief(e)}`);
    if (type === 'joined') {
      this.joined.add(e['room'] as string);
      this.#lastSeq.set(e['room'] as string, { epoch: e['epoch'] as string, seq: e['seq'] as number });
    }
    if (type === 'left') {
      this.joined.delete(e['room'] as string);
      this.#lastSeq.delete(e['room'] as string);
    }
    const reasons: string[] = [];
    for (const w of p.exp.wants) {
      const why = matches(w, e);
      if (why === null) {
        this.stats.outcome(p, label(e));
        return;
      }
      reasons.push(why);
    }
    this.stats.outcome(p, `MISMATCH ${label(e)}`);
    this.stats.fail(`seed ${SEED} socket ${this.idx} frame #${p.n}: ${describeFrame(p.frame)}\n    wanted ${brief(p.exp.wants)}\n    got    ${brief(e)} (${reasons.join('; ')})`);
  }

  #closed(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return;
    this.#open = false;
    this.stats.closes.set(code, (this.stats.closes.get(code) ?? 0) + 1);
    const a = this.anon;
    const expected = a?.exp.wants.some((w) => w.type === 'close' && w.code === code) && this.keyed.size === 0;
    if (a && expected) {
      this.stats.outcome(a, `close:${code}`);
    } else if (!this.done) {
      const lost = [...this.keyed.values(), ...(a ? [a] : [])];
      this.stats.fail(`seed ${SEED} socket ${this.idx}: unexpected close ${code}; ${lost.length} frames unanswered${a ? `; keyless in flight: ${describeFrame(a.frame)} wanted ${brief(a.exp.wants)}` : ''}${this.keyed.size ? `; keyed e.g. ${describeFrame([...this.keyed.values()][0]!.frame)}` : ''}`);
      for (const p of lost) this.stats.outcome(p, `MISMATCH close:${code}`);
    }
    this.anon = null;
    this.keyed.clear();
    this.joined.clear();
    this.#lastSeq.clear();
    this.#notify();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  /** Waits until `cond` holds; frames unanswered past the timeout are recorded and dropped. */
  async #until(cond: () => boolean): Promise<void> {
    while (!cond()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.#wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      const old = Date.now() - ANSWER_TIMEOUT_MS;
      for (const [k, p] of this.keyed) {
        if (p.at < old) {
          this.keyed.delete(k);
          this.stats.outcome(p, 'MISMATCH timeout');
          this.stats.fail(`seed ${SEED} socket ${this.idx} frame #${p.n}: no answer within ${ANSWER_TIMEOUT_MS} ms: ${describeFrame(p.frame)} wanted ${brief(p.exp.wants)}`);
        }
      }
      if (this.anon && this.anon.at < old) {
        const p = this.anon;
        this.anon = null;
        this.stats.outcome(p, 'MISMATCH timeout');
        this.stats.fail(`seed ${SEED} socket ${this.idx} frame #${p.n}: no answer within ${ANSWER_TIMEOUT_MS} ms: ${describeFrame(p.frame)} wanted ${brief(p.exp.wants)}`);
      }
    }
  }

  async #ensureOpen(): Promise<void> {
    if (this.#open) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.connect();
        this.stats.reconnects++;
        return;
      } catch (err) {
        if (attempt >= 5) throw err;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /** Sends `count` fuzz frames. */
  async run(count: number): Promise<void> {
    const ctx = {
      user: this.user,
      partner: this.partner,
      home: this.home,
      shared: this.shared,
      joined: this.joined,
      next: () => ++this.#counter,
      tag: this.tag,
    };
    for (let i = 0; i < count; i++) {
      await this.#ensureOpen();
      const frame = generate(this.rng, ctx);
      const exp = expectationOf(frame, { user: this.user, joined: this.joined });
      if (exp.barrier) await this.#until(() => this.keyed.size === 0 && this.anon === null);
      else if (exp.key) await this.#until(() => this.keyed.size < WINDOW);
      else await this.#until(() => this.anon === null && this.keyed.size < WINDOW);
      // A barrier above may have been a close: the state the frame was generated for is gone.
      if (!this.#open) {
        i--;
        continue;
      }
      const p: Pending = { n: this.#n++, sock: this.idx, frame, exp, at: Date.now() };
      this.stats.count(this.stats.sent, frame.kind);
      if (exp.key) {
        if (this.keyed.has(exp.key)) throw new Error(`duplicate key ${exp.key}`);
        this.keyed.set(exp.key, p);
      } else this.anon = p;
      this.ws.send(frame.data, { binary: frame.binary });
      if (exp.wants.every((w) => w.type === 'none')) {
        p.fence = `fence-${++this.#counter}`;
        this.stats.fences++;
        this.ws.send(JSON.stringify({ type: 'heartbeat', id: p.fence }));
      }
      if (exp.barrier) await this.#until(() => this.anon === null);
    }
    await this.#until(() => this.keyed.size === 0 && this.anon === null);
    // Anything still to come for these frames would be a second answer.
    if (this.#open) {
      const id = `#final-${++this.#counter}`;
      this.keyed.set(`h:${id}`, { n: this.#n++, sock: this.idx, frame: { kind: 'final', data: Buffer.from(''), binary: false }, exp: { wants: [{ type: 'heartbeat', id }], barrier: false, key: `h:${id}` }, at: Date.now() });
      this.ws.send(JSON.stringify({ type: 'heartbeat', id }));
      await this.#until(() => this.keyed.size === 0);
    }
  }

  async close(): Promise<void> {
    this.done = true;
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((r) => this.ws.once('close', () => r()));
    this.ws.close(1000);
    await closed;
  }
}

// ---------------------------------------------------------------- the instances

/** Forces a full GC in the server process through its inspector (started with --inspect=…:0). */
async function collectGarbage(i: number): Promise<boolean> {
  const url = inspectors[i];
  if (!url) return false;
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    for (let k = 0; k < 2; k++) {
      await new Promise<void>((resolve, reject) => {
        ws.send(JSON.stringify({ id: k + 1, method: 'HeapProfiler.collectGarbage' }));
        const t = setTimeout(() => reject(new Error('no answer from the inspector')), 10_000);
        ws.on('message', (d) => {
          if ((JSON.parse(d.toString()) as { id?: number }).id === k + 1) {
            clearTimeout(t);
            resolve();
          }
        });
      });
    }
    return true;
  } catch {
    return false;
  } finally {
    ws.close();
    await new Promise((r) => ws.once('close', r));
  }
}

type Mem = { heap: number; rss: number; start: number; connections: number; rooms: number };
async function memory(s: Server): Promise<Mem> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const metric = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    if (!m) throw new Error(`metric ${name} missing`);
    return Number(m[1]);
  };
  return {
    heap: metric('nodejs_heap_size_used_bytes'),
    rss: metric('process_resident_memory_bytes'),
    start: metric('process_start_time_seconds'),
    connections: metric('parley_connections'),
    rooms: metric('parley_local_rooms'),
  };
}

async function settledMemory(): Promise<{ mems: Mem[]; gc: boolean[] }> {
  // The sockets are closed; give the instances their close handlers and timers.
  await sleep(2000);
  const gc: boolean[] = [];
  for (let i = 0; i < servers.length; i++) gc.push(await collectGarbage(i));
  await sleep(500);
  return { mems: await Promise.all(servers.map(memory)), gc };
}

async function runPhase(name: string, frames: number, seed: number, stats: Stats): Promise<number> {
  const tag = `${name[0]}${(seed % 46656).toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const users = Array.from({ length: SOCKETS }, (_, i) => `fz${tag}-${i}`);
  const socks = users.map(
    (user, i) =>
      new FuzzSocket(
        i,
        servers[i % servers.length] as Server,
        user,
        users[i ^ 1] ?? (users[0] as string),
        `fzh-${tag}-${i}`,
        `fzs-${tag}-${i % 10}`,
        `${tag}.${i}`,
        new Rng(Rng.derive(seed, i)),
        stats,
      ),
  );
  const t0 = Date.now();
  await Promise.all(socks.map((s) => s.connect()));
  const per = Math.floor(frames / SOCKETS);
  await Promise.all(socks.map((s, i) => s.run(per + (i < frames - per * SOCKETS ? 1 : 0))));
  await Promise.all(socks.map((s) => s.close()));
  return Date.now() - t0;
}

function table(stats: Stats, ms: number): string {
  const lines: string[] = [];
  const total = [...stats.sent.values()].reduce((a, b) => a + b, 0);
  lines.push(`fuzz: seed ${SEED} — ${total} frames on ${SOCKETS} sockets in ${(ms / 1000).toFixed(1)} s (${Math.round(total / (ms / 1000))}/s), plus ${stats.fences} fence heartbeats`);
  lines.push(`${'kind'.padEnd(34)} ${'sent'.padStart(6)}  answers`);
  for (const kind of [...stats.sent.keys()].sort()) {
    const out = [...(stats.outcomes.get(kind) ?? new Map<string, number>()).entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`${kind.padEnd(34)} ${String(stats.sent.get(kind)).padStart(6)}  ${out}`);
  }
  lines.push(`closes by code: ${[...stats.closes.entries()].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}; reconnects: ${stats.reconnects}`);
  lines.push(`unsolicited events: ${[...stats.unsolicited.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}; message seq gaps seen: ${stats.gaps}`);
  if (stats.grey.size) {
    lines.push('where docs/protocol.md is silent or ambiguous (accepted, for the record):');
    for (const [g, m] of stats.grey) lines.push(`  ${g}: ${[...m.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  lines.push(`failures: ${stats.failureCount}`);
  for (const f of stats.failures) lines.push(`  ${f}`);
  return lines.join('\n');
}

beforeAll(async () => {
  const nodes = (await up({ basePort: BASE_PORT })).nodes.join(',');
  const rate = '100000';
  const env = {
    REDIS_CLUSTER_NODES: nodes,
    LOG_LEVEL: 'error',
    SEND_RATE: rate,
    SEND_BURST: rate,
    TYPING_RATE: rate,
    TYPING_BURST: rate,
    // The limits have their own tests (ws-limits.suite.ts); here they would only refuse at random.
    JOIN_RATE: rate,
    JOIN_BURST: rate,
    MAX_ROOMS_PER_CONN: rate,
    // The inspector on a free port, only to force a full GC before reading the heap.
    NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --inspect=127.0.0.1:0`.trim(),
  };
  servers = await Promise.all(['a', 'b'].map((id) => startServer('node', { ...env, INSTANCE_ID: uid(`fuzz-${id}`) })));
  for (const s of servers) {
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(s.output());
    inspectors.push(m?.[1] ?? '');
  }
}, 60_000);

afterAll(async () => {
  closeAllClients();
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await down({ basePort: BASE_PORT });
});

describe('fuzz', () => {
  it(`${FRAMES} random frames over ${SOCKETS} sockets on two instances: every frame answered per docs/protocol.md, no instance harmed, no leak`, async () => {
    console.log(`fuzz: seed ${SEED} (FUZZ_SEED=${SEED} reproduces this run)`);
    const pids = servers.map((s) => s.pid);
    const starts = (await Promise.all(servers.map(memory))).map((m) => m.start);

    // Warm-up with the same mix and the same number of sockets, so the baseline has JIT, pools and caches.
    const warm = new Stats();
    await runPhase('warm', WARMUP_FRAMES, Rng.derive(SEED, 1_000_001), warm);
    const before = await settledMemory();

    const stats = new Stats();
    const ms = await runPhase('fuzz', FRAMES, SEED, stats);
    const after = await settledMemory();

    const report = [table(stats, ms)];
    report.push(`warm-up: ${[...warm.sent.values()].reduce((a, b) => a + b, 0)} frames, failures ${warm.failureCount}`);
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    servers.forEach((_, i) => {
      const b = before.mems[i] as Mem;
      const a = after.mems[i] as Mem;
      report.push(
        `instance ${i}: heap used ${mb(b.heap)} → ${mb(a.heap)} (${a.heap >= b.heap ? '+' : ''}${mb(a.heap - b.heap)}), rss ${mb(b.rss)} → ${mb(a.rss)}, connections ${a.connections}, local rooms ${a.rooms}; full GC forced through the inspector: ${before.gc[i] && after.gc[i] ? 'yes' : 'no (settling time only)'}`,
      );
    });
    console.log(report.join('\n'));

    // Every frame got exactly the answer the protocol allows.
    expect(stats.failures, stats.failures.join('\n')).toEqual([]);
    expect(warm.failures, warm.failures.join('\n')).toEqual([]);
    expect([...stats.sent.values()].reduce((a, b) => a + b, 0)).toBe(FRAMES);
    // No close but those the frames asked for.
    for (const code of stats.closes.keys()) expect([1009, 1007, 1000]).toContain(Number(code));

    // The instances are the same processes, up and ready.
    for (const [i, s] of servers.entries()) {
      expect(s.pid).toBe(pids[i]);
      expect(() => process.kill(s.pid, 0)).not.toThrow();
      expect((after.mems[i] as Mem).start).toBe(starts[i]);
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      expect((await fetch(`${s.url}/ready`)).status).toBe(200);
      expect((after.mems[i] as Mem).connections).toBe(0);
      expect((after.mems[i] as Mem).rooms).toBe(0);
    }
    // Nothing failed inside the server (LOG_LEVEL=error: any line is a failure).
    for (const s of servers) expect(s.output().split('\n').filter((l) => l.includes('"level":"error"'))).toEqual([]);

    // A fresh client on each instance connects, joins, sends and receives, across instances too.
    const room = uid('after-fuzz');
    const [a, b] = await Promise.all(servers.map((s, i) => connect(s, uid(`fresh${i}`))));
    await a!.join(room);
    await b!.join(room);
    const ackA = await a!.post(room, 'still here', 'fresh-a');
    const ackB = await b!.post(room, 'me too', 'fresh-b');
    expect(ackB.seq).toBe(ackA.seq + 1);
    for (const c of [a!, b!]) {
      await c.nextOf('message', (m) => m.cid === 'fresh-a');
      await c.nextOf('message', (m) => m.cid === 'fresh-b');
    }
    await a!.close();
    await b!.close();

    // Memory returns to baseline.
    for (const [i] of servers.entries()) {
      expect((after.mems[i] as Mem).heap).toBeLessThanOrEqual((before.mems[i] as Mem).heap + HEAP_MARGIN);
    }
  }, 180_000);

  it(`${REST_REQUESTS} random REST requests, each to either instance: answered per docs/protocol.md, groups keep exactly the members they announced`, async () => {
    const seed = Rng.derive(SEED, 2_000_002);
    const pick = new Rng(seed);
    const fuzz = new RestFuzz(seed, 8, uid('rz'));
    const report = await fuzz.run(async (req) => {
      const res = await fetch(`${pick.pick(servers).url}${req.path}`, { method: req.method, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }) });
      return { status: res.status, text: await res.text() };
    }, REST_REQUESTS / 8);
    console.log(`REST fuzz: ${report.requests} requests, by status ${JSON.stringify(report.byStatus)}`);
    expect(report.failures, `seed ${SEED}`).toEqual([]);
    for (const status of ['200', '201', '204', '400', '401', '403', '413']) expect(report.byStatus[status] ?? 0).toBeGreaterThan(0);
    for (const s of servers) {
      expect((await fetch(`${s.url}/ready`)).status).toBe(200);
      expect(s.output().split('\n').filter((l) => l.includes('"level":"error"'))).toEqual([]);
    }
  }, 120_000);
});

