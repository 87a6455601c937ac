/**
 * `Changes` for a target only the archive still holds: the log is asked again with the author and
 * the cid the archive has, so that a delete blanks the idempotency record of the message too.
 */
import { describe, expect, it } from 'vitest';
import { MemoryArchive } from '../../src/archive/memory.ts';
import { Changes } from '../../src/chat/changes.ts';
import { createMetrics } from '../../src/metrics.ts';
import { MemoryRoomLog } from '../../src/rooms/memory.ts';
import type { ChangeInput, ChangeResult } from '../../src/rooms/types.ts';

describe('changes of archived messages', () => {
  it('passes the archived author and cid to the log, and answers not_found for what the archive lacks', async () => {
    const log = new MemoryRoomLog({ hotWindow: 10, idempotencyTtlMs: 60_000 });
    const archive = new MemoryArchive();
    const asked: ChangeInput[] = [];
    const change = log.change.bind(log);
    log.change = (room: string, input: ChangeInput): Promise<ChangeResult> => {
      asked.push(input);
      return change(room, input);
    };
    const room = 'lobby';
    const first = (await log.append(room, { from: 'alice', text: 'secret', cid: 'c-1' })).message;
    const second = (await log.append(room, { from: 'alice', text: 'no cid' })).message;
    for (let i = 0; i < 200; i++) await log.append(room, { from: 'bob', text: `m${i}` });
    await archive.put([first, second]);
    const changes = new Changes(log, archive, createMetrics('test'));

    await changes.apply('alice', room, { kind: 'delete', target: 1 });
    expect(asked.at(-1)).toMatchObject({ kind: 'delete', target: 1, archivedAuthor: 'alice', archivedCid: 'c-1' });
    expect((await log.append(room, { from: 'alice', text: 'secret', cid: 'c-1' })).message).toMatchObject({ seq: 1, text: '' });
    await changes.apply('bob', room, { kind: 'reaction', target: 2, emoji: '👍', on: true });
    expect(asked.at(-1)).toEqual({ kind: 'reaction', target: 2, emoji: '👍', on: true, from: 'bob', archivedAuthor: 'alice' });
    await expect(changes.apply('bob', room, { kind: 'reaction', target: 3, emoji: '👍', on: true })).rejects.toMatchObject({ code: 'not_found' });
  });
});
