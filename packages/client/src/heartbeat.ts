/**
 * The application heartbeat (docs/protocol.md `heartbeat` frames): every interval send
 * `{"type":"heartbeat","id":n}`; an answer `{"id":n,"success":true}` must come within `retryDelay`,
 * else the same frame is resent, up to `maxRetries` times; after that the connection counts as
 * broken. A half-open TCP connection sends nothing back and never closes by itself: this is how the
 * client notices it.
 */
import type { Timers } from './types.ts';

export type HeartbeatDeps = {
  timers: Timers;
  retryDelay: number;
  maxRetries: number;
  send(id: number): void;
  /** No answer after all retries: close the connection and reconnect. Called once per start. */
  broken(): void;
};

export class Heartbeat {
  #nextId = 0;
  #pending: number | null = null;
  #retries = 0;
  #tick: unknown = null;
  #retry: unknown = null;

  constructor(private readonly deps: HeartbeatDeps) {}

  /** Starts beating every `intervalMs`, the first beat one interval from now; restarts if running. */
  start(intervalMs: number): void {
    this.stop();
    const beat = (): void => {
      this.#tick = this.deps.timers.setTimeout(beat, intervalMs);
      // A round still waiting for its answer is already being retried; don't start another.
      if (this.#pending === null) this.#round();
    };
    this.#tick = this.deps.timers.setTimeout(beat, intervalMs);
  }

  /** Stops beating and forgets any round in flight. */
  stop(): void {
    if (this.#tick !== null) this.deps.timers.clearTimeout(this.#tick);
    if (this.#retry !== null) this.deps.timers.clearTimeout(this.#retry);
    this.#tick = this.#retry = this.#pending = null;
  }

  /** The server answered heartbeat `id`; answers to other ids (late ones) are ignored. */
  answer(id: unknown): void {
    if (this.#pending === null || id !== this.#pending) return;
    this.#pending = null;
    if (this.#retry !== null) this.deps.timers.clearTimeout(this.#retry);
    this.#retry = null;
  }

  #round(): void {
    this.#pending = ++this.#nextId;
    this.#retries = 0;
    this.deps.send(this.#pending);
    this.#armRetry();
  }

  #armRetry(): void {
    this.#retry = this.deps.timers.setTimeout(() => {
      this.#retry = null;
      if (this.#pending === null) return;
      if (this.#retries < this.deps.maxRetries) {
        this.#retries++;
        this.deps.send(this.#pending);
        this.#armRetry();
        return;
      }
      this.stop();
      this.deps.broken();
    }, this.deps.retryDelay);
  }
}
