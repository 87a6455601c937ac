/**
 * The README's Deno quick start, run as a user runs it: `npx deno task start` (and the workers'
 * tasks) from the repository root after `npm install`. The tasks must start the project's Deno on
 * the entry point, not have the task runner run the npm package's native `deno` binary as
 * JavaScript (a SyntaxError), which is what a plain `deno run …` in deno.json resolves to once
 * node_modules/.bin/deno exists.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, sleep } from './server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One `npx deno task …` run, in a process group of its own (npx, sh, deno task, deno run). */
type Run = { child: ChildProcess; pgid: number; exited: Promise<number | null>; stdout(): string; stderr(): string };

const runs: Run[] = [];

function npxDenoTask(task: string, env: NodeJS.ProcessEnv): Run {
  const child = spawn('npx', ['deno', 'task', task], {
    cwd: ROOT,
    env: { ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that the task's children can be found and stopped with it.
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const run = { child, pgid: child.pid ?? -1, exited, stdout: () => out, stderr: () => err };
  runs.push(run);
  return run;
}

/** Live (not zombie) processes in process group `pgid`, from /proc. */
function livingInGroup(pgid: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses.
    const close = stat.lastIndexOf(')');
    const [state, , pgrp] = stat.slice(close + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') found.push(`${pid} ${stat.slice(stat.indexOf('(') + 1, close)}`);
  }
  return found;
}

/** Waits until no process of the group is alive; returns those still alive after `timeoutMs`. */
async function groupGone(pgid: number, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = livingInGroup(pgid);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(100);
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

afterEach(async () => {
  // A failed test may leave its run behind: kill it hard rather than leak a server.
  for (const run of runs.splice(0)) {
    if (livingInGroup(run.pgid).length > 0) killGroup(run.pgid, 'SIGKILL');
    await groupGone(run.pgid, 5000);
  }
});

/** The environment without the variables the test is about. */
function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of names) delete env[name];
  return env;
}

describe('Deno quick start (npx deno task …)', () => {
  it("the README's Deno quick start serves /health, and stopping it leaves no process behind", async () => {
    const port = await freePort();
    const run = npxDenoTask('start', { ...envWithout('HOST', 'PORT'), PORT: String(port) });
    let exitCode: number | null | undefined;
    void run.exited.then((code) => (exitCode = code));
    const output = () => `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`;

    // Deno's first start may download and compile: be generous.
    let health: { status: number; body: Record<string, unknown> } | undefined;
    const deadline = Date.now() + 55_000;
    while (!health && Date.now() < deadline) {
      if (exitCode !== undefined) throw new Error(`\`npx deno task start\` exited with ${exitCode} before it served /health:\n${output()}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        health = { status: res.status, body: (await res.json()) as Record<string, unknown> };
      } catch {
        await sleep(200); // not listening yet
      }
    }
    expect(health, `no answer on /health within 55 s:\n${output()}`).toBeDefined();
    expect(health?.status, output()).toBe(200);
    expect(health?.body).toMatchObject({ status: 'ok' });
    expect(run.stderr()).not.toContain('SyntaxError');

    // Ctrl-C in a terminal signals the whole foreground group; SIGTERM to the group likewise.
    killGroup(run.pgid, 'SIGTERM');
    const left = await groupGone(run.pgid, 15_000);
    expect(left, `still running 15 s after SIGTERM to the group:\n${output()}`).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  }, 90_000);

  it('`deno task worker:presence` without REDIS_CLUSTER_NODES exits with one line naming it, not a SyntaxError', async () => {
    const run = npxDenoTask('worker:presence', envWithout('REDIS_CLUSTER_NODES', 'MONGO_URL'));
    const timer = setTimeout(() => killGroup(run.pgid, 'SIGKILL'), 55_000);
    const code = await run.exited.finally(() => clearTimeout(timer));
    const stderr = run.stderr();
    expect(stderr).not.toContain('SyntaxError');
    expect(stderr).toMatch(/^parley presence worker: REDIS_CLUSTER_NODES: required$/m);
    expect(code, stderr).not.toBe(0);
    expect(code, stderr).not.toBeNull();
    expect(await groupGone(run.pgid, 5000)).toEqual([]);
  }, 60_000);
});
