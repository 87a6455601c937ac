/**
 * The presence worker: `npm run worker:presence` (Node) or `deno task worker:presence`.
 * Copies users' online/offline transitions from the Redis presence streams into MongoDB
 * (`parley.users`), and users' read positions from the read position streams (`parley.reads`).
 * Environment: see `config.ts`; REDIS_CLUSTER_NODES and MONGO_URL are required.
 */
import { presenceJob } from './presence-job.ts';
import { readsJob } from './reads-job.ts';
import { Jobs } from './run.ts';
import { runWorker } from './runtime.ts';

await runWorker('presence', (ctx) => new Jobs({ presence: presenceJob(ctx), reads: readsJob(ctx) }));
