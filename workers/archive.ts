/**
 * The archive worker: `npm run worker:archive` (Node) or `deno task worker:archive`.
 * Copies room logs from Redis into MongoDB (`parley.messages`), so that history outlives the hot
 * window. Environment: see `config.ts`; REDIS_CLUSTER_NODES and MONGO_URL are required.
 */
import { archiveJob } from './archive-job.ts';
import { runWorker } from './runtime.ts';

await runWorker('archive', archiveJob);
