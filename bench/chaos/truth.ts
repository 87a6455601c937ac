/**
 * What the checker compares the users' records with: each room's whole log read over REST, the
 * archive's documents, presence as Redis (the REST route) and MongoDB (`users`) report it, and the
 * chat instances' resident memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import type { Message } from '@parley/client/wire';
import type { ArchiveDoc, RoomLog } from './checks.ts';

async function page(baseUrl: string, user: string, room: string, after: number) {
  const res = await fetch(`${baseUrl}/v1/rooms/${encodeURIComponent(room)}/messages?after=${after}&limit=200`, {
    headers: { 'X-User': user },
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 200) throw new Error(`GET history of ${room} after ${after}: ${res.status}`);
  return (await res.json()) as { epoch: string; messages: Message[]; hasMore: boolean };
}

/** A room's whole log, paged from the start, read as `user` (a member). */
export async function readLog(baseUrl: string, room: string, user: string): Promise<RoomLog> {
  const entries = new Map<number, Message>();
  let epoch = '';
  for (let after = 0; ; ) {
    const p = await page(baseUrl, user, room, after);
    epoch = p.epoch;
    for (const m of p.messages) entries.set(m.seq, m);
    const last = p.messages.at(-1)?.seq;
    if (!p.hasMore || last === undefined) break;
    after = last;
  }
  return { room, epoch, entries, latest: Math.max(0, ...entries.keys()) };
}

export async function readLogs(baseUrl: string, rooms: Map<string, string>): Promise<Map<string, RoomLog>> {
  const out = new Map<string, RoomLog>();
  const list = [...rooms];
  for (let i = 0; i < list.length; i += 8) {
    const logs = await Promise.all(list.slice(i, i + 8).map(([room, user]) => readLog(baseUrl, room, user)));
    for (const l of logs) out.set(l.room, l);
  }
  return out;
}

export class Mongo {
  readonly #client: MongoClient;
  constructor(url: string) {
    this.#client = new MongoClient(url, { directConnection: true, serverSelectionTimeoutMS: 5000 });
  }

  async messages(rooms: string[]): Promise<Map<string, ArchiveDoc[]>> {
    const out = new Map<string, ArchiveDoc[]>(rooms.map((r) => [r, []]));
    const docs = (await this.#client.db('parley').collection<ArchiveDoc>('messages').find({ room: { $in: rooms } }).toArray()) as ArchiveDoc[];
    for (const d of docs) out.get(d.room)?.push(d);
    return out;
  }

  /** Each user's status in `users`, absent when the user has no document. */
  async statuses(users: string[]): Promise<Map<string, string>> {
    const docs = await this.#client.db('parley').collection<{ _id: string; status: string }>('users').find({ _id: { $in: users } }).toArray();
    return new Map(docs.map((d) => [d._id, d.status]));
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

/** Each user's status as `GET /v1/users/:user/presence` (Redis) answers it. */
export async function redisStatuses(baseUrl: string, users: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < users.length; i += 20) {
    await Promise.all(users.slice(i, i + 20).map(async (u) => {
      const res = await fetch(`${baseUrl}/v1/users/${encodeURIComponent(u)}/presence`, { headers: { 'X-User': 'chaos-checker' }, signal: AbortSignal.timeout(5000) });
      out.set(u, res.status === 200 ? ((await res.json()) as { status: string }).status : `http ${res.status}`);
    }));
  }
  return out;
}

/**
 * Node options of the run's chat instances: on SIGUSR2 a full garbage collection, after which the
 * instance writes its memory to a file (gc-on-signal.mjs, with
 * `PARLEY_MEMORY_DIR` in its environment: `memoryEnv`). `instanceMemory` asks for it.
 */
export const INSTANCE_NODE_ARGS = ['--expose-gc', '--import', join(import.meta.dirname, 'gc-on-signal.mjs')];

/** The instances' environment entry that tells them where to write their memory (see `instanceMemory`). */
export const memoryEnv = (dir: string): Record<string, string> => ({
  PARLEY_MEMORY_DIR: dir,
  ...(process.env['PARLEY_MEMORY_SNAPSHOT_ABOVE_MB'] ? { PARLEY_MEMORY_SNAPSHOT_ABOVE_MB: process.env['PARLEY_MEMORY_SNAPSHOT_ABOVE_MB'] } : {}),
});

/** What gc-on-signal.mjs writes: bytes, and when. */
type Reported = { rss: number; heapUsed: number; at: number; heapTotal?: number; external?: number; arrayBuffers?: number; rssAnonKiB?: number; rssFileKiB?: number };

/** One instance's memory: resident KiB, the V8 heap in use, and its open sockets (-1: not known). */
export type InstanceMemory = { rssKiB: number; heapKiB: number; connections: number; detail?: Record<string, number> };

function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : -1;
}

/**
 * Each instance's memory, by name and pid, as the instance itself measured it right after that
 * collection: what the process holds, not the garbage of the traffic of the moments after it. The
 * sockets come from `/metrics`.
 */
export async function instanceMemory(dir: string, instanceUrls: Record<string, string>): Promise<Record<string, InstanceMemory>> {
  const st = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as { procs: { name: string; kind: string; pid: number }[] };
  const instances = st.procs.filter((x) => x.kind === 'instance');
  const sent = Date.now();
  for (const p of instances) process.kill(p.pid, 'SIGUSR2');
  const out: Record<string, InstanceMemory> = {};
  for (const p of instances) {
    const file = join(dir, `${p.pid}.json`);
    const report = (): Reported | null => {
      let r: Reported | null = null;
      try {
        r = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Reported) : null;
      } catch {
        // being written: read again
      }
      return r && r.at >= sent ? r : null;
    };
    let m = report();
    for (const deadline = Date.now() + 10_000; !m && Date.now() < deadline; m = report()) await new Promise((r) => setTimeout(r, 100));
    if (!m) throw new Error(`${p.name} (pid ${p.pid}) did not report its memory within 10 s`);
    const url = instanceUrls[p.name];
    const metrics = url ? await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).catch(() => '') : '';
    out[`${p.name} pid ${p.pid}`] = { rssKiB: Math.round(m.rss / 1024), heapKiB: Math.round(m.heapUsed / 1024), connections: gauge(metrics, 'parley_connections'), detail: { heapTotalKiB: Math.round((m.heapTotal ?? 0) / 1024), externalKiB: Math.round((m.external ?? 0) / 1024), arrayBuffersKiB: Math.round((m.arrayBuffers ?? 0) / 1024), rssAnonKiB: m.rssAnonKiB ?? -1, rssFileKiB: m.rssFileKiB ?? -1 } };
  }
  return out;
}
