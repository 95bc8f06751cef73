/**
 * The OpenAPI 3.1 document of the HTTP API (`GET /v1/openapi.json`), generated from the zod schemas the handlers
 * validate with (request bodies: config.ts) and zod descriptions of the responses, with `z.toJSONSchema`
 * (JSON Schema 2020-12, which is OpenAPI 3.1's dialect). Every route of infra/resources.ts ROUTES must be
 * documented here: an undocumented route throws when the document is built (and fails the unit test).
 */
import * as z from 'zod';
import type { OperationDoc, ParameterDoc } from '../../app/kernel/operation-doc';
import { ROUTES, type RouteDef } from '../../../infra/resources';
import { CampaignBodySchema, PublisherBodySchema, TrackingNumberBodySchema } from '../../domain/catalog/config-schema';
import { OpenDisputeSchema, ResolveDisputeSchema } from '../../domain/disputes/disputes-schema';
import { BlockCallerBodySchema, BlockedCallerSchema } from '../../domain/blocklist/block-list-schema';
import { MAX_PATH_ID_LENGTH, MAX_PERIOD, MIN_PERIOD, PATH_ID } from '../../domain/kernel/input';
import { PILOT_OPENAPI } from '../../app/pilots/pilots';
import { OUTCOME_OPENAPI } from '../../app/outcomes/outcomes';
import { COMPLIANCE_OPENAPI } from '../../app/compliance/compliance';
import { PRIVACY_OPENAPI } from '../../app/privacy/privacy';
import { REPORT_OPENAPI } from '../../app/reports/reports';
import { QA_OPENAPI } from '../../app/qa/qa';
import { TARGET_OPENAPI, VOICE_OPENAPI } from '../../app/routing/targets';
import {
  CallDetailSchema,
  CallSchema,
  CallsPageSchema,
  CampaignSchema,
  DisputeSchema,
  DisputesPageSchema,
  LedgerPageSchema,
  PublisherSchema,
  RatingExplanationSchema,
  ReconciliationSchema,
  ResolvedDisputeSchema,
  StatementSchema,
  TrackingNumberSchema,
  VerifySchema,
} from '../../app/kernel/api-schemas';

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

/** What Twilio posts: its voice status and recording status callback parameters (a repeated parameter is a list). */
const TwilioCallback = z
  .object({ AccountSid: z.string(), CallSid: z.string() })
  .catchall(z.union([z.string(), z.array(z.string())]))
  .describe('Twilio voice status or recording status callback parameters');

const AnyObject = z.record(z.string(), z.unknown());

const HealthReport = z
  .object({
    status: z.enum(['ok', 'degraded']),
    components: z.record(z.string(), z.enum(['up', 'down'])).describe('dynamodb, sqs, s3 (locally also the SQS pollers)'),
    failures: z.record(z.string(), z.string()).optional().describe('Why each down component is down: timeout, throttled, unavailable, network, error'),
  })
  .meta({ id: 'HealthReport' });

// ------------------------------------------------------------------ operations

const RANGE_QUERY = ['campaignId', 'publisherId', 'from', 'to', 'cursor', 'limit'];

