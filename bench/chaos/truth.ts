/**
 * What the checker compares the users' records with: each room's whole log read over REST, the
 * archive's documents, presence as Redis (the REST route) and MongoDB (`users`) report it, and the
 * chat instances' resident memory.
 */
import { readFileSync } from 'node:fs';
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
 * Node options of the run's chat instances: on SIGUSR2 a full garbage collection that also returns
 * freed pages to the system (gc-on-signal.mjs), which `instanceMemory` asks for before it measures.
 */
export const INSTANCE_NODE_ARGS = ['--expose-gc', '--import', join(import.meta.dirname, 'gc-on-signal.mjs')];

/** One instance's memory: resident KiB, and what its metrics say about the V8 heap in use and its sockets. */
export type InstanceMemory = { rssKiB: number; heapKiB: number; connections: number };

function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : -1;
}

/**
 * Each instance's memory, by name and pid, measured a moment after that collection: what the process
 * holds, not the garbage of the last seconds' traffic, nor the pages V8 keeps after collecting it.
 * The heap and the open sockets (from `/metrics`, -1 where it did not answer) say what the resident
 * figure is made of.
 */
export async function instanceMemory(dir: string, instanceUrls: Record<string, string>): Promise<Record<string, InstanceMemory>> {
  const st = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as { procs: { name: string; kind: string; pid: number }[] };
  const instances = st.procs.filter((x) => x.kind === 'instance');
  for (const p of instances) process.kill(p.pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 2000));
  const out: Record<string, InstanceMemory> = {};
  for (const p of instances) {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
    const url = instanceUrls[p.name];
    const metrics = url ? await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).catch(() => '') : '';
    const heap = gauge(metrics, 'nodejs_heap_size_used_bytes');
    out[`${p.name} pid ${p.pid}`] = {
      rssKiB: Number(m?.[1] ?? 0),
      heapKiB: heap < 0 ? -1 : Math.round(heap / 1024),
      connections: gauge(metrics, 'parley_connections'),
    };
  }
  return out;
}
