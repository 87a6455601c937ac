/**
 * The named sizes of each scenario (`npm run bench -- <scenario> <size>`). Rates are messages/s sent
 * in total (bench/run.ts shares them among its load processes); a size with several steps sweeps the
 * rate upwards, each step measured on its own.
 */
export type Scenario = 'chat' | 'history' | 'storm';
export type Size = {
  users: number;
  roomSize: number;
  steps: { rate: number; seconds: number }[];
  instances: number;
  /** HAProxy processes on the balancer port: each holds at most 9,900 proxied connections. */
  haproxy: number;
  /** Seconds to open every socket, then seconds of quiet before sending starts (memory is read then). */
  rampS: number;
  settleS: number;
  /** The threshold on the p99 delivery latency (k6's, and the driver's by the same name). */
  p99Ms: number;
  /** k6 only: sockets per VU (default 1,250): one VU runs its callbacks on one thread. */
  socketsPerVu?: number;
  /** k6 only: feed 1 in N deliveries to k6's Trend (k6's own metric pipeline costs CPU at high rates). */
  sampleEvery?: number;
  /** storm: seconds after sending starts at which bench/run.ts kills one instance with SIGKILL. */
  killAfterS?: number;
  /**
   * Extra scenario settings (k6's -e, the driver's environment). DRAIN_S (default 3) is how long the scenario keeps counting deliveries
   * after the last send: a delivery later than that counts as lost, so sizes whose latency runs
   * to seconds wait longer.
   */
  k6Env?: Record<string, string>;
  serverEnv?: Record<string, string>;
  note?: string;
};

const steps = (rates: number[], seconds: number) => rates.map((rate) => ({ rate, seconds }));

export const SIZES: Record<Scenario, Record<string, Size>> = {
  chat: {
    smoke: { users: 200, roomSize: 10, steps: steps([20], 10), instances: 2, haproxy: 1, rampS: 3, settleS: 3, p99Ms: 1000, note: 'CI: 200 users, rooms of 10, 20 msg/s for 10 s' },
    '1k': { users: 1000, roomSize: 10, steps: steps([100], 30), instances: 4, haproxy: 1, rampS: 10, settleS: 5, p99Ms: 20, note: '1,000 users, rooms of 10, each sends every 10 s' },
    '5k': { users: 5000, roomSize: 10, steps: steps([500], 30), instances: 4, haproxy: 1, rampS: 20, settleS: 5, p99Ms: 20, note: '5,000 users, rooms of 10, each sends every 10 s' },
    '10k': { users: 10_000, roomSize: 10, steps: steps([1000], 60), instances: 4, haproxy: 2, rampS: 30, settleS: 8, p99Ms: 20, sampleEvery: 4, k6Env: { DRAIN_S: '15' }, note: 'target: 10,000 users, rooms of 10, 1,000 msg/s' },
    '20k': { users: 20_000, roomSize: 10, steps: steps([1000], 60), instances: 4, haproxy: 3, rampS: 60, settleS: 10, p99Ms: 100, sampleEvery: 4, k6Env: { DRAIN_S: '30' }, note: 'target: 20,000 concurrent users through the balancer, 1,000 msg/s' },
    fanout: {
      users: 1000, roomSize: 100, steps: steps([100, 250, 500, 1000, 1500, 2000], 15), instances: 4, haproxy: 1, rampS: 10, settleS: 5, p99Ms: 100, sampleEvery: 20, socketsPerVu: 125, k6Env: { DRAIN_S: '10' },
      serverEnv: { BATCH_WINDOW_MS: '50' },
      note: 'target: 1,000 users in 10 rooms of 100, the rate swept from 100 to 2,000 msg/s (10,000 to 200,000 deliveries/s); parley batches for up to 50 ms (BATCH_WINDOW_MS)',
    },
  },
  history: {
    smoke: { users: 200, roomSize: 10, steps: steps([20], 12), instances: 2, haproxy: 1, rampS: 3, settleS: 3, p99Ms: 1000, k6Env: { AWAY_S: '4', AWAY_SHARE: '0.5' }, note: 'CI: half the users leave for 4 s and catch up over REST' },
    '5k': { users: 5000, roomSize: 10, steps: steps([500], 30), instances: 4, haproxy: 1, rampS: 20, settleS: 5, p99Ms: 100, k6Env: { AWAY_S: '10', AWAY_SHARE: '0.2' }, note: '5,000 users; a fifth of them away for 10 s, then reconnect and catch up over REST' },
  },
  storm: {
    smoke: { users: 200, roomSize: 10, steps: steps([20], 15), instances: 2, haproxy: 1, rampS: 3, settleS: 3, p99Ms: 10_000, killAfterS: 4, note: 'CI: one of 2 instances killed while 200 users chat' },
    '10k': { users: 10_000, roomSize: 10, steps: steps([500], 45), instances: 4, haproxy: 2, rampS: 30, settleS: 8, p99Ms: 10_000, sampleEvery: 4, killAfterS: 10, k6Env: { DRAIN_S: '15' }, note: '10,000 users; one of 4 instances killed (SIGKILL) 10 s into sending; its users reconnect and resume' },
  },
};
