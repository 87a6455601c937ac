/** Helpers shared by the contract suites: unique names, waiting for asynchronous delivery. */

/** A name no other test (or earlier run against a shared backend) uses: `prefix-xxxxxxxx`. */
export function uid(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `cond` holds; fails with `what` after `timeoutMs` (delivery may be asynchronous). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Keeps what a factory made during one test and cleans it up afterwards. */
export class Resources {
  readonly #cleanups: (() => Promise<void>)[] = [];

  track<T extends { cleanup(): Promise<void> }>(made: T): T {
    this.#cleanups.push(() => made.cleanup());
    return made;
  }

  async cleanup(): Promise<void> {
    const all = this.#cleanups.splice(0);
    await Promise.allSettled(all.map((fn) => fn()));
  }
}
