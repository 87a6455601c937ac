/**
 * A REST route described once: its inputs as the valibot schemas it validates with, its answers as
 * valibot schemas. `routes/rest.ts` registers and validates routes from these; `document.ts` turns
 * the same objects into the OpenAPI document served at `/openapi.json`.
 */
import type * as v from 'valibot';

export type Method = 'get' | 'post' | 'put' | 'delete';

/** A successful answer. */
export type Answer = {
  description: string;
  /** The JSON body's schema. Absent with `type` absent: no body (204). */
  body?: v.GenericSchema;
  /** A body that is not JSON: its media type (the body is then documented as a string). */
  type?: string;
  /** Whether it carries `Retry-After`. */
  retryAfter?: boolean;
};

/** Statuses a route refuses with, each with the error code it carries (src/errors.ts). */
export const REFUSALS = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  429: 'rate_limited',
  503: 'unavailable',
} as const;
export type RefusalStatus = keyof typeof REFUSALS;

/** Refusals that carry `Retry-After` (seconds). */
export const RETRY_AFTER: readonly RefusalStatus[] = [429, 503];

/**
 * An object schema of string fields: path parameters or the query. Each field is one parameter;
 * an optional field is an optional parameter.
 */
export type FieldsSchema = v.GenericSchema<Record<string, string | undefined>, Record<string, unknown>>;

export type RouteSpec<
  P extends FieldsSchema | undefined = FieldsSchema | undefined,
  Q extends FieldsSchema | undefined = FieldsSchema | undefined,
  B extends v.GenericSchema | undefined = v.GenericSchema | undefined,
> = {
  method: Method;
  /** Hono's form: `/v1/groups/:id`. */
  path: string;
  /** A unique name for the operation, camelCase. */
  id: string;
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  /** The JSON body (at most `LIMITS.restBodyBytes`). */
  body?: B;
  /** Successful answers by status. */
  ok: Record<number, Answer>;
  /**
   * What this route's refusals mean here, by status. Those that follow from the route's shape are
   * added when not named: 400 for inputs, 401 and 503 for authenticated routes, 413 for a body.
   */
  refuses?: Partial<Record<RefusalStatus, string>>;
};

/** The routes of one group, as `routes/rest.ts` collects them. */
export type SpecGroup = {
  /** The OpenAPI tag: one section of the reference page. */
  tag: string;
  /** Whether the caller must authenticate (`X-User` in dev mode, a bearer token in jwt mode). */
  auth: boolean;
  specs: readonly RouteSpec[];
};
