/**
 * BATCH_WINDOW_MS: while a socket's send buffer is not empty, messages to it that arrive within the
 * window go out as one `batch` frame, in order and each exactly once; a socket that keeps up gets
 * them at once. Without it (the default), messages arriving in separate turns go out as separate frames.
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
  it('with a 250 ms window, a reader that keeps up still gets each message in its own frame', async () => {
    const server = await startServer('node', { BATCH_WINDOW_MS: '250' });
    servers.push(server);
    const { frames, texts } = await postSpaced(server, 10);
    expect(texts).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(frames).toBeGreaterThanOrEqual(8);
  });

  it('with a window, a reader that falls behind gets what piled up in few frames, in order, once each', async () => {
    const big = String(64 * 1024 * 1024);
    const server = await startServer('node', { BATCH_WINDOW_MS: '100', SEND_RATE: '100000', SEND_BURST: '100000', SEND_BUFFER_SOFT: big, SEND_BUFFER_HARD: big });
    servers.push(server);
    const room = uid('bw');
    const [reader, sender] = [await connect(server, uid('reader')), await connect(server, uid('sender'))];
    await reader.join(room);
    await sender.join(room);
    const before = reader.frames;
    // The reader stops reading: once the kernel's buffers are full, the server's writes to it wait.
    (reader.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const n = 2500;
    const text = (i: number) => `${i} ${'x'.repeat(3000)}`;
    // One at a time, so that each message reaches the server in a turn of its own.
    for (let i = 0; i < n; i++) await sender.post(room, text(i), `c${i}`);
    await sleep(500);
    (reader.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.resume();
    const texts = await eventually(() => {
      const got = reader.events.filter((e) => e.type === 'message').map((e) => (e as { text: string }).text);
      if (got.length < n) throw new Error(`${got.length} of ${n}`);
      return got;
    }, 30_000);
    expect(texts).toEqual(Array.from({ length: n }, (_, i) => text(i)));
    // The first megabytes fill the kernel's buffers and go one message per frame; after that, batches.
    expect(reader.frames - before).toBeLessThan(n * 0.75);
  }, 60_000);

  it('by default, messages arriving in separate turns are separate frames', async () => {
    const server = await startServer('node', {});
    servers.push(server);
    const { frames, texts } = await postSpaced(server, 10);
    expect(texts).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    // Each in its own turn, so its own frame; a slow turn on a busy machine may now and then catch two.
    expect(frames).toBeGreaterThanOrEqual(8);
  });
});
