/**
 * The demo page in a real browser against the real server: two users in headless Chromium join the
 * same room, see each other online and read each other's messages.
 *
 * Needs Debian's Chromium at /usr/bin/chromium (never downloaded); the suite is skipped without it.
 * Screenshots go to a fresh temp directory (or `PARLEY_E2E_SCREENSHOTS`), printed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForHealth(url: string, server: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}:\n${output()}`);
    const ok = await fetch(`${url}/health`).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`server did not answer /health within 45 s:\n${output()}`);
}

/** Signs in as `name` and joins `room` through the page's own forms. */
async function signIn(page: Page, baseUrl: string, name: string, room: string): Promise<void> {
  await page.goto(baseUrl);
  await page.fill('#name', name);
  await page.click('#connect');
  await page.locator('#state[data-state="open"]').waitFor();
  await page.fill('#room-input', room);
  await page.click('#join');
  await page.locator(`#rooms li[data-room="${room}"][aria-current="true"]`).waitFor();
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
}

const messageFrom = (page: Page, user: string, text: string) =>
  page.locator(`#messages li[data-from="${user}"]:not(.pending) .text`, { hasText: text });

describe('demo page in Chromium', () => {
  let server: ChildProcess;
  let browser: Browser;
  let baseUrl = '';
  let log = '';
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // A missing browser fails the suite rather than skipping it: a skipped test proves nothing.
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    // Own process group, so that the whole npx → tsx → node chain stops together.
    server = spawn('npx', ['tsx', 'src/main.node.ts'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', AUTH_MODE: 'dev', NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    server.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitForHealth(baseUrl, server, () => log);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      process.kill(-server.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (server.exitCode === null) process.kill(-server.pid, 'SIGKILL');
    }
  }, 20_000);

  it('two users chat in one room and see each other online', async () => {
    const room = `e2e-${Date.now().toString(36)}`;
    const [alice, bob] = await Promise.all(
      ['alice', 'bob'].map(async () => {
        const page = await (await browser.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
        page.on('pageerror', (err) => pageErrors.push(err.message));
        return page;
      }),
    );
    if (!alice || !bob) throw new Error('no pages');

    await signIn(alice, baseUrl, 'alice', room);
    await signIn(bob, baseUrl, 'bob', room);

    // Each sees the other in the room's member list, online (alice by a presence frame, bob by joined).
    await alice.locator('#members li[data-user="bob"][data-status="online"]').waitFor();
    await bob.locator('#members li[data-user="alice"][data-status="online"]').waitFor();

    await say(alice, 'hello bob, this is alice');
    await messageFrom(bob, 'alice', 'hello bob, this is alice').waitFor();
    await say(bob, 'hi alice! <b>not bold</b>');
    await messageFrom(alice, 'bob', 'hi alice! <b>not bold</b>').waitFor();

    // Each message shows once on both sides, in the order it was sent.
    for (const page of [alice, bob]) {
      await page.locator('#messages li.pending').waitFor({ state: 'detached' });
      expect(await page.locator('#messages li .text').allTextContents()).toEqual([
        'hello bob, this is alice',
        'hi alice! <b>not bold</b>',
      ]);
    }
    // User text is shown as text, never parsed as HTML.
    expect(await alice.locator('#messages b').count()).toBe(0);

    // A direct room: alice opens it; bob's page finds it among his conversations and shows it.
    await alice.fill('#dm-input', 'bob');
    await alice.click('#dm');
    await alice.locator('#rooms li[data-room="dm:alice:bob"][aria-current="true"]').waitFor();
    await say(alice, 'psst, just for you');
    await messageFrom(alice, 'alice', 'psst, just for you').waitFor();
    await bob.locator('#rooms li[data-room="dm:alice:bob"]').click({ timeout: 15_000 });
    await messageFrom(bob, 'alice', 'psst, just for you').waitFor();
    expect(await bob.locator('#room-title').textContent()).toBe('@alice');

    const dir = process.env['PARLEY_E2E_SCREENSHOTS'] ?? (await mkdtemp(join(tmpdir(), 'parley-e2e-')));
    await mkdir(dir, { recursive: true });
    await alice.screenshot({ path: join(dir, 'alice.png') });
    await bob.screenshot({ path: join(dir, 'bob.png') });
    console.log(`screenshots: ${dir}/alice.png ${dir}/bob.png`);

    expect(pageErrors).toEqual([]);
  }, 60_000);
});
