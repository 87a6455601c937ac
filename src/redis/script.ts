/**
 * Lua scripts for the Redis implementations of the seams: sent by SHA, loaded on every node as soon
 * as the client connects to it.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A Lua script and its SHA-1. */
export type Script = { readonly lua: string; readonly sha: string };

/** Every script made with `script()`, by SHA: what `loadScriptsOnEveryNode` loads. */
const known = new Map<string, string>();

/** Wraps Lua source; the SHA is computed once. */
export function script(lua: string): Script {
  const s = { lua, sha: createHash('sha1').update(lua).digest('hex') };
  known.set(s.sha, lua);
  return s;
}

/**
 * Loads every known script on each node the cluster client connects to, as that connection's first
 * commands. Without it, the first call of a script on a node fails with `NOSCRIPT` and is sent
 * again with its source after a round trip, while later commands on the same node (a
 * disconnect behind a connect, a user's second message behind the first) overtake it.
 */
export function loadScriptsOnEveryNode(cluster: Cluster): void {
  const load = (node: Redis) => {
    for (const lua of known.values()) node.script('LOAD', lua).catch(() => undefined);
  };
  for (const node of cluster.nodes('all')) load(node);
  cluster.on('+node', load);
}

/**
 * Runs a script; `keys` must share one hash tag (one slot). A node that has not seen the script
 * (restarted with an empty script cache) answers `NOSCRIPT` once, and gets the source.
 */
export async function runScript(redis: Cluster, s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return await redis.eval(s.lua, keys.length, ...keys, ...args);
  }
}
