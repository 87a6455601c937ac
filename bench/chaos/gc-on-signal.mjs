// Loaded into the chaos run's chat instances (with --expose-gc): SIGUSR2 runs the collection V8
// runs when the system is low on memory. It frees what is garbage and gives the freed pages back to
// the system, so the memory check compares what the process holds, not garbage V8 has yet to
// collect or pages it keeps for later (a plain full collection leaves those resident).
process.on('SIGUSR2', () => globalThis.gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' }));
