/**
 * The chaos run's sizes. `smoke` runs in CI (about two minutes, every fault kind once); `medium`
 * proves the harness at a few hundred users; `soak` is the million messages, run by hand.
 */
export type FaultKind = 'instance-kill' | 'instance-drain' | 'redis-failover' | 'presence-kill' | 'archive-kill' | 'mongo-restart' | 'reconnect-storm';

export const FAULT_KINDS: readonly FaultKind[] = ['instance-kill', 'instance-drain', 'redis-failover', 'presence-kill', 'archive-kill', 'mongo-restart', 'reconnect-storm'];

export type ChaosSize = {
  name: string;
  instances: number;
  users: number;
  /** Public rooms; each user joins `roomsPerUser` of them. */
  rooms: number;
  roomsPerUser: number;
  /** Private groups: an owner and `groupMembers` members, with members added and removed during the run. */
  groups: number;
  groupMembers: number;
  /** Actions per second over all users (sends, edits, deletes, reactions, reads). */
  rate: number;
  /** How long faults are injected and traffic runs; `soak` stops early once `messages` were acknowledged. */
  stormMs: number;
  /** Seconds between two faults: a seeded draw from this range. */
  faultEveryMs: [number, number];
  /** After the storm: how long everything runs without a fault before the second check. */
  quietMs: number;
  heartbeatMs: number;
  /** The run stops sending once this many text messages were acknowledged (0: run for `stormMs`). */
  messages: number;
};

export const SIZES: Record<string, ChaosSize> = {
  smoke: {
    name: 'smoke', instances: 3, users: 150, rooms: 10, roomsPerUser: 2, groups: 3, groupMembers: 6,
    rate: 120, stormMs: 58_000, faultEveryMs: [6500, 8000], quietMs: 12_000, heartbeatMs: 2000, messages: 0,
  },
  medium: {
    name: 'medium', instances: 4, users: 600, rooms: 40, roomsPerUser: 3, groups: 10, groupMembers: 8,
    rate: 300, stormMs: 240_000, faultEveryMs: [10_000, 20_000], quietMs: 20_000, heartbeatMs: 3000, messages: 0,
  },
  soak: {
    name: 'soak', instances: 4, users: 2000, rooms: 400, roomsPerUser: 2, groups: 40, groupMembers: 8,
    rate: 800, stormMs: 3_600_000, faultEveryMs: [10_000, 20_000], quietMs: 30_000, heartbeatMs: 5000, messages: 1_000_000,
  },
};

/** A small seeded generator (mulberry32), so that a seed replays the same schedule and traffic mix. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
