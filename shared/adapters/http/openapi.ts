/**
 * The OpenAPI 3.1 document of the HTTP API (`GET /v1/openapi.json`), generated from the route declarations alone
 * (shared/app/http/routes.ts): their zod schemas (requests and answers) with `z.toJSONSchema` (JSON Schema 2020-12,
 * which is OpenAPI 3.1's dialect), their query rules' schemas, their problems. Nothing is documented here by hand.
 */
import * as z from 'zod';
import { ROUTE_DECLARATIONS } from '../../app/http/routes';
import type { RouteDoc } from '../../app/kernel/route';
import { MAX_PATH_ID_LENGTH, PATH_ID } from '../../domain/kernel/input';

// ------------------------------------------------------------------ response schemas

const Problem = z
  .object({
    type: z.string().describe('https://callledger.dev/problems/<slug>'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional().describe('Every bad field, named; values are never echoed'),
  })
  .meta({ id: 'Problem' });

/**
 * The one grammar of the api function's path parameters (shared/domain/kernel/input.ts), checked when the route is matched,
 * before authentication or any read. (The webhook's accountId answers 404 unless it names an account.)
 */
const PATH_PARAMETER = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_PATH_ID_LENGTH,
  pattern: PATH_ID.source,
  description: `1 to ${MAX_PATH_ID_LENGTH} visible ASCII characters once percent-decoded; anything else is a 400 naming the parameter`,
};

const PROBLEM_TEXT: Readonly<Record<number, string>> = {
  400: 'Malformed request: every bad parameter or field is named (values are never echoed)',
  401: 'No or unknown bearer API key',
  403: 'Forbidden: a read-only (analyst) key, or a bad webhook signature (Twilio, Telnyx, Vonage, Plivo)',
  404: "No such resource. Another account's resource answers exactly the same (the same body, but for instance)",
  405: 'Method not allowed',
  406: 'Not acceptable: none of the media types in Accept is offered',
  409: 'Conflict: changed concurrently, or not in a state that allows this (a tracking number that routes to another account: tracking-number-unavailable)',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable: valid JSON that breaks a rule (e.g. effectiveFrom too early)',
  503: 'Service unavailable: a dependency (database, queue, storage) is failing or not answering; retry after Retry-After seconds',
};

const RETRY_AFTER_HEADER = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } } };

// ------------------------------------------------------------------ document

type Json = Record<string, unknown>;

type SchemaOf = (schema: z.ZodType, io: 'input' | 'output') => Json;

export function openApiDocument(routes: readonly RouteDoc[] = ROUTE_DECLARATIONS): Json {
  const { schemas, schemaOf } = componentSchemas();
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    // API Gateway's ANY has no OpenAPI counterpart: the methods the declaration names (the providers only POST).
    const methods = route.method === 'ANY' ? (route.anyMethods ?? ['post']) : [route.method.toLowerCase()];
    for (const method of methods) {
      // A GET has no request body.
      const doc = method === 'get' && route.method === 'ANY' ? { ...route, request: undefined, requestForm: undefined, requestText: undefined } : route;
      const op = operationOf(doc, schemaOf);
      const operationId = methods.length > 1 ? `${method}${String(op.operationId).slice('any'.length)}` : op.operationId;
      paths[route.path] = { ...(paths[route.path] ?? {}), [method]: { ...op, operationId } };
    }
  }
  // Registers components.schemas.Problem (what it returns is a reference to it).
  schemaOf(Problem, 'output');
  return {
    openapi: '3.1.0',
    info: { title: 'CallLedger API', version: '1', description: 'Pay-per-call ledger: calls, ledger entries, and the configuration they are rated under.' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key of one account (admin or analyst)' } } },
  };
}

/**
 * Inline JSON Schema with named components lifted into `schemas` (the document's `components.schemas`), in the
 * order they are first met. A named schema whose request form differs from its answer form (defaults make fields
 * optional on input) is kept twice: `<id>` and `<id>Input`.
 */
function componentSchemas(): { readonly schemas: Json; readonly schemaOf: SchemaOf } {
  const schemas: Json = {};
  const schemaOf: SchemaOf = (schema, io) => {
    const generated = io === 'input' ? inputJsonSchema(schema) : jsonSchemaText(schema, io);
    // Named schemas (`.meta({ id })`) come out as `$defs` of each document; OpenAPI keeps them in components.
    const json = JSON.parse(generated.replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
    const { $schema: _schema, $defs, ...rest } = json as Json & { $defs?: Json };
    for (const [id, def] of Object.entries($defs ?? {})) {
      const known = schemas[id];
      if (known !== undefined && JSON.stringify(known) !== JSON.stringify(def)) throw new Error(`openapi: two different schemas are named ${id}`);
      schemas[id] = def;
    }
    return rest;
  };
  return { schemas, schemaOf };
}

const jsonSchemaText = (schema: z.ZodType, io: 'input' | 'output') => JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: 'any' }));

