/**
 * The demo page in a real browser against the real server: two users in headless Chromium join the
 * same room, see each other online and read each other's messages; three users share a private
 * group whose owner adds and removes members; unread badges and "Seen by" (in a direct room and a
 * group, not in a public room) follow two users' reads;
 * one user edits, deletes and reacts, and the other sees it live and after a reload.
 * The API reference page at /docs shows every operation of /openapi.json without leaving the server.
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

  /** Fresh pages, each in its own browser context (its own localStorage); their errors are collected. */
  const newPages = (n: number): Promise<Page[]> =>
    Promise.all(
      Array.from({ length: n }, async () => {
        const page = await (await browser.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
        page.on('pageerror', (err) => pageErrors.push(err.message));
        return page;
      }),
    );

  it('two users chat in one room and see each other online', async () => {
    const room = `e2e-${Date.now().toString(36)}`;
    const [alice, bob] = await newPages(2);
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

  it('a private group: created with a member, another added, one removed', async () => {
    const lobby = `e2e-grp-${Date.now().toString(36)}`;
    const [alice, bob, carol] = await newPages(3);
    if (!alice || !bob || !carol) throw new Error('no pages');
    await signIn(alice, baseUrl, 'alice', lobby);
    await signIn(bob, baseUrl, 'bob', lobby);
    await signIn(carol, baseUrl, 'carol', lobby);

    // alice creates the group with bob; it opens on her page.
    await alice.fill('#group-name', 'Launch plans');
    await alice.fill('#group-members', 'bob');
    await alice.click('#group-create');
    const mine = alice.locator('#rooms li[data-kind="group"][aria-current="true"]');
    await mine.waitFor();
    const room = await mine.getAttribute('data-room');
    expect(room).toMatch(/^grp:[A-Za-z0-9_-]+$/);
    const item = (page: Page) => page.locator(`#rooms li[data-room="${room}"]`);
    expect(await alice.locator('#room-title').textContent()).toBe('★ Launch plans');
    await alice.locator('#members li[data-user="alice"] .role', { hasText: 'owner' }).waitFor();

    // bob's page finds it among his conversations; they talk there.
    await item(bob).click({ timeout: 15_000 });
    expect(await bob.locator('#room-title').textContent()).toBe('★ Launch plans');
    await say(bob, 'bob here, in the group');
    await messageFrom(alice, 'bob', 'bob here, in the group').waitFor();
    await say(alice, 'welcome bob');
    await messageFrom(bob, 'alice', 'welcome bob').waitFor();
    // bob is a plain member: no add form, no remove buttons.
    expect(await bob.locator('#member-form').isHidden()).toBe(true);
    expect(await bob.locator('#members button.remove').count()).toBe(0);

    // alice adds carol; carol's page shows the group with its history.
    await alice.fill('#member-input', 'carol');
    await alice.click('#member-add');
    await alice.locator('#members li[data-user="carol"]').waitFor();
    await bob.locator('#members li[data-user="carol"]').waitFor();
    await item(carol).click({ timeout: 15_000 });
    await messageFrom(carol, 'bob', 'bob here, in the group').waitFor();
    await messageFrom(carol, 'alice', 'welcome bob').waitFor();

    // alice removes bob: his page loses the room and says why; the others see him go.
    await alice.locator('#members li[data-user="bob"] button.remove').click();
    await item(bob).waitFor({ state: 'detached' });
    await bob.locator('#notice', { hasText: 'you were removed from ★ Launch plans' }).waitFor();
    expect(await bob.locator('#room-title').textContent()).not.toBe('★ Launch plans');
    await alice.locator('#members li[data-user="bob"]').waitFor({ state: 'detached' });
    await carol.locator('#members li[data-user="bob"]').waitFor({ state: 'detached' });

    // alice and carol keep chatting.
    await say(carol, 'just the two of us now');
    await messageFrom(alice, 'carol', 'just the two of us now').waitFor();
    await say(alice, 'indeed');
    await messageFrom(carol, 'alice', 'indeed').waitFor();
    for (const page of [alice, carol]) {
      await page.locator('#messages li.pending').waitFor({ state: 'detached' });
      expect(await page.locator('#messages li .text').allTextContents()).toEqual([
        'bob here, in the group',
        'welcome bob',
        'just the two of us now',
        'indeed',
      ]);
    }
    // The conversations poll (every 5 s) does not bring the group back to bob.
    await bob.waitForTimeout(5_500);
    expect(await item(bob).count()).toBe(0);

    const dir = process.env['PARLEY_E2E_SCREENSHOTS'] ?? (await mkdtemp(join(tmpdir(), 'parley-e2e-')));
    await mkdir(dir, { recursive: true });
    for (const [name, page] of [['group-alice', alice], ['group-bob', bob], ['group-carol', carol]] as const) {
      await page.screenshot({ path: join(dir, `${name}.png`) });
    }
    console.log(`screenshots: ${dir}/group-alice.png ${dir}/group-bob.png ${dir}/group-carol.png`);

    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('unread badges count what a user has not read, and "Seen by" shows who read the last message in direct rooms and groups', async () => {
    const lobby = `e2e-rd-${Date.now().toString(36)}`;
    const [dana, erik, erik2] = await newPages(3);
    if (!dana || !erik || !erik2) throw new Error('no pages');
    await signIn(dana, baseUrl, 'dana', lobby);
    await signIn(erik, baseUrl, 'erik', lobby);
    // erik on a second device, looking at another room.
    await signIn(erik2, baseUrl, 'erik', `e2e-other-${Date.now().toString(36)}`);
    const badge = (page: Page, room: string) => page.locator(`#rooms li[data-room="${room}"] .unread`);

    // dana writes to erik directly while erik looks elsewhere: both his pages show 3 unread.
    await dana.fill('#dm-input', 'erik');
    await dana.click('#dm');
    await dana.locator('#rooms li[data-room="dm:dana:erik"][aria-current="true"]').waitFor();
    for (const text of ['one', 'two', 'three']) {
      await say(dana, text);
      await messageFrom(dana, 'dana', text).waitFor();
    }
    for (const page of [erik, erik2]) await badge(page, 'dm:dana:erik').filter({ hasText: '3' }).waitFor({ timeout: 15_000 });
    expect(await dana.locator('#seen').textContent()).toBe('');

    // erik opens it on one page: the badge goes on both, and dana sees that he has read her last message.
    await erik.locator('#rooms li[data-room="dm:dana:erik"]').click();
    for (const page of [erik, erik2]) await badge(page, 'dm:dana:erik').waitFor({ state: 'detached' });
    await dana.locator('#seen', { hasText: 'Seen by erik' }).waitFor();
    // A new message shows "Seen by" again once erik's page, which shows it, has read it.
    await say(dana, 'four');
    await messageFrom(erik, 'dana', 'four').waitFor();
    await dana.locator('#seen', { hasText: 'Seen by erik' }).waitFor();
    expect(await dana.locator('#messages li .text').last().textContent()).toBe('four');
    const dir = process.env['PARLEY_E2E_SCREENSHOTS'] ?? (await mkdtemp(join(tmpdir(), 'parley-e2e-')));
    await mkdir(dir, { recursive: true });
    await dana.screenshot({ path: join(dir, 'reads-dana.png') });
    // erik's second page counts nothing: the message was read on the first.
    await erik2.waitForTimeout(300);
    expect(await badge(erik2, 'dm:dana:erik').count()).toBe(0);

    // dana posts in the lobby: erik, in the direct room, gets a badge of 1 there, gone when he looks.
    await dana.locator(`#rooms li[data-room="${lobby}"]`).click();
    await say(dana, 'lobby news');
    await badge(erik, lobby).filter({ hasText: '1' }).waitFor();
    await erik.locator(`#rooms li[data-room="${lobby}"]`).click();
    await badge(erik, lobby).waitFor({ state: 'detached' });
    // A public room shows no "Seen by".
    expect(await dana.locator('#seen').textContent()).toBe('');

    // A group: dana creates one with erik and writes there. erik's page finds it with a badge of 1,
    // and once he looks, dana sees that he has read her last message.
    await dana.fill('#group-name', 'Reading club');
    await dana.fill('#group-members', 'erik');
    await dana.click('#group-create');
    const created = dana.locator('#rooms li[data-kind="group"][aria-current="true"]');
    await created.waitFor();
    const group = (await created.getAttribute('data-room')) ?? '';
    expect(group).toMatch(/^grp:/);
    await say(dana, 'chapter one');
    await messageFrom(dana, 'dana', 'chapter one').waitFor();
    await dana.locator('#messages li.pending').waitFor({ state: 'detached' });
    expect(await dana.locator('#seen').textContent()).toBe('');
    await badge(erik, group).filter({ hasText: '1' }).waitFor({ timeout: 15_000 });
    await erik.locator(`#rooms li[data-room="${group}"]`).click();
    await messageFrom(erik, 'dana', 'chapter one').waitFor();
    await dana.locator('#seen', { hasText: 'Seen by erik' }).waitFor();
    await dana.screenshot({ path: join(dir, 'reads-dana-group.png') });

    await erik2.screenshot({ path: join(dir, 'reads-erik.png') });
    console.log(`screenshots: ${dir}/reads-dana.png ${dir}/reads-dana-group.png ${dir}/reads-erik.png`);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('the API reference page shows every operation of the document, loaded from this server only', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const elsewhere: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(baseUrl) && !req.url().startsWith('data:')) elsewhere.push(req.url());
    });
    const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    await page.goto(`${baseUrl}/docs`);
    await page.locator('.opblock').nth(operations - 1).waitFor();
    expect(await page.locator('.opblock').count()).toBe(operations);
    await page.locator('.opblock-summary-path', { hasText: '/v1/rooms/{room}/messages' }).first().waitFor();
    const dir = process.env['PARLEY_E2E_SCREENSHOTS'] ?? (await mkdtemp(join(tmpdir(), 'parley-e2e-')));
    await page.screenshot({ path: join(dir, 'docs.png'), fullPage: true });
    console.log(`screenshot: ${dir}/docs.png`);
    expect(elsewhere).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('edits, deletes and reactions show on the other user\'s page as they happen and after a reload', async () => {
    const room = `e2e-ed-${Date.now().toString(36)}`;
    const [fay, gus] = await newPages(2);
    if (!fay || !gus) throw new Error('no pages');
    await signIn(fay, baseUrl, 'fay', room);
    await signIn(gus, baseUrl, 'gus', room);
    const item = (page: Page, user: string, text: string) => page.locator(`#messages li.msg[data-from="${user}"]:not(.pending)`, { hasText: text });
    const chip = (page: Page, user: string, text: string, emoji: string) => item(page, user, text).locator(`.reactions button[data-emoji="${emoji}"]`);

    for (const text of ['see you at 9', 'wrong room, sorry', 'bring snacks']) {
      await say(fay, text);
      await messageFrom(gus, 'fay', text).waitFor();
    }
    await say(gus, 'deal');
    await messageFrom(fay, 'gus', 'deal').waitFor();
    // Only one's own messages can be edited or deleted.
    expect(await item(fay, 'gus', 'deal').locator('button[data-action="edit"]').count()).toBe(0);
    expect(await item(fay, 'gus', 'deal').locator('button[data-action="delete"]').count()).toBe(0);

    // fay fixes a typo inline.
    await item(fay, 'fay', 'see you at 9').locator('button[data-action="edit"]').click();
    await fay.locator('#messages form.edit input').fill('see you at 10');
    await fay.locator('#messages form.edit input').press('Enter');
    for (const page of [fay, gus]) await item(page, 'fay', 'see you at 10').locator('.edited', { hasText: '(edited)' }).waitFor();

    // fay deletes a message: both pages keep its place and say so.
    await item(fay, 'fay', 'wrong room, sorry').locator('button[data-action="delete"]').click();
    for (const page of [fay, gus]) await page.locator('#messages li.msg.deleted[data-from="fay"] .text', { hasText: 'message deleted' }).waitFor();
    expect(await gus.locator('#messages', { hasText: 'wrong room, sorry' }).count()).toBe(0);

    // fay reacts from the picker; gus adds his own by the chip; fay takes hers back.
    await item(fay, 'gus', 'deal').locator('button[data-action="pick"]').click();
    await item(fay, 'gus', 'deal').locator('.picker button[data-emoji="🎉"]').click();
    await chip(gus, 'gus', 'deal', '🎉').filter({ hasText: '🎉 1' }).waitFor();
    expect(await chip(gus, 'gus', 'deal', '🎉').getAttribute('aria-pressed')).toBe('false');
    await chip(gus, 'gus', 'deal', '🎉').click();
    await chip(fay, 'gus', 'deal', '🎉').filter({ hasText: '🎉 2' }).waitFor();
    expect(await chip(fay, 'gus', 'deal', '🎉').getAttribute('aria-pressed')).toBe('true');
    await chip(fay, 'gus', 'deal', '🎉').click();
    await chip(gus, 'gus', 'deal', '🎉').filter({ hasText: '🎉 1' }).waitFor();
    expect(await chip(gus, 'gus', 'deal', '🎉').getAttribute('aria-pressed')).toBe('true');
    await item(gus, 'fay', 'bring snacks').locator('button[data-action="pick"]').click();
    await item(gus, 'fay', 'bring snacks').locator('.picker button[data-emoji="❤️"]').click();
    await chip(fay, 'fay', 'bring snacks', '❤️').filter({ hasText: '❤️ 1' }).waitFor();

    const expected = ['fay see you at 10 (edited)', 'fay message deleted', 'fay bring snacks ❤️ 1', 'gus deal 🎉 1'];
    const shown = (page: Page) =>
      page.locator('#messages li.msg').evaluateAll((items) =>
        items.map((li) =>
          [...li.querySelectorAll('.from, .text, .edited, .reactions button')].map((e) => e.textContent).join(' '),
        ),
      );
    for (const page of [fay, gus]) expect(await shown(page)).toEqual(expected);
    // A fresh page shows the same, from the server's history.
    await signIn(gus, baseUrl, 'gus', room);
    await item(gus, 'gus', 'deal').waitFor();
    await chip(gus, 'fay', 'bring snacks', '❤️').waitFor();
    expect(await shown(gus)).toEqual(expected);

    const dir = process.env['PARLEY_E2E_SCREENSHOTS'] ?? (await mkdtemp(join(tmpdir(), 'parley-e2e-')));
    await mkdir(dir, { recursive: true });
    await fay.screenshot({ path: join(dir, 'edits-fay.png') });
    await gus.screenshot({ path: join(dir, 'edits-gus.png') });
    console.log(`screenshots: ${dir}/edits-fay.png ${dir}/edits-gus.png`);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
