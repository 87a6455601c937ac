/** Lua scripts for the Redis implementations of the seams: sent by SHA, loaded on demand. */
import { createHash } from 'node:crypto';
import type { Cluster } from 'ioredis';

/** A Lua script and its SHA-1. */
export type Script = { readonly lua: string; readonly sha: string };

/** Wraps Lua source; the SHA is computed once. */
export function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs a script; `keys` must share one hash tag (one slot). A node that has not seen the script yet
 * answers `NOSCRIPT` once, and gets the source. Each call is its own write to the node (the Cluster
 * client does not auto-pipeline: see bench/NOTES.md).
 */
export async function runScript(redis: Cluster, s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return await redis.eval(s.lua, keys.length, ...keys, ...args);
  }
}
