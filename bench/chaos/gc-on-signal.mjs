// Loaded into the chaos run's chat instances (with --expose-gc): SIGUSR2 runs a full garbage
// collection, so that the memory check compares live memory, not garbage V8 has yet to collect.
process.on('SIGUSR2', () => globalThis.gc?.());