/** The input form of a schema, its named parts that differ from their answer form renamed `<id>Input`. */
function inputJsonSchema(schema: z.ZodType): string {
  let generated = jsonSchemaText(schema, 'input');
  const asOutput = (JSON.parse(jsonSchemaText(schema, 'output')) as { $defs?: Json }).$defs ?? {};
  const asInput = (JSON.parse(generated) as { $defs?: Json }).$defs ?? {};
  const renamed = Object.keys(asInput).filter((id) => JSON.stringify(asInput[id]) !== JSON.stringify(asOutput[id]));
  for (const id of renamed) generated = generated.replaceAll(`"#/$defs/${id}"`, `"#/$defs/${id}Input"`);
  const parsed = JSON.parse(generated) as { $defs?: Json };
  for (const id of renamed) {
    parsed.$defs![`${id}Input`] = parsed.$defs![id];
    delete parsed.$defs![id];
  }
  return JSON.stringify(parsed);
}

/** One route's operation. Its answers' schemas are registered before its request's (the components' order). */
function operationOf(doc: RouteDoc, schemaOf: SchemaOf): Json {
  const params = pathParametersOf(doc);
  const responses = responsesOf(doc, params.length > 0, schemaOf);
  const requestContent = requestContentOf(doc, schemaOf);
  return {
    operationId: `${doc.method.toLowerCase()}${doc.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: doc.summary,
    ...(doc.auth === 'bearer' || doc.auth === 'admin' ? { security: [{ bearer: [] }] } : { security: [] }),
    ...(doc.auth === 'admin' ? { description: 'Needs an API key with role admin; analyst keys get 403.' } : {}),
    parameters: [...params, ...queryParametersOf(doc), ...headerParametersOf(doc)],
    ...(Object.keys(requestContent).length > 0 ? { requestBody: { required: true, content: requestContent } } : {}),
    responses,
  };
}

function pathParametersOf(doc: RouteDoc): Json[] {
  const checked = (doc.fn ?? 'api') === 'api';
  return [...doc.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: checked ? PATH_PARAMETER : { type: 'string' } }));
}

/** Each query parameter with the schema of the rule that parses it. */
function queryParametersOf(doc: RouteDoc): Json[] {
  return Object.entries(doc.query ?? {}).map(([name, rule]) => ({
    name,
    in: 'query',
    required: rule.required === true,
    ...(rule.description === undefined ? {} : { description: rule.description }),
    schema: rule.schema,
  }));
}

function headerParametersOf(doc: RouteDoc): Json[] {
  return (doc.headers ?? []).map(({ name, required, description }) => ({
    name,
    in: 'header',
    required: required === true,
    ...(description === undefined ? {} : { description }),
    schema: { type: 'string' },
  }));
}

/** The documented answers, then the problems the operation can answer, by status. */
function responsesOf(doc: RouteDoc, hasPathParameters: boolean, schemaOf: SchemaOf): Json {
  const responses: Json = {};
  for (const [status, r] of Object.entries(doc.responses)) {
    const content: Json = {
      ...(r.schema ? { 'application/json': { schema: schemaOf(r.schema, 'output') } } : {}),
      ...textContentOf(r.text),
    };
    responses[status] = { description: r.description, ...(r.retryAfter ? { headers: RETRY_AFTER_HEADER } : {}), ...(Object.keys(content).length > 0 ? { content } : {}) };
  }
  // Every path parameter and query parameter is checked before anything is read: a bad one is a 400.
  const checked = hasPathParameters || Object.keys(doc.query ?? {}).length > 0 ? [400, ...doc.problems] : doc.problems;
  const problems = [...new Set([...checked, ...(doc.dependencies === false ? [] : [503])])].sort((x, y) => x - y);
  for (const status of problems) {
    responses[String(status)] = {
      description: PROBLEM_TEXT[status],
      ...(status === 503 ? { headers: RETRY_AFTER_HEADER } : {}),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return responses;
}

function requestContentOf(doc: RouteDoc, schemaOf: SchemaOf): Json {
  return {
    ...(doc.request ? { 'application/json': { schema: schemaOf(doc.request, 'input') } } : {}),
    ...(doc.requestForm ? { 'application/x-www-form-urlencoded': { schema: schemaOf(doc.requestForm, 'input') } } : {}),
    ...textContentOf(doc.requestText),
  };
}

/** Text media types, each described by its documented text. */
const textContentOf = (text: Readonly<Record<string, string>> | undefined): Json =>
  Object.fromEntries(Object.entries(text ?? {}).map(([type, description]) => [type, { schema: { type: 'string', description } }]));
