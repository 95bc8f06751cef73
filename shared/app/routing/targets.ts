/**
 * The destinations API: `PUT /v1/targets/{targetId}` (admin) creates or replaces one of the buyer's lines,
 * `GET /v1/targets/{targetId}` (any key) reads it. A route table (`TARGET_ROUTES`) that functions/api.ts mounts.
 *
 * A target is configuration, not history: a PUT replaces it (its `rev` bumped, the write conditional on the rev it
 * read, so two concurrent PUTs cannot both win; the loser gets 409). Calls already routed keep the attempt they
 * recorded; the voice function's per-container copy is at most CONFIG_LEAD_MS old (adapters/routing/target-repo.ts).
 */
import * as z from 'zod';
import type { OperationDoc } from '../kernel/operation-doc';
import { IdSchema, parseBody } from '../../domain/catalog/config-schema';
import { TargetBodySchema } from '../../domain/routing/targets-schema';
import type { Target } from '../../domain/routing/targets';
import { conflict, invalidInput, notFound } from '../kernel/errors';
import { jsonBody, parseQuery } from '../kernel/query';
import { requireAdmin } from '../catalog/management';
import { ConfigWriteConflict, type ApiKeyRecord } from '../kernel/ports';
import type { RouteRequest, RouteResponse } from '../ledger/ledger-routes';
import type { TargetStore } from './ports';

export interface TargetDeps {
  readonly targets: TargetStore;
  readonly now: () => Date;
}

function pathTargetId(value: string): string {
  const parsed = IdSchema.safeParse(value);
  if (!parsed.success) throw invalidInput('Invalid targetId.', [{ field: 'targetId', message: parsed.error.issues[0]!.message }]);
  return parsed.data;
}

export async function putTarget(principal: ApiKeyRecord, targetId: string, json: unknown, deps: TargetDeps): Promise<{ created: boolean; body: Target }> {
  requireAdmin(principal);
  const id = pathTargetId(targetId);
  const body = parseBody(TargetBodySchema, json, 'target');
  const existing = await deps.targets.readTarget(principal.accountId, id);
  const target: Target = { accountId: principal.accountId, targetId: id, ...body, rev: (existing?.rev ?? 0) + 1, updatedAt: deps.now().toISOString() };
  try {
    await deps.targets.putTarget(target, existing?.rev ?? null);
  } catch (err) {
    if (err instanceof ConfigWriteConflict) throw conflict('The target was changed by another request meanwhile; read it again and retry.');
    throw err;
  }
  return { created: existing === null, body: target };
}

export async function getTarget(principal: ApiKeyRecord, targetId: string, deps: TargetDeps): Promise<Target> {
  const found = IdSchema.safeParse(targetId).success ? await deps.targets.readTarget(principal.accountId, targetId) : null;
  if (found === null) throw notFound('No such target.');
  return found;
}

export interface TargetRoute {
  readonly method: 'GET' | 'PUT';
  readonly path: string;
  handle(principal: ApiKeyRecord, req: RouteRequest, deps: TargetDeps): Promise<RouteResponse>;
}

export const TARGET_ROUTES: readonly TargetRoute[] = [
  {
    method: 'PUT',
    path: '/v1/targets/{targetId}',
    async handle(principal, req, deps) {
      // Role first: a read-only key learns nothing from a 400.
      requireAdmin(principal);
      parseQuery({}, req.query);
      const written = await putTarget(principal, req.pathParameters.targetId ?? '', jsonBody(req), deps);
      return { status: written.created ? 201 : 200, body: written.body };
    },
  },
  {
    method: 'GET',
    path: '/v1/targets/{targetId}',
    async handle(principal, req, deps) {
      parseQuery({}, req.query);
      return { status: 200, body: await getTarget(principal, req.pathParameters.targetId ?? '', deps) };
    },
  },
];

/** A target as served: the body with its defaults filled, its ids, rev and last change. */
export const TargetSchema = TargetBodySchema.safeExtend({
  accountId: z.string(),
  targetId: z.string(),
  rev: z.number().int().min(1).describe('Bumped by every PUT'),
  updatedAt: z.iso.datetime(),
}).meta({ id: 'Target' });

/** The OpenAPI entries of TARGET_ROUTES (shared/adapters/http/openapi.ts spreads them into its table). */
export const TARGET_OPENAPI = {
  'PUT /v1/targets/{targetId}': {
    summary:
      "Create or replace a destination (admin): a number or SIP URI with hours (IANA zone, weekly windows, holidays), a concurrency cap, hourly and daily call caps, geography, priority and weight. Calls route to it through a campaign's callFlow routes",
    auth: 'admin' as const,
    request: TargetBodySchema,
    responses: { 200: { description: 'Replaced', schema: TargetSchema }, 201: { description: 'Created', schema: TargetSchema } },
    problems: [400, 401, 403, 409, 415],
  },
  'GET /v1/targets/{targetId}': {
    summary: 'A destination',
    auth: 'bearer' as const,
    responses: { 200: { description: 'The target', schema: TargetSchema } },
    problems: [401, 404],
  },
} satisfies Record<string, OperationDoc>;

/** What Twilio posts to a voice URL: its voice request parameters (a repeated parameter is a list). */
const TwilioVoiceRequest = z
  .object({ AccountSid: z.string(), CallSid: z.string() })
  .catchall(z.union([z.string(), z.array(z.string())]))
  .describe('Twilio voice request parameters (CallSid, From, To, CallStatus; Digits from a Gather; DialCallStatus, DialCallDuration, DialBridged from a Dial; ParentCallSid on a whisper)');

/** The OpenAPI entry of the voice URL (functions/voice-twilio.ts). */
export const VOICE_OPENAPI = {
  'POST /voice/twilio/{accountId}': {
    summary:
      "Twilio's Voice URL (and the Gather, Dial and whisper URLs CallLedger writes under it, their state in the query): admission and routing before the buyer's line rings, answered as TwiML. Set ?step=fallback as the number's Voice Fallback URL",
    auth: 'twilio' as const,
    requestForm: TwilioVoiceRequest,
    query: [
      { name: 'step', description: 'gather, dial, whisper, voicemail or fallback; absent: the incoming call' },
      { name: 'v', description: 'The call-flow version the call started under' },
      { name: 'attempt', description: 'The IVR attempt (step gather)' },
      { name: 'none', description: '1: nobody pressed anything (step gather)' },
      { name: 'route', description: 'The route being dialled (steps dial, whisper)' },
      { name: 'pos', description: 'The position of the dialled target in the route (steps dial, whisper)' },
    ],
    headers: [{ name: 'X-Twilio-Signature', required: true, description: "HMAC-SHA1 of the public URL and the sorted parameters under the account's auth token" }],
    responses: { 200: { description: 'TwiML', text: { 'text/xml': 'A TwiML <Response> document' } } },
    problems: [400, 403, 404, 405, 413, 415],
  },
} satisfies Record<string, OperationDoc>;
