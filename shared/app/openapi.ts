/**
 * The OpenAPI 3.1 document of the HTTP API (`GET /v1/openapi.json`), generated from the zod schemas the handlers
 * validate with (request bodies: config.ts) and zod descriptions of the responses, with `z.toJSONSchema`
 * (JSON Schema 2020-12, which is OpenAPI 3.1's dialect). Every route of infra/resources.ts ROUTES must be
 * documented here: an undocumented route throws when the document is built (and fails the unit test).
 */
import * as z from 'zod';
import { ROUTES, type RouteDef } from '../../infra/resources';
import { CampaignBodySchema, PublisherBodySchema, SeedPublisherSchema, TrackingNumberBodySchema } from '../domain/config-schema';
import { OpenDisputeSchema, ResolveDisputeSchema } from '../domain/disputes-schema';
import { BlockCallerBodySchema, BlockedCallerSchema } from '../domain/block-list-schema';
import { ContractTermsSchema, GeographySchema, HoursOfOperationSchema } from '../domain/terms-schema';
import { MAX_PATH_ID_LENGTH, MAX_PERIOD, MIN_PERIOD, PATH_ID } from '../domain/input';
import { REASON_CODES } from '../domain/types';
import { QUALITY_SIGNALS } from '../domain/quality-signals';
import { PILOT_OPENAPI } from './pilots';
import { OUTCOME_OPENAPI } from './outcomes';
import { COMPLIANCE_OPENAPI } from './compliance';
import { PRIVACY_OPENAPI } from './privacy';
import { OutcomeMatchSchema, OutcomeStatusSchema } from '../domain/outcomes-schema';
import { REPORT_OPENAPI } from './reports';
import { QA_OPENAPI } from './qa';
import { CallQaSchema } from '../domain/qa-schema';

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

const TermsVersion = ContractTermsSchema.safeExtend({
  version: z.number().int().min(1),
  effectiveFrom: z.iso.datetime(),
  createdAt: z.iso.datetime(),
}).meta({ id: 'TermsVersion' });

