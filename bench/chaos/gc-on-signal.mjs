// Loaded into the chaos run's chat instances (with --expose-gc). On SIGUSR2 it collects all
// garbage, notes the heap in use, then waits for V8 to hand the freed pages back to the system,
// and writes what the process holds to `$PARLEY_MEMORY_DIR/<pid>.json`.
//
// - The plain `gc()`: on this Node (V8 11.3) the options form, `gc({type: 'major', ...})`, even
//   with the last-resort flavour, left 27 MiB of a dropped 300,000-object array in the heap where
//   `gc()` left 3 MiB; in a chaos run it read 73 MiB where a heap snapshot taken at once held 30.
// - Several rounds, each in a turn of its own, keeping the smallest heap: the first collection
//   frees the objects but V8 gives back the space they took only at a later one.
// - Then a wait: freed pages go back to the system on a background thread within about 100 ms;
//   read at once, the resident figure still counts them (bench/chaos/NOTES.md).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

const ROUNDS = 3;
const RELEASE_WAIT_MS = 1000;

function collect(round, least) {
  globalThis.gc?.();
  const m = process.memoryUsage();
  const kept = !least || m.heapUsed < least.heapUsed ? m : least;
  if (round < ROUNDS) setImmediate(() => collect(round + 1, kept));
  else setTimeout(() => report(kept), RELEASE_WAIT_MS).unref();
}

function report(heap) {
  const dir = process.env.PARLEY_MEMORY_DIR;
  if (!dir) return;
  // To see what a large heap holds: PARLEY_MEMORY_SNAPSHOT_ABOVE_MB keeps a heap snapshot beside it.
  const above = Number(process.env.PARLEY_MEMORY_SNAPSHOT_ABOVE_MB ?? 0);
  if (above > 0 && heap.heapUsed > above * 1048576) writeHeapSnapshot(join(dir, `${process.pid}-${Date.now()}.heapsnapshot`));
  const m = process.memoryUsage();
  // Resident memory split by kind (kB): anonymous pages (heaps, buffers), file pages (code).
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? -1);
  const out = {
    rss: m.rss,
    heapUsed: heap.heapUsed,
    heapTotal: heap.heapTotal,
    external: heap.external,
    arrayBuffers: heap.arrayBuffers,
    rssAnonKiB: kb('RssAnon'),
    rssFileKiB: kb('RssFile'),
    at: Date.now(),
  };
  writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify(out));
}

process.on('SIGUSR2', () => collect(1, null));
