/**
 * REST routes from their specs (src/openapi/spec.ts): each route's path parameters, query and JSON
 * body are validated with the spec's valibot schemas before its handler runs, and the same specs
 * make the OpenAPI document. A refused input is 400 `invalid_request` naming the field; a body over
 * `LIMITS.restBodyBytes` is 413 `too_large`.
 */
import { type Context, type Env, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import { LIMITS } from '@parley/client/wire';
import { AppError } from '../src/errors.ts';
import type { FieldsSchema, RouteSpec, SpecGroup } from '../src/openapi/spec.ts';
import { describeIssue } from '../src/protocol/inbound.ts';

/** The 403 of a route on a room. */
export const ROOM_FORBIDDEN = 'A direct room of two other users, or a group the caller is not a member of (unknown groups too)';

type Out<S> = S extends v.GenericSchema ? v.InferOutput<S> : undefined;

/** A handler's validated inputs. */
export type Input<P, Q, B> = { params: Out<P>; query: Out<Q>; body: Out<B> };

const limit = bodyLimit({
  maxSize: LIMITS.restBodyBytes,
  onError: () => {
    throw new AppError('too_large', `the body is larger than ${LIMITS.restBodyBytes} bytes`);
  },
});

function parse<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const parsed = v.safeParse(schema, value);
  if (!parsed.success) throw new AppError('invalid_request', describeIssue(parsed.issues[0]));
  return parsed.output;
}

async function json(c: Context): Promise<unknown> {
  return c.req.json().catch(() => {
    throw new AppError('invalid_request', 'the body is not JSON');
  });
}

async function inputs(c: Context, spec: RouteSpec): Promise<Input<FieldsSchema, FieldsSchema, v.GenericSchema>> {
  return {
    params: spec.params ? parse(spec.params, c.req.param()) : {},
    query: spec.query ? parse(spec.query, c.req.query()) : {},
    body: spec.body ? parse(spec.body, await json(c)) : undefined,
  };
}

/** One group of routes: a Hono app to mount, and its specs for the document. */
export class RestRoutes<E extends Env = Env> implements SpecGroup {
  readonly app = new Hono<E>();
  readonly specs: RouteSpec[] = [];

  constructor(
    readonly tag: string,
    /** Mounted behind `requireUser` (routes/auth.ts). */
    readonly auth: boolean,
  ) {}

  /** Registers `spec`; `handler` gets the inputs validated by the spec's schemas. */
  add<P extends FieldsSchema | undefined = undefined, Q extends FieldsSchema | undefined = undefined, B extends v.GenericSchema | undefined = undefined>(
    spec: RouteSpec<P, Q, B>,
    handler: (c: Context<E>, input: Input<P, Q, B>) => Response | Promise<Response>,
  ): this {
    this.specs.push(spec);
    const run = async (c: Context<E>) => handler(c, (await inputs(c, spec)) as Input<P, Q, B>);
    const method = spec.method.toUpperCase();
    if (spec.body) this.app.on(method, spec.path, limit, run);
    else this.app.on(method, spec.path, run);
    return this;
  }
}
