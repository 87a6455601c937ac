/** v1.1: a stored text message with a newer state put on it (both archives store it this way). */
import type { Message } from '@parley/client/wire';
import type { MessageState } from '../rooms/types.ts';
import { showState } from '../rooms/state.ts';

/** `m` (a stored text message) with `state` in place of the state it had. */
export function withState(m: Message, state: MessageState): Message {
  const { edited: _e, deleted: _d, reactions: _r, rev: _v, ...plain } = m;
  // An edit's text replaces the stored one for good; without an edit the stored text stays.
  return showState(plain, state);
}
