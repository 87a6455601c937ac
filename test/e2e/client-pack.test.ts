/**
 * @parley/client as users get it: `npm pack` of packages/client (its prepack builds dist/), the
 * tarball installed into an empty project outside the repository, the installed types
 * checked by tsc with Node's own module resolution, and a script there chatting through a running
 * parley server with nothing but the installed package (and `ws`, Node 20 having no WebSocket).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownServers } from './server.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENT = join(ROOT, 'packages', 'client');
const WS = pathToFileURL(join(ROOT, 'node_modules', 'ws', 'wrapper.mjs')).href;

/** A consumer's TypeScript, checked against the installed declarations. */
const CHECK_TS = `
import { ClientError, ParleyClient, backoffDelay, type Ack, type Group } from '@parley/client';
import { CLOSE, directRoom, type ServerFrame } from '@parley/client/wire';

const client = new ParleyClient({ url: 'http://localhost:8080', user: 'alice' });
const ack: Promise<Ack> = client.send('lobby', 'hi');
const group: Promise<Group> = client.createGroup({ title: 'Team', members: ['bob'] });
const room: string = directRoom('alice', 'bob');
const restart: number = CLOSE.restart;
const delay: number = backoffDelay(3, () => 0.5);
const frame = (f: ServerFrame): string => f.type;
client.on('message', (m) => m.text.toUpperCase());
export { ack, group, room, restart, delay, frame, ClientError };
`;

/** Two users chat (one in JSON, one in MessagePack) and a group is made, through the installed package only. */
const CHAT_MJS = `
import { ParleyClient } from '@parley/client';
import { LIMITS } from '@parley/client/wire';
import { WebSocket } from ${JSON.stringify(WS)};

setTimeout(() => { console.error('timed out'); process.exit(1); }, 15000).unref();
const url = process.argv[2];
const alice = new ParleyClient({ url, user: 'alice', WebSocket });
// bob speaks MessagePack: the installed package imports its codec, and the room is shared with JSON.
const bob = new ParleyClient({ url, user: 'bob', WebSocket, encoding: 'msgpack' });
const bobJoined = new Promise((resolve) => bob.on('joined', resolve));
const got = new Promise((resolve) => bob.on('message', (m) => m.text === 'from the tarball' && resolve(m)));
bob.connect();
bob.join('lobby');
await bobJoined;
alice.connect();
alice.join('lobby');
const ack = await alice.send('lobby', 'from the tarball');
const message = await got;
const group = await alice.createGroup({ title: 'Team', members: ['bob'] });
alice.close();
bob.close();
console.log(JSON.stringify({
  resolved: import.meta.resolve('@parley/client'),
  maxText: LIMITS.textChars,
  ack: { room: ack.room, seq: ack.seq },
  message: { room: message.room, from: message.from, seq: message.seq, text: message.text },
  group: { room: group.room, owner: group.owner, members: group.members.map((m) => m.user).sort() },
}));
`;

describe('@parley/client from its npm tarball', () => {
  const start = ownServers('node');
  let dir = '';
  let packed: { filename: string; files: { path: string }[] } | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-client-pack-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: CLIENT, maxBuffer: 16 << 20 });
    packed = (JSON.parse(stdout) as (typeof packed)[])[0];
  }, 120_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('holds the build, its declarations, the README and package.json, and no sources or tests', () => {
    const files = (packed?.files ?? []).map((f) => f.path).sort();
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    for (const entry of ['index', 'wire']) {
      expect(files).toContain(`dist/${entry}.js`);
      expect(files).toContain(`dist/${entry}.d.ts`);
    }
    expect(files.filter((f) => !/^(package\.json|README\.md|dist\/[\w-]+\.(js|d\.ts))$/.test(f))).toEqual([]);
  });

  it('installs from its tarball into an empty project, type-checks there, and chats through a running server', async () => {
    const app = join(dir, 'app');
    await run('mkdir', ['-p', app]);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // Its dependencies come from the npm cache where it has them; a fresh machine's cache, filled by
    // `npm ci` from the lockfile, holds their tarballs but not the registry's metadata, which npm
    // then fetches.
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed?.filename ?? 'missing.tgz')], { cwd: app });
    expect(install.stderr).not.toMatch(/warn|ERR/i);
    const manifest = JSON.parse(await readFile(join(app, 'node_modules', '@parley', 'client', 'package.json'), 'utf8')) as { version: string };
    expect(manifest.version).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);

    // The declarations, as a TypeScript user on Node's resolution sees them (library files included).
    await writeFile(join(app, 'check.ts'), CHECK_TS);
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], strict: true, noEmit: true, types: [], skipLibCheck: false },
        files: ['check.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', app]).catch((err: { stdout?: string }) => {
      throw new Error(`tsc in the consumer project failed:\n${err.stdout ?? String(err)}`);
    });

    const server = await start({});
    await writeFile(join(app, 'chat.mjs'), CHAT_MJS);
    const { stdout } = await run(process.execPath, ['chat.mjs', server.url], { cwd: app, timeout: 30_000 });
    const out = JSON.parse(stdout) as {
      resolved: string;
      maxText: number;
      ack: { room: string; seq: number };
      message: { room: string; from: string; seq: number; text: string };
      group: { room: string; owner: string; members: string[] };
    };
    expect(out.resolved).toBe(pathToFileURL(join(app, 'node_modules', '@parley', 'client', 'dist', 'index.js')).href);
    expect(out.maxText).toBe(4000);
    expect(out.message).toEqual({ room: 'lobby', from: 'alice', seq: out.ack.seq, text: 'from the tarball' });
    expect(out.group.owner).toBe('alice');
    expect(out.group.room).toMatch(/^grp:/);
    expect(out.group.members).toEqual(['alice', 'bob']);
  }, 120_000);
});
