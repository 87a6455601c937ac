/**
 * BATCH_WINDOW_MS: messages to one socket that arrive within the window go out as one `batch` frame,
 * in order and each exactly once; without it (the default), messages arriving in separate turns go
 * out as separate frames.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type Server, closeAllClients, connect, eventually, rest, sleep, startServer, uid } from './server.ts';

const servers: Server[] = [];
afterAll(async () => {
  closeAllClients();
  await Promise.all(servers.map((s) => s.stop()));
});

/** A reader in a fresh room, then `n` REST posts 5 ms apart; resolves with the reader's frames and texts. */
async function postSpaced(server: Server, n: number) {
  const room = uid('bw');
  const reader = await connect(server, uid('reader'));
  await reader.join(room);
  const before = reader.frames;
  for (let i = 0; i < n; i++) {
    const r = await rest(server, 'POST', `/v1/rooms/${room}/messages`, { user: 'poster', body: { text: `m${i}` } });
    expect(r.status).toBe(201);
    await sleep(5);
  }
  await eventually(() => {
    const got = reader.events.filter((e) => e.type === 'message').map((e) => (e as { text: string }).text);
    if (got.length < n) throw new Error(`${got.length} of ${n}`);
    return got;
  });
  await sleep(300);
  return { frames: reader.frames - before, texts: reader.events.filter((e) => e.type === 'message').map((e) => (e as { text: string }).text) };
}

describe('BATCH_WINDOW_MS', () => {
  it('with a 250 ms window, spaced messages share frames, in order, once each', async () => {
    const server = await startServer('node', { BATCH_WINDOW_MS: '250' });
    servers.push(server);
    const { frames, texts } = await postSpaced(server, 20);
    expect(texts).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    // The first goes at once; the rest (about 200 ms of posting) fall into one or two windows.
    expect(frames).toBeLessThanOrEqual(5);
  });

  it('by default, messages arriving in separate turns are separate frames', async () => {
    const server = await startServer('node', {});
    servers.push(server);
    const { frames, texts } = await postSpaced(server, 10);
    expect(texts).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    // Each in its own turn, so its own frame; a slow turn on a busy machine may now and then catch two.
    expect(frames).toBeGreaterThanOrEqual(8);
  });
});
