/**
 * Checking a credential: dev mode trusts a valid name, jwt mode verifies an HS256 token. Shared by
 * REST (routes/auth.ts), the WebSocket upgrade and the WebSocket `auth` frame.
 */
import { verify } from 'hono/jwt';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { isUserName } from '@parley/client/wire';

export type Credentials = { user?: string | null | undefined; token?: string | null | undefined };

/** Who a credential names, and until when (the token's `exp`, in seconds; absent: never expires). */
export type Identity = { user: string; exp?: number };

/** A refused credential; `expired` for a well-signed token whose `exp` has passed. */
export class Unauthorized extends AppError {
  constructor(
    message: string,
    readonly expired = false,
  ) {
    super('unauthorized', message);
  }
}

/** Resolves who the credential names; throws `Unauthorized` on a missing, malformed or expired one. */
export async function identify(auth: Config['auth'], cred: Credentials): Promise<Identity> {
  if (auth.mode === 'dev') {
    const user = cred.user ?? '';
    if (!isUserName(user)) throw new Unauthorized('a valid user name is required');
    return { user };
  }
  const token = cred.token;
  if (!token) throw new Unauthorized('a bearer token is required');
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, auth.secret, 'HS256');
  } catch (err) {
    if (err instanceof Error && err.name === 'JwtTokenExpired') throw new Unauthorized('the token has expired', true);
    throw new Unauthorized('the token is invalid');
  }
  const sub = payload['sub'];
  if (typeof sub !== 'string' || !isUserName(sub)) {
    throw new Unauthorized('the token has no valid "sub"');
  }
  const exp = payload['exp'];
  return typeof exp === 'number' && Number.isFinite(exp) ? { user: sub, exp } : { user: sub };
}