const DOCS: Readonly<Record<string, OperationDoc>> = {
  'ANY /webhooks/twilio/{accountId}': {
    summary: 'Twilio voice status and recording status callbacks (form-encoded, X-Twilio-Signature). 204 once durable in SQS.',
    auth: 'twilio',
    requestForm: TwilioCallback,
    // Written by the voice function into the TwiML it answers (shared/domain/callflow/state.ts): the dialled leg's
    // progress carries its routing context, a recording says whose it is.
    query: [
      { name: 'leg', description: 'dial: the progress of a leg CallLedger dialled (never a call of its own)' },
      { name: 'route', description: 'The route the leg was dialled on' },
      { name: 'pos', description: 'The position of the dialled target in the route' },
      { name: 'target', description: 'The dialled target' },
      { name: 'rec', description: 'call or voicemail: which recording a recording status callback reports' },
    ],
    headers: [{ name: 'X-Twilio-Signature', required: true, description: "HMAC-SHA1 of the public URL and the sorted parameters under the account's auth token" }],
    responses: { 204: { description: 'Accepted' } },
    problems: [400, 403, 404, 405, 413, 415],
  },
  'GET /v1/calls': {
    summary: 'Rated calls by start time, newest first, paginated',
    auth: 'bearer',
    query: [...RANGE_QUERY, 'billable'],
    responses: { 200: { description: 'A page of calls', schema: CallsPageSchema } },
    problems: [400, 401],
  },
  'GET /v1/calls/{callId}': {
    summary: 'One call',
    auth: 'bearer',
    responses: { 200: { description: 'The call, with the signals flagged at rating and by the quality pass, and its routing audit', schema: CallDetailSchema } },
    problems: [401, 404],
  },
  'GET /v1/calls/{callId}/rating': {
    summary: "Why a call was (not) billed: the terms version, every rule with its inputs and result",
    auth: 'bearer',
    responses: { 200: { description: 'The explanation', schema: RatingExplanationSchema } },
    problems: [401, 404, 409],
  },
  'GET /v1/ledger': {
    summary: 'Ledger entries in effective-time order, with totals over the whole filtered range',
    auth: 'bearer',
    query: RANGE_QUERY,
    responses: {
      200: { description: 'A page of entries', schema: LedgerPageSchema },
    },
    problems: [400, 401],
  },
  'GET /v1/publishers/{publisherId}': {
    summary: 'A publisher',
    auth: 'bearer',
    responses: { 200: { description: 'The publisher', schema: PublisherSchema } },
    problems: [401, 404],
  },
  'PUT /v1/publishers/{publisherId}': {
    summary: 'Create or replace a publisher (admin)',
    auth: 'admin',
    request: PublisherBodySchema,
    responses: {
      200: { description: 'Replaced', schema: PublisherSchema },
      201: { description: 'Created', schema: PublisherSchema },
    },
    problems: [400, 401, 403, 415],
  },
  'GET /v1/campaigns/{campaignId}': {
    summary: 'A campaign with every terms version',
    auth: 'bearer',
    responses: { 200: { description: 'The campaign', schema: CampaignSchema } },
    problems: [401, 404],
  },
  'PUT /v1/campaigns/{campaignId}': {
    summary:
      'Create or update a campaign (admin). Terms that differ from the latest version append a new version effective from effectiveFrom (default and minimum: 60 s from now); a callFlow that differs from the latest flow version appends one the same way (callFlow.effectiveFrom)',
    auth: 'admin',
    request: CampaignBodySchema,
    responses: { 200: { description: 'Updated', schema: CampaignSchema }, 201: { description: 'Created', schema: CampaignSchema } },
    problems: [400, 401, 403, 409, 415, 422],
  },
  'GET /v1/tracking-numbers/{e164}': {
    summary: 'A tracking number with its assignment history',
    auth: 'bearer',
    responses: { 200: { description: 'The tracking number', schema: TrackingNumberSchema } },
    problems: [401, 404],
  },
  'PUT /v1/tracking-numbers/{e164}': {
    summary: 'Assign or re-assign a tracking number (admin), effective from effectiveFrom (default and minimum: 60 s from now)',
    auth: 'admin',
    request: TrackingNumberBodySchema,
    responses: { 200: { description: 'Re-assigned', schema: TrackingNumberSchema }, 201: { description: 'Created', schema: TrackingNumberSchema } },
    problems: [400, 401, 403, 409, 415, 422],
  },
  // Disputes, statements, reconciliation and verification (shared/app/ledger/ledger-routes.ts).
  'POST /v1/calls/{callId}/disputes': {
    summary: "Dispute a call's charge under the publisher's credit policy (admin)",
    auth: 'admin',
    request: OpenDisputeSchema,
    responses: { 201: { description: 'The dispute', schema: DisputeSchema }, 200: { description: 'The same dispute, re-sent', schema: DisputeSchema } },
    problems: [400, 401, 403, 404, 409, 415, 422],
  },
  'POST /v1/disputes/{disputeId}/resolve': {
    summary: 'Accept (appending a credit entry) or reject a dispute (admin)',
    auth: 'admin',
    request: ResolveDisputeSchema,
    responses: { 200: { description: 'The resolved dispute and the credit it appended', schema: ResolvedDisputeSchema } },
    problems: [400, 401, 403, 404, 409, 415, 422],
  },
  'GET /v1/disputes': {
    summary: 'Disputes of the account, by status and publisher, newest first, paginated',
    auth: 'bearer',
    query: ['status', 'publisherId', 'cursor', 'limit'],
    responses: { 200: { description: 'A page of disputes', schema: DisputesPageSchema } },
    problems: [400, 401],
  },
  'GET /v1/statements': {
    summary: "A publisher's statement for a month in the account's time zone, with a digest of its entries",
    auth: 'bearer',
    query: [{ name: 'period', required: true, description: 'YYYY-MM' }, 'publisherId'],
    responses: { 200: { description: 'The statement', schema: StatementSchema } },
    problems: [400, 401, 404],
  },
  'POST /v1/reconciliations': {
    summary:
      "Reconcile a publisher's invoice (text/csv) against the ledger for a period (YYYY-MM in the account's time zone) or [from, to); openDisputes=true (admin) opens a dispute for every amount mismatch we hold a charge for",
    auth: 'bearer',
    query: [
      { name: 'publisherId', required: true },
      { name: 'period', description: 'YYYY-MM; or from and to' },
      'from',
      'to',
      { name: 'openDisputes', description: 'true: open a dispute per amount mismatch (admin)' },
      { name: 'toleranceSec', description: 'how far an invoice line may be from our call start (0..3600, default 120)' },
    ],
    requestText: { 'text/csv': 'The invoice: a header row, then one line per call (call id or caller and start, and the amount billed)' },
    responses: { 200: { description: 'The reconciliation report', schema: ReconciliationSchema } },
    problems: [400, 401, 403, 404, 413, 415, 422],
  },
  'GET /v1/ledger/verify': {
    summary: 'Recompute the tamper evidence and report the first broken link',
    auth: 'bearer',
    responses: { 200: { description: 'The verification report', schema: VerifySchema } },
    problems: [400, 401],
  },
  // The block list (shared/app/blocklist/block-list.ts): responses never carry the number, only blockId and the last four digits.
  'PUT /v1/blocked-callers/{e164}': {
    summary:
      'Block (default) or unblock a caller of this account (admin), effective from effectiveFrom (default and minimum: 60 s from now); calls that start while blocked are rated blocked_caller',
    auth: 'admin',
    request: BlockCallerBodySchema,
    responses: { 200: { description: 'Updated (or unchanged)', schema: BlockedCallerSchema }, 201: { description: 'Created', schema: BlockedCallerSchema } },
    problems: [400, 401, 403, 409, 415, 422],
  },
  'GET /v1/blocked-callers/{e164}': {
    summary: 'A blocked caller: state now, pending change, history',
    auth: 'bearer',
    responses: { 200: { description: 'The entry', schema: BlockedCallerSchema } },
    problems: [400, 401, 404],
  },
  'GET /v1/blocked-callers': {
    summary: "The account's block list, paginated",
    auth: 'bearer',
    query: ['limit', 'cursor'],
    responses: {
      200: { description: 'A page of entries', schema: z.object({ blockedCallers: z.array(BlockedCallerSchema), cursor: z.string().nullable() }) },
    },
    problems: [400, 401],
  },
  // Pilot campaigns (shared/app/pilots/pilots.ts).
  ...PILOT_OPENAPI,
  // CRM outcomes (shared/app/outcomes/outcomes.ts).
  ...OUTCOME_OPENAPI,
  // Compliance: DNC lists, consent evidence, settings (shared/app/compliance/compliance.ts).
  ...COMPLIANCE_OPENAPI,
  // Deletion requests (shared/app/privacy/privacy.ts).
  ...PRIVACY_OPENAPI,
  // Booked revenue by source (shared/app/reports/reports.ts).
  ...REPORT_OPENAPI,
  // QA sampling and verdicts (shared/app/qa/qa.ts).
  ...QA_OPENAPI,
  ...TARGET_OPENAPI,
  ...VOICE_OPENAPI,
  'GET /v1/openapi.json': {
    summary: 'This document',
    auth: 'none',
    responses: { 200: { description: 'OpenAPI 3.1', schema: AnyObject } },
    problems: [],
    dependencies: false,
  },
  'GET /health': {
    summary: 'Which component answers: one cheap request to each, each cut off after 2 s',
    auth: 'none',
    responses: {
      200: { description: 'Every component answered', schema: HealthReport },
      503: { description: 'A component did not answer (named in `failures`); with Retry-After', schema: HealthReport, retryAfter: true },
    },
    problems: [],
    dependencies: false,
  },
};

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

