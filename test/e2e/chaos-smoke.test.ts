/**
 * The chaos smoke (bench/chaos/, `npm run chaos -- smoke`): the whole stack through an instance
 * kill and drain, a Redis master failover, worker kills, a MongoDB restart and a reconnect storm,
 * with group changes, edits, deletes and reactions, ends with every invariant holding: every
 * user's view of every room equals the log, nothing acknowledged is lost or stored twice, states
 * agree everywhere, presence converges and memory returns. About two minutes.
 *
 * Ports: the stack's scheme from PARLEY_TEST_CHAOS_PORT (default 20000): 20000 … 20399 and the
 * Redis bus on 30020 … 30025.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const BASE_PORT = process.env['PARLEY_TEST_CHAOS_PORT'] ?? '20000';

it('keeps every promise through a storm of faults', async () => {
  const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/chaos/main.ts', 'smoke', '--seed', '16', '--base-port', BASE_PORT], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 360_000,
  }).catch((err: { stdout?: string; stderr?: string; code?: number }) => err);
  const log = String(run.stderr ?? '');
  const file = /chaos: .* (\S+-chaos-smoke\.json)$/m.exec(log)?.[1];
  expect(file, log).toBeDefined();
  const result = JSON.parse(readFileSync(file as string, 'utf8')) as {
    messages: number;
    faults: { kind: string; error?: string }[];
    invariants: { name: string; phase: string; ok: boolean; count: number; examples: string[] }[];
  };
  expect(result.faults.filter((f) => f.error), log).toEqual([]);
  expect(new Set(result.faults.map((f) => f.kind)).size).toBe(7);
  expect(result.messages).toBeGreaterThan(3000);
  for (const i of result.invariants) {
    expect(i.count, `${i.phase}: ${i.name}`).toBeGreaterThan(0);
    expect(i.ok, `${i.phase}: ${i.name}: ${i.examples.join(' | ')}`).toBe(true);
  }
}, 400_000);
