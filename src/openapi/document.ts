/**
 * The OpenAPI 3.1 document of the REST API, generated from the route specs (`spec.ts`) and the
 * valibot schemas they name: nothing in it is written by hand but prose. Served at `/openapi.json`.
 */
import type * as v from 'valibot';
import { type ConversionConfig, type JsonSchema, toJsonSchema, toJsonSchemaDefs } from '@valibot/to-json-schema';
import { NAMED, errorWith } from './schemas.ts';
import { type Answer, type FieldsSchema, REFUSALS, type RefusalStatus, RETRY_AFTER, type RouteSpec, type SpecGroup } from './spec.ts';

type Json = Record<string, unknown>;

const DESCRIPTION = `parley's REST API: room history and posting, presence, conversations, private groups and read
positions, beside the WebSocket at \`GET /ws\` (its frames are described in docs/protocol.md, not here).

**Authentication.** With \`AUTH_MODE=dev\` a request names its user in the \`X-User\` header. With
\`AUTH_MODE=jwt\` it carries \`Authorization: Bearer <token>\`, an HS256 token whose \`sub\` is the user
(\`exp\` is honoured). Only one of the two applies, as the instance is configured.

**Errors.** Every refusal is \`{"error":{"code","message"}}\`; the code fits the status (400
\`invalid_request\`, 401 \`unauthorized\`, 403 \`forbidden\`, 404 \`not_found\`, 409 \`conflict\`, 413
\`too_large\`, 429 \`rate_limited\`, 503 \`unavailable\`). 429 and 503 carry \`Retry-After\` in seconds.
A path or method that is not listed here answers 404 \`not_found\` (under \`/v1/\`, 401 first without a
valid credential).

Clients must ignore fields they do not know: answers may gain fields.`;

const REFUSAL_TEXT: Record<RefusalStatus, string> = {
  400: 'A path parameter, the query or the body is not valid',
  401: 'The credential is missing, malformed or expired',
  403: 'The caller may not use this room or group',
  404: 'Nothing here',
  409: 'In conflict with the current state',
  413: 'The body is larger than 64 KiB',
  429: 'Too many requests: retry after `Retry-After` seconds',
  503: 'A backend (Redis Cluster, MongoDB) is unreachable: retry after `Retry-After` seconds',
};

const ref = (name: string) => `#/components/schemas/${name}`;

/** Named schemas become `$ref`s to `components/schemas`. */
const CONVERSION: ConversionConfig = {
  target: 'draft-2020-12',
  definitions: NAMED,
  overrideRef: (ctx) => ref(ctx.referenceId),
  // Inputs are documented as sent: before the trimming and number parsing the routes do.
  typeMode: 'input',
  // The room check adds only the sorted order of a direct room's users to its documented pattern.
  ignoreActions: ['trim', 'check'],
};

/** A schema as JSON Schema, without the keys that belong to a document of its own. */
function schemaOf(schema: v.GenericSchema): JsonSchema {
  const { $schema: _s, $defs: _d, ...rest } = toJsonSchema(schema, CONVERSION) as Json;
  return rest as JsonSchema;
}

function parameters(schema: FieldsSchema | undefined, where: 'path' | 'query'): Json[] {
  if (!schema) return [];
  const js = schemaOf(schema) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: where,
      required: where === 'path' || (js.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

const RETRY_AFTER_HEADER = { headers: { 'Retry-After': { $ref: '#/components/headers/Retry-After' } } };

function answer(a: Answer): Json {
  const head = { description: a.description, ...(a.retryAfter ? RETRY_AFTER_HEADER : {}) };
  if (a.body) return { ...head, content: { 'application/json': { schema: schemaOf(a.body) } } };
  if (a.type) return { ...head, content: { [a.type]: { schema: { type: 'string' } } } };
  return head;
}

/** The refusals a route can answer: those it names, and those that follow from its shape. */
export function refusals(spec: RouteSpec, auth: boolean): Partial<Record<RefusalStatus, string>> {
  const implied: Partial<Record<RefusalStatus, string>> = {};
  if (spec.params || spec.query || spec.body) implied[400] = REFUSAL_TEXT[400];
  if (auth) implied[401] = REFUSAL_TEXT[401];
  if (spec.body) implied[413] = REFUSAL_TEXT[413];
  if (auth) implied[503] = REFUSAL_TEXT[503];
  return { ...implied, ...spec.refuses };
}

function refusal(status: RefusalStatus, description: string): Json {
  return {
    description,
    ...(RETRY_AFTER.includes(status) ? RETRY_AFTER_HEADER : {}),
    content: { 'application/json': { schema: schemaOf(errorWith(REFUSALS[status])) } },
  };
}

function operation(spec: RouteSpec, group: SpecGroup): Json {
  const responses: Json = {};
  for (const [status, a] of Object.entries(spec.ok)) responses[status] = answer(a);
  const refused = refusals(spec, group.auth);
  for (const status of Object.keys(refused).map(Number) as RefusalStatus[]) responses[status] = refusal(status, refused[status] as string);
  responses['default'] = { description: 'An unexpected failure (500 `internal`)', content: { 'application/json': { schema: { $ref: ref('Error') } } } };
  const params = [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')];
  return {
    operationId: spec.id,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [group.tag],
    // Either scheme, whichever AUTH_MODE the instance runs with; none for the unauthenticated routes.
    security: group.auth ? [{ devUser: [] }, { bearer: [] }] : [],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(spec.body) } } } } : {}),
    responses,
  };
}

/** `/v1/groups/:id` → `/v1/groups/{id}`. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** Builds the document. Pure: the same groups give the same document. */
export function openApiDocument(groups: readonly SpecGroup[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const group of groups) {
    for (const spec of group.specs) (paths[openApiPath(spec.path)] ??= {})[spec.method] = operation(spec, group);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'parley', version, description: DESCRIPTION },
    tags: groups.map((g) => ({ name: g.tag })).filter((t, i, all) => all.findIndex((o) => o.name === t.name) === i),
    paths,
    components: {
      schemas: toJsonSchemaDefs(NAMED, CONVERSION),
      headers: {
        'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'string', pattern: '^[0-9]+$' } },
      },
      securitySchemes: {
        devUser: { type: 'apiKey', in: 'header', name: 'X-User', description: '`AUTH_MODE=dev`: the user name itself (`^[A-Za-z0-9_.-]{1,32}$`)' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: '`AUTH_MODE=jwt`: an HS256 token whose `sub` is the user' },
      },
    },
  };
}
