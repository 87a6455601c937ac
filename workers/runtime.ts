/**
 * The process around a worker, used only by the entry files (`presence.ts`, `archive.ts`): reads
 * the environment, serves `/health` and `/metrics`, stops cleanly on SIGTERM or SIGINT (finishes
 * the batch in hand, acknowledges it, gives leases back, exits 0) and exits 1 when it cannot start.
 * Runs on Node and Deno alike (only `node:` modules both provide). Everything else is
 * runtime-neutral: `run.ts` and the jobs.
 */
import { createServer } from 'node:http';
import process from 'node:process';
import { collectDefaultMetrics } from 'prom-client';
import { ConfigError } from '../src/config.ts';
import { configureLog, log } from '../src/log.ts';
import { redact } from '../src/mongo/connection.ts';
import { type WorkerConfig, type WorkerKind, loadWorkerConfig } from './config.ts';
import { type Job, type WorkerContext, WorkerLoop, openContext } from './run.ts';

export async function runWorker(kind: WorkerKind, makeJob: (ctx: WorkerContext) => Job): Promise<void> {
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig(kind, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`parley ${kind} worker: ${err.message}`);
    process.exit(1);
  }
  configureLog(config.logLevel, { worker: kind, consumer: config.workerId });

  let opened: Awaited<ReturnType<typeof openContext>>;
  try {
    opened = await openContext(kind, config);
  } catch (err) {
    log.error('start failed', { err });
    process.exit(1);
  }
  const { ctx } = opened;
  try {
    collectDefaultMetrics({ register: ctx.registry });
  } catch {
    // Some runtimes lack parts of the process API the default collectors read.
  }
  const loop = new WorkerLoop(kind, config, makeJob(ctx));

  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      ctx.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': ctx.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (req.url === '/health') {
      const { ok, body } = loop.health();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info('worker started', { port, redis: config.redisNodes.join(','), mongo: redact(config.mongoUrl) });
  loop.start();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: finishing the batch in hand', { signal });
    await loop.stop();
    server.close();
    await opened.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
