/**
 * Everything `npm test` needs beyond `npm install`, installed when missing (it runs as `pretest`, and
 * `.ci/run` runs it too):
 *
 * - Debian packages: `redis-server` (the Redis Clusters the tests start), `chromium` (the browser
 *   test), `haproxy` and `nginx` (the whole-topology stacks), `iproute2` (`ss`, the listen-backlog
 *   test). Installed with apt-get when running as root; otherwise one line names what is missing and
 *   the command that installs it, and the tests do not start.
 * - Built with Go (≥ 1.26; Debian 12's golang-go is too old) into `.data/bin/`: the local
 *   MongoDB-compatible server (`infra/mongo/`), k6 (`bench/k6/build.ts`), and helm with the
 *   manifest validator that check the Helm chart (`deploy/helm/build.ts`), each once; the lean load
 *   driver (`bench/driver/build.ts`), again whenever its sources change.
 *
 * Quick when everything is there: a few `command -v` checks and two version checks.
 *
 *   npm run setup            (or: npx tsx scripts/setup.ts)
 *   npm run test:unit        needs none of this
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { buildDriver } from '../bench/driver/build.ts';
import { buildK6 } from '../bench/k6/build.ts';
import { buildHelm, buildValidator } from '../deploy/helm/build.ts';
import { build as buildMongo } from '../infra/mongo/server.ts';

/** A Debian package and how to tell it is installed (a command, or a file in an sbin directory). */
type Need = { pkg: string; command: string };

const NEEDS: Need[] = [
  { pkg: 'redis-server', command: 'redis-server' },
  { pkg: 'chromium', command: 'chromium' },
  { pkg: 'haproxy', command: 'haproxy' },
  { pkg: 'nginx', command: 'nginx' },
  { pkg: 'iproute2', command: 'ss' },
];

/** Where Debian puts the daemons, which not every user has on PATH. */
const SBIN = ['/usr/sbin', '/sbin', '/usr/local/sbin'];
/** Where Go's own installer puts it, which is not always on PATH either. */
const GO_BIN = '/usr/local/go/bin';

const say = (line: string) => console.error(`parley setup: ${line}`);

function has(command: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0) return true;
  return SBIN.some((dir) => existsSync(`${dir}/${command}`));
}

/** Installs the missing Debian packages; false (after one line saying why) when it cannot. */
function installPackages(): boolean {
  const missing = NEEDS.filter((n) => !has(n.command)).map((n) => n.pkg);
  if (missing.length === 0) return true;
  const install = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get')) {
    const how = has('apt-get') ? `sudo apt-get update && sudo ${install}` : `your system's packages for ${missing.join(', ')}`;
    say(`missing ${missing.join(', ')}; install with: ${how}`);
    return false;
  }
  say(`installing ${missing.join(', ')} with apt-get …`);
  const started = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const still = NEEDS.filter((n) => !has(n.command)).map((n) => n.pkg);
  if (still.length > 0) {
    say(`apt-get installed ${missing.join(', ')} but ${still.join(', ')} is still missing`);
    return false;
  }
  say(`installed ${missing.join(', ')} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return true;
}

/** Go on PATH (from /usr/local/go when it is only there); false (after one line) when there is none. */
function findGo(): boolean {
  if (!has('go') && existsSync(`${GO_BIN}/go`)) process.env['PATH'] = `${GO_BIN}:${process.env['PATH'] ?? ''}`;
  if (has('go')) return true;
  say("missing Go ≥ 1.26 (to build the local MongoDB-compatible server, k6, the load driver and helm): install Go's own release into /usr/local/go (Debian 12's golang-go is too old)");
  return false;
}

async function main(): Promise<number> {
  if (!installPackages()) return 1;
  if (!findGo()) return 1;
  const started = Date.now();
  await buildMongo();
  await buildK6(say);
  await buildDriver(say);
  await buildHelm(say);
  await buildValidator(say);
  const took = Date.now() - started;
  if (took > 2000) say(`built what was missing into .data/bin/ in ${(took / 1000).toFixed(0)} s`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    say(err.message);
    process.exit(1);
  },
);
