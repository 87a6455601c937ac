// Loaded into the chaos run's chat instances (with --expose-gc). On SIGUSR2 it runs a full garbage
// collection and at once writes what the process holds then to `$PARLEY_MEMORY_DIR/<pid>.json`:
// resident memory and heap in use, before the traffic of the next moments adds garbage again.
// The resident figure still counts pages V8 keeps after collecting (bench/chaos/NOTES.md).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

process.on('SIGUSR2', () => {
  globalThis.gc?.();
  const dir = process.env.PARLEY_MEMORY_DIR;
  if (!dir) return;
  const m = process.memoryUsage();
  writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, at: Date.now() }));
});