const INSTANT_PARAMETER = {
  type: 'string',
  format: 'date-time',
  description: 'ISO-8601 date-time with a zone (Z or ±hh:mm), from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z once its offset is applied',
};

/** Query parameters whose rule is shared by every route that takes them (shared/app/kernel/query.ts). */
const QUERY_PARAMETERS: Readonly<Record<string, Json>> = {
  cursor: {
    type: 'string',
    maxLength: 2048,
    description:
      'Opaque: the `cursor` of the previous page, sent with the same filters by a key of the same account (the page size may change). It is sealed and authenticated by the API; an edited, made-up or re-used cursor (other route, filters or account) is a 400 naming `cursor`',
  },
  limit: { type: 'integer', minimum: 1, maximum: 100, description: 'Page size, a whole number from 1 to 100 (default 50)' },
  from: INSTANT_PARAMETER,
  to: INSTANT_PARAMETER,
  period: { type: 'string', pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: `A calendar month YYYY-MM from ${MIN_PERIOD} to ${MAX_PERIOD}, in the account's time zone` },
};

const PROBLEM_TEXT: Readonly<Record<number, string>> = {
  400: 'Malformed request: every bad parameter or field is named (values are never echoed)',
  401: 'No or unknown bearer API key',
  403: 'Forbidden: a read-only (analyst) key, or a bad Twilio signature',
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

const parameterOf = (p: ParameterDoc) => (typeof p === 'string' ? { name: p } : p);

type SchemaOf = (schema: z.ZodType, io: 'input' | 'output') => Json;

export function openApiDocument(routes: readonly RouteDef[] = ROUTES): Json {
  const { schemas, schemaOf } = componentSchemas();
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const doc = DOCS[key];
    if (doc === undefined) throw new Error(`openapi: route ${key} is not documented`);
    // API Gateway's ANY has no OpenAPI counterpart; Twilio only POSTs.
    const method = route.method === 'ANY' ? 'post' : route.method.toLowerCase();
    paths[route.path] = { ...(paths[route.path] ?? {}), [method]: operationOf(route, doc, schemaOf) };
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
function operationOf(route: RouteDef, doc: OperationDoc, schemaOf: SchemaOf): Json {
  const params = pathParametersOf(route);
  const responses = responsesOf(doc, params.length > 0, schemaOf);
  const requestContent = requestContentOf(doc, schemaOf);
  return {
    operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: doc.summary,
    ...(doc.auth === 'bearer' || doc.auth === 'admin' ? { security: [{ bearer: [] }] } : { security: [] }),
    ...(doc.auth === 'admin' ? { description: 'Needs an API key with role admin; analyst keys get 403.' } : {}),
    parameters: [...params, ...(doc.query ?? []).map(parameterIn('query')), ...(doc.headers ?? []).map(parameterIn('header'))],
    ...(Object.keys(requestContent).length > 0 ? { requestBody: { required: true, content: requestContent } } : {}),
    responses,
  };
}

function pathParametersOf(route: RouteDef): Json[] {
  return [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: route.fn === 'api' ? PATH_PARAMETER : { type: 'string' } }));
}

