/** The service's Prometheus metrics. One registry per app, so several apps can share a process. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { framesEncoded } from './realtime/codec.ts';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(instance: string, storeCounters: () => Record<string, number> = () => ({})) {
  const registry = new Registry();
  registry.setDefaultLabels({ instance });
  try {
    collectDefaultMetrics({ register: registry });
  } catch {
    // Some runtimes lack parts of the process API the default collectors read; ours still work.
  }
  const m = {
    registry,
    connections: new Gauge({ name: 'parley_connections', help: 'Open WebSocket connections', registers: [registry] }),
    connectionsTotal: new Counter({
      name: 'parley_connections_total',
      help: 'WebSocket connections accepted, by encoding (json, msgpack)',
      labelNames: ['encoding'] as const,
      registers: [registry],
    }),
    closes: new Counter({
      name: 'parley_closes_total',
      help: 'WebSocket connections closed, by close code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    framesIn: new Counter({
      name: 'parley_frames_in_total',
      help: 'Inbound WebSocket frames, by type (invalid for unparseable)',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    framesOut: new Counter({
      name: 'parley_frames_out_total',
      help: 'Outbound events, by type, counted per socket (an event inside a batch counts once)',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    wsFramesOut: new Counter({
      name: 'parley_ws_frames_out_total',
      help: 'WebSocket frames written (a batch is one frame)',
      registers: [registry],
    }),
    framesEncoded: new Counter({
      name: 'parley_frames_encoded_total',
      help: 'Outbound frames serialized, by encoding (json, msgpack) and frame type: a room event once per encoding its local receivers speak, however many they are (batches reuse their events\' encodings and are not counted). Counted per process',
      labelNames: ['encoding', 'type'] as const,
      registers: [registry],
      collect() {
        // The counts live in the codec (src/realtime/codec.ts), so that encoding pays no label lookup.
        this.reset();
        for (const { encoding, type, n } of framesEncoded()) this.inc({ encoding, type }, n);
      },
    }),
    dropped: new Counter({
      name: 'parley_dropped_frames_total',
      help: 'Outbound events not delivered, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'parley_errors_total',
      help: 'Error frames and REST errors sent, by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: 'parley_refused_total',
      help: 'Requests and sockets refused by a limit or by authentication, by reason (e.g. conns_per_user; auth_timeout, auth_failed, auth_first, token_expired)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    groupChanges: new Counter({
      name: 'parley_group_changes_total',
      help: 'Group mutations, by operation (create, add, role, remove) and outcome (changed, unchanged, forbidden, conflict)',
      labelNames: ['op', 'outcome'] as const,
      registers: [registry],
    }),
    reads: new Counter({
      name: 'parley_reads_total',
      help: 'Read frames stored, by outcome (moved: the position went forward; unchanged: it was behind or equal)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    readFallbacks: new Counter({
      name: 'parley_read_fallbacks_total',
      help: 'Read positions Redis did not hold, looked up in MongoDB, by outcome (found, none, failed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    appended: new Counter({ name: 'parley_messages_total', help: 'Messages appended', registers: [registry] }),
    deliveryLatency: new Histogram({
      name: 'parley_delivery_latency_seconds',
      help: 'From a message\'s timestamp to its write to the local member sockets',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    loopLag: new Gauge({
      name: 'parley_event_loop_lag_seconds',
      help: 'Event-loop lag: how late the last 500 ms timer fired',
      registers: [registry],
    }),
    rooms: new Gauge({ name: 'parley_local_rooms', help: 'Rooms with local members', registers: [registry] }),
    storeEvents: new Gauge({
      name: 'parley_store_events',
      help: 'What the stores did on their own since start, by event (e.g. log_gap_filled: messages pub/sub lost and the log supplied)',
      labelNames: ['event'] as const,
      registers: [registry],
      collect() {
        for (const [event, n] of Object.entries(storeCounters())) this.set({ event }, n);
      },
    }),
  };
  return m;
}

/** Samples event-loop lag into the gauge; returns a stop function. */
export function watchLoopLag(gauge: Gauge, intervalMs = 500): () => void {
  let expected = Date.now() + intervalMs;
  const timer = setInterval(() => {
    const now = Date.now();
    gauge.set(Math.max(0, now - expected) / 1000);
    expected = now + intervalMs;
  }, intervalMs);
  // Deno and Node both allow a timer that does not hold the process open.
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
