/**
 * A tiny typed event emitter: the client's only way of telling the application what happened.
 * Runtime-neutral (no Node `EventEmitter`), so the same client runs in browsers and Deno.
 */

export type Listener<P> = (payload: P) => void;

export class Emitter<Events extends object> {
  // One set per event name; a Set keeps registration order and ignores double registration.
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Registers `fn` for `event`; returns a function that unregisters it. */
  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as Listener<never>);
    return () => this.off(event, fn);
  }

  /** Unregisters `fn`; a no-op when it was not registered. */
  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(fn as Listener<never>);
  }

  /**
   * Calls every listener of `event` in registration order. A throwing listener does not stop the
   * others nor the caller (the client is in the middle of handling a frame): its error is rethrown
   * from a microtask so it still surfaces as an uncaught error.
   */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<Events[K]>)(payload);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