const parameterIn = (where: 'query' | 'header') => (p: ParameterDoc) => {
  const { name, required, description } = parameterOf(p);
  return { name, in: where, required: required === true, ...(description === undefined ? {} : { description }), schema: (where === 'query' ? QUERY_PARAMETERS[name] : undefined) ?? { type: 'string' } };
};

/** The documented answers, then the problems the operation can answer, by status. */
function responsesOf(doc: OperationDoc, hasPathParameters: boolean, schemaOf: SchemaOf): Json {
  const responses: Json = {};
  for (const [status, r] of Object.entries(doc.responses)) {
    const content: Json = {
      ...(r.schema ? { 'application/json': { schema: schemaOf(r.schema, 'output') } } : {}),
      ...textContentOf(r.text),
    };
    responses[status] = { description: r.description, ...(r.retryAfter ? { headers: RETRY_AFTER_HEADER } : {}), ...(Object.keys(content).length > 0 ? { content } : {}) };
  }
  // Every path parameter and query parameter is checked before anything is read: a bad one is a 400.
  const checked = hasPathParameters || (doc.query ?? []).length > 0 ? [400, ...doc.problems] : doc.problems;
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

function requestContentOf(doc: OperationDoc, schemaOf: SchemaOf): Json {
  return {
    ...(doc.request ? { 'application/json': { schema: schemaOf(doc.request, 'input') } } : {}),
    ...(doc.requestForm ? { 'application/x-www-form-urlencoded': { schema: schemaOf(doc.requestForm, 'input') } } : {}),
    ...textContentOf(doc.requestText),
  };
}

/** Text media types, each described by its documented text. */
const textContentOf = (text: Readonly<Record<string, string>> | undefined): Json =>
  Object.fromEntries(Object.entries(text ?? {}).map(([type, description]) => [type, { schema: { type: 'string', description } }]));
