/** How a store failure reaches a client: `unavailable` for an outage, `internal` for the rest. */
import { AppError, BackendUnavailable, unavailable } from '../errors.ts';
import { log } from '../log.ts';
import { NotAGroupMember } from '../rooms/types.ts';

/** Maps a store failure to the error a client sees, logging what is not the client's fault. */
export function backendError(op: string, room?: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof AppError) throw err;
    // A group room's append refused in the same step as the append: removed, or never a member.
    if (err instanceof NotAGroupMember) throw new AppError('forbidden', 'not a member of this group');
    if (err instanceof BackendUnavailable) {
      log.warn('backend unavailable', { op, room, err });
      throw unavailable();
    }
    log.error('store failed', { op, room, err });
    throw new AppError('internal', 'internal error');
  };
}