const Campaign = z
  .object({
    accountId: z.string(),
    campaignId: z.string(),
    name: z.string(),
    vertical: z.string(),
    geography: GeographySchema.nullable(),
    hours: HoursOfOperationSchema.nullable(),
    termsInForce: TermsVersion.nullable().describe('The version governing calls that start now'),
    termsVersions: z.array(TermsVersion).describe('Every version, oldest first'),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Campaign' });

const Assignment = z
  .object({
    campaignId: z.string(),
    publisherId: z.string(),
    subSource: z.string().nullable(),
    effectiveFrom: z.iso.datetime(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Assignment' });

const TrackingNumber = z
  .object({
    number: z.string(),
    accountId: z.string(),
    assignmentInForce: Assignment.nullable(),
    assignments: z.array(Assignment).describe('In the order written; a call is attributed by the assignment in force when it started'),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'TrackingNumber' });

const Call = z
  .object({
    callId: z.string(),
    accountId: z.string(),
    campaignId: z.string().nullable(),
    publisherId: z.string().nullable(),
    subSource: z.string().nullable(),
    status: z.string().nullable(),
    durationSec: z.number().int().nullable(),
    billable: z.boolean().nullable(),
    amountCents: z.number().int().nullable(),
    reasons: z.array(z.enum(REASON_CODES)),
    startedAt: z.iso.datetime().nullable(),
    endedAt: z.iso.datetime().nullable(),
    recording: z.object({ sha256: z.string(), bytes: z.number().int(), url: z.url() }).nullable(),
    outcome: z
      .object({
        externalId: z.string(),
        status: OutcomeStatusSchema,
        revenueCents: z.number().int(),
        marginCents: z.number().int(),
        occurredAt: z.iso.datetime(),
        match: OutcomeMatchSchema.describe('call_id: the CRM named the call; caller_time: the caller\'s most recent connected call before occurredAt'),
      })
      .nullable()
      .describe('The CRM outcome in force for this call (POST /v1/outcomes), or null'),
    qa: CallQaSchema.nullable().describe("The QA reviewer's verdict in force (POST /v1/calls/{callId}/qa), or null"),
    caller: z
      .string()
      .nullable()
      .describe('The caller: E.164 for admin keys, masked (+1512•••0123) for analyst keys; null when the caller id is withheld or is not a valid phone number'),
  })
  .meta({ id: 'Call' });

const LedgerEntry = z
  .object({
    entryId: z.string(),
    type: z.enum(['charge', 'credit', 'reversal']).describe(
      'charge: positive, booked at the call\'s start; credit: negative, an accepted dispute, booked with its charge; reversal: negative, what remained of a charge whose call became a duplicate of an earlier call of the caller (its final callback arrived later), booked when written',
    ),
    amountCents: z.number().int(),
    currency: z.literal('USD'),
    callId: z.string(),
    accountId: z.string(),
    publisherId: z.string(),
    subSource: z.string().nullable(),
    campaignId: z.string(),
    termsVersion: z.number().int().describe('The campaign terms version the call was rated under'),
    effectiveAt: z.iso.datetime(),
    createdAt: z.iso.datetime(),
    contentHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .describe('SHA-256 of the entry\'s canonical content (GET /v1/ledger/verify); absent on charges written before hashing'),
    disputeId: z.string().optional().describe('Credits: the accepted dispute'),
    correctsEntryId: z.string().optional().describe('Credits and reversals: the charge this entry corrects'),
    priorCallId: z.string().optional().describe('Reversals: the earlier call of the caller that bills for the duplicate window instead'),
    pilotId: z.string().optional().describe('The pilot whose counter the charge was counted against (a reversal gives it back)'),
  })
  .meta({ id: 'LedgerEntry' });

const Totals = z.object({
  chargesCents: z.number().int(),
  creditsCents: z.number().int(),
  reversalsCents: z.number().int().describe('Reversals of charges (≤ 0), booked when written'),
  netCents: z.number().int().describe('charges + credits + reversals'),
  count: z.number().int(),
});

const Rule = z.object({
  rule: z.enum(REASON_CODES),
  passed: z.boolean(),
  inputs: z.record(z.string(), z.unknown()).describe('What decided the rule (never the caller number)'),
});

const RatingExplanation = z
  .object({
    callId: z.string(),
    startedAt: z.iso.datetime().nullable(),
    campaignId: z.string().nullable(),
    publisherId: z.string().nullable(),
    subSource: z.string().nullable(),
    billable: z.boolean(),
    amountCents: z.number().int(),
    reasons: z.array(z.enum(REASON_CODES)),
    termsVersion: z.number().int().nullable(),
    terms: TermsVersion.nullable(),
    rules: z.array(Rule),
    price: z
      .object({ billableSec: z.number().int(), source: z.object({ kind: z.enum(['override', 'band', 'base']) }).loose() })
      .nullable(),
    matchesRecorded: z.boolean(),
    crossCallSignals: z
      .object({
        findings: z.array(z.object({ signal: z.enum(QUALITY_SIGNALS), rules: z.array(z.string()) })),
        priorCallId: z.string().nullable(),
        answerDelayMs: z.number().int().nullable(),
        flaggedAt: z.iso.datetime(),
      })
      .nullable()
      .describe('Flags the scheduled quality pass stored from the calls around this one; never part of the rating or billing'),
  })
  .meta({ id: 'RatingExplanation' });

const AnyObject = z.record(z.string(), z.unknown());

const HealthReport = z
  .object({
    status: z.enum(['ok', 'degraded']),
    components: z.record(z.string(), z.enum(['up', 'down'])).describe('dynamodb, sqs, s3 (locally also the SQS pollers)'),
    failures: z.record(z.string(), z.string()).optional().describe('Why each down component is down: timeout, throttled, unavailable, network, error'),
  })
  .meta({ id: 'HealthReport' });

// ------------------------------------------------------------------ operations

type Auth = 'bearer' | 'admin' | 'none' | 'twilio';

interface OperationDoc {
  readonly summary: string;
  readonly auth: Auth;
  readonly request?: z.ZodType;
  readonly responses: Readonly<Record<number, { readonly description: string; readonly schema?: z.ZodType; readonly retryAfter?: boolean }>>;
  readonly query?: readonly string[];
  readonly problems: readonly number[];
  /** False for the routes that call no dependency; every other one may answer 503 (shared/adapters/http.ts). */
  readonly dependencies?: false;
}

const RANGE_QUERY = ['campaignId', 'publisherId', 'from', 'to', 'cursor', 'limit'];

const DOCS: Readonly<Record<string, OperationDoc>> = {
  'ANY /webhooks/twilio/{accountId}': {
    summary: 'Twilio voice status and recording status callbacks (form-encoded, X-Twilio-Signature). 204 once durable in SQS.',
    auth: 'twilio',
    responses: { 204: { description: 'Accepted' } },
    problems: [400, 403, 404, 405, 413, 415],
  },
  'GET /v1/calls': {
    summary: 'Rated calls by start time, newest first, paginated',
    auth: 'bearer',
    query: [...RANGE_QUERY, 'billable'],
    responses: { 200: { description: 'A page of calls', schema: z.object({ calls: z.array(Call), cursor: z.string().nullable() }) } },
    problems: [400, 401],
  },
  'GET /v1/calls/{callId}': {
    summary: 'One call',
    auth: 'bearer',
    responses: { 200: { description: 'The call', schema: Call } },
    problems: [401, 404],
  },
  'GET /v1/calls/{callId}/rating': {
    summary: "Why a call was (not) billed: the terms version, every rule with its inputs and result",
    auth: 'bearer',
    responses: { 200: { description: 'The explanation', schema: RatingExplanation } },
    problems: [401, 404, 409],
  },
  'GET /v1/ledger': {
    summary: 'Ledger entries in effective-time order, with totals over the whole filtered range',
    auth: 'bearer',
    query: RANGE_QUERY,
    responses: {
      200: { description: 'A page of entries', schema: z.object({ entries: z.array(LedgerEntry), totals: Totals, cursor: z.string().nullable() }) },
    },
    problems: [400, 401],
  },
  'GET /v1/publishers/{publisherId}': {
    summary: 'A publisher',
    auth: 'bearer',
    responses: { 200: { description: 'The publisher', schema: SeedPublisherSchema.meta({ id: 'Publisher' }) } },
    problems: [401, 404],
  },
  'PUT /v1/publishers/{publisherId}': {
    summary: 'Create or replace a publisher (admin)',
    auth: 'admin',
    request: PublisherBodySchema,
    responses: {
      200: { description: 'Replaced', schema: SeedPublisherSchema },
      201: { description: 'Created', schema: SeedPublisherSchema },
    },
    problems: [400, 401, 403],
  },
  'GET /v1/campaigns/{campaignId}': {
    summary: 'A campaign with every terms version',
    auth: 'bearer',
    responses: { 200: { description: 'The campaign', schema: Campaign } },
    problems: [401, 404],
  },
  'PUT /v1/campaigns/{campaignId}': {
    summary:
      'Create or update a campaign (admin). Terms that differ from the latest version append a new version effective from effectiveFrom (default and minimum: 60 s from now)',
    auth: 'admin',
    request: CampaignBodySchema,
    responses: { 200: { description: 'Updated', schema: Campaign }, 201: { description: 'Created', schema: Campaign } },
    problems: [400, 401, 403, 409, 422],
  },
  'GET /v1/tracking-numbers/{e164}': {
    summary: 'A tracking number with its assignment history',
    auth: 'bearer',
    responses: { 200: { description: 'The tracking number', schema: TrackingNumber } },
    problems: [401, 404],
  },
  'PUT /v1/tracking-numbers/{e164}': {
    summary: 'Assign or re-assign a tracking number (admin), effective from effectiveFrom (default and minimum: 60 s from now)',
    auth: 'admin',
    request: TrackingNumberBodySchema,
    responses: { 200: { description: 'Re-assigned', schema: TrackingNumber }, 201: { description: 'Created', schema: TrackingNumber } },
    problems: [400, 401, 403, 409, 422],
  },
  // Disputes, statements, reconciliation and verification (shared/app/ledger-routes.ts): documented here so
  // that mounting them in ROUTES documents them; their response bodies are described, not yet schematised.
  'POST /v1/calls/{callId}/disputes': {
    summary: "Dispute a call's charge under the publisher's credit policy",
    auth: 'bearer',
    request: OpenDisputeSchema,
    responses: { 201: { description: 'The dispute', schema: AnyObject }, 200: { description: 'The same dispute, re-sent', schema: AnyObject } },
    problems: [400, 401, 403, 404, 409, 415, 422],
  },
  'POST /v1/disputes/{disputeId}/resolve': {
    summary: 'Accept (appending a credit entry) or reject a dispute',
    auth: 'admin',
    request: ResolveDisputeSchema,
    responses: { 200: { description: 'The resolved dispute', schema: AnyObject } },
    problems: [400, 401, 403, 404, 409, 415, 422],
  },
  'GET /v1/disputes': {
    summary: 'Disputes of the account, by status',
    auth: 'bearer',
    query: ['status', 'cursor', 'limit'],
    responses: { 200: { description: 'A page of disputes', schema: AnyObject } },
    problems: [400, 401],
  },
  'GET /v1/statements': {
    summary: "A publisher's statement for a month in the account's time zone, with a digest of its entries",
    auth: 'bearer',
    query: ['publisherId', 'period'],
    responses: { 200: { description: 'The statement', schema: AnyObject } },
    problems: [400, 401],
  },
  'POST /v1/reconciliations': {
    summary: "Reconcile a publisher's invoice (CSV) against the ledger",
    auth: 'bearer',
    responses: { 200: { description: 'The reconciliation report', schema: AnyObject } },
    problems: [400, 401, 403, 413, 415, 422],
  },
  'GET /v1/ledger/verify': {
    summary: 'Recompute the tamper evidence and report the first broken link',
    auth: 'bearer',
    responses: { 200: { description: 'The verification report', schema: AnyObject } },
    problems: [400, 401],
  },
  // The block list (shared/app/block-list.ts): responses never carry the number, only blockId and the last four digits.
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
  // Pilot campaigns (shared/app/pilots.ts).
  ...PILOT_OPENAPI,
  // CRM outcomes (shared/app/outcomes.ts).
  ...OUTCOME_OPENAPI,
  // Compliance: DNC lists, consent evidence, settings (shared/app/compliance.ts).
  ...COMPLIANCE_OPENAPI,
  // Deletion requests (shared/app/privacy.ts).
  ...PRIVACY_OPENAPI,
  // Booked revenue by source (shared/app/reports.ts).
  ...REPORT_OPENAPI,
  // QA sampling and verdicts (shared/app/qa.ts).
  ...QA_OPENAPI,
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
 * The one grammar of the api function's path parameters (shared/domain/input.ts), checked when the route is matched,
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

/** Query parameters whose rule is shared by every route that takes them (shared/app/query.ts). */
const QUERY_PARAMETERS: Readonly<Record<string, Json>> = {
  cursor: {
    type: 'string',
    maxLength: 2048,
    description:
      'Opaque: the `cursor` of the previous page, sent with the same filters by a key of the same account (the page size may change). It is sealed and authenticated by the API; an edited, made-up or re-used cursor (other route, filters or account) is a 400 naming `cursor`',
  },
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
  409: 'Conflict: changed concurrently, or not in a state that allows this (a tracking number that routes to another account: tracking-number-unavailable)',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable: valid JSON that breaks a rule (e.g. effectiveFrom too early)',
  503: 'Service unavailable: a dependency (database, queue, storage) is failing or not answering; retry after Retry-After seconds',
};

const RETRY_AFTER_HEADER = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } } };

// ------------------------------------------------------------------ document

type Json = Record<string, unknown>;

export function openApiDocument(routes: readonly RouteDef[] = ROUTES): Json {
  const schemas: Json = {};
  /** Inline JSON Schema with named components lifted into `components.schemas`. */
  const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const generated = JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: 'any' }));
    // Named schemas (`.meta({ id })`) come out as `$defs` of each document; OpenAPI keeps them in components.
    const json = JSON.parse(generated.replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
    const { $schema: _schema, $defs, ...rest } = json as Json & { $defs?: Json };
    for (const [id, def] of Object.entries($defs ?? {})) schemas[id] ??= def;
    return rest;
  };

  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const doc = DOCS[key];
    if (doc === undefined) throw new Error(`openapi: route ${key} is not documented`);
    const params = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: route.fn === 'api' ? PATH_PARAMETER : { type: 'string' } }));
    const query = (doc.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: QUERY_PARAMETERS[name] ?? { type: 'string' } }));
    const responses: Json = {};
    for (const [status, r] of Object.entries(doc.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.retryAfter ? { headers: RETRY_AFTER_HEADER } : {}),
        ...(r.schema ? { content: { 'application/json': { schema: schemaOf(r.schema, 'output') } } } : {}),
      };
    }
    // Every path parameter and query parameter is checked before anything is read: a bad one is a 400.
    const checked = params.length > 0 || query.length > 0 ? [400, ...doc.problems] : doc.problems;
    const problems = [...new Set([...checked, ...(doc.dependencies === false ? [] : [503])])].sort((x, y) => x - y);
    for (const status of problems) {
      responses[String(status)] = {
        description: PROBLEM_TEXT[status],
        ...(status === 503 ? { headers: RETRY_AFTER_HEADER } : {}),
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      };
    }
    const operation: Json = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: doc.summary,
      ...(doc.auth === 'bearer' || doc.auth === 'admin' ? { security: [{ bearer: [] }] } : { security: [] }),
      ...(doc.auth === 'admin' ? { description: 'Needs an API key with role admin; analyst keys get 403.' } : {}),
      parameters: [...params, ...query],
      ...(doc.request ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(doc.request, 'input') } } } } : {}),
      responses,
    };
    // API Gateway's ANY has no OpenAPI counterpart; Twilio only POSTs.
    const method = route.method === 'ANY' ? 'post' : route.method.toLowerCase();
    paths[route.path] = { ...(paths[route.path] ?? {}), [method]: operation };
  }
  schemas.Problem = schemaOf(Problem, 'output');
  return {
    openapi: '3.1.0',
    info: { title: 'CallLedger API', version: '1', description: 'Pay-per-call ledger: calls, ledger entries, and the configuration they are rated under.' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key of one account (admin or analyst)' } } },
  };
}
