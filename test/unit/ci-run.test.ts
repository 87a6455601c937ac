/**
 * `.ci/run` itself, run from a copy in a temporary directory with stand-ins for npm, npx and the
 * tools it prints the versions of: it ends with the one line "N passed, N failed", exits with the
 * tests' status, and fails, with the warnings quoted, when `npm install` warns EBADENGINE.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WARNING = ["npm warn EBADENGINE Unsupported engine {", "npm warn EBADENGINE   package: 'vega-lite@6.5.0',", "npm warn EBADENGINE   required: { node: '>=22' },"];

/** npm as .ci/run calls it: `install`, `run …` (setup, check) and `test …` (writes the JSON report). */
const NPM = `#!/bin/sh
case "$1" in
  install)
    echo "up to date in 1s"
    if [ -n "$FAKE_ENGINE_WARNING" ]; then
${WARNING.map((l) => `      echo "${l}" >&2`).join('\n')}
    fi ;;
  test)
    printf '{"numPassedTests":3,"numFailedTests":%s}' "\${FAKE_FAILED:-0}" > .ci/out/vitest.json
    [ "\${FAKE_FAILED:-0}" = 0 ] ;;
esac
`;

let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-ci-run-'));
  mkdirSync(join(dir, '.ci'));
  copyFileSync(join(ROOT, '.ci/run'), join(dir, '.ci/run'));
  const tool = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
    chmodSync(join(dir, path), 0o755);
  };
  tool('stubs/npm', NPM);
  for (const name of ['npx', 'chromium', 'redis-server', 'haproxy', 'nginx', 'go']) tool(`stubs/${name}`, `#!/bin/sh\necho "${name} 1.0"\n`);
  for (const name of ['k6', 'parley-driver', 'helm']) tool(`.data/bin/${name}`, `#!/bin/sh\necho "${name} 1.0"\n`);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function ciRun(env: Record<string, string> = {}) {
  const r = spawnSync('bash', [join(dir, '.ci/run')], {
    encoding: 'utf8',
    timeout: 15_000,
    env: { PATH: `${join(dir, 'stubs')}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, ...env },
  });
  rmSync(join(dir, '.ci/out'), { recursive: true, force: true });
  const lines = r.stdout.trimEnd().split('\n');
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, last: lines.at(-1) };
}

describe('.ci/run', () => {
  it('passes a clean install with passing tests, ending with the summary line', () => {
    const r = ciRun();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.last).toBe('3 passed, 0 failed');
    expect(r.stdout).not.toMatch(/EBADENGINE/);
  });

  it('exits with the tests’ status when they fail', () => {
    const r = ciRun({ FAKE_FAILED: '2' });
    expect(r.status).toBe(1);
    expect(r.last).toBe('3 passed, 2 failed');
  });

  it('fails when npm install warns EBADENGINE, quoting the warnings, still ending with the summary line', () => {
    const r = ciRun({ FAKE_ENGINE_WARNING: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual(WARNING); // npm's own stderr is passed through
    const error = `error: npm install printed EBADENGINE (a package does not support Node ${process.version}); the run fails:\n${WARNING.join('\n')}\n`;
    // Said right after the install and again just before the summary, which stays the last line.
    expect(r.stdout.split(error)).toHaveLength(3);
    expect(r.stdout.endsWith(`${error}3 passed, 0 failed\n`)).toBe(true);
    const failing = ciRun({ FAKE_ENGINE_WARNING: '1', FAKE_FAILED: '1' });
    expect([failing.status, failing.last]).toEqual([1, '3 passed, 1 failed']);
  });
});
