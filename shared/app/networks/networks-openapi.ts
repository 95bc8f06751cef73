/** The OpenAPI entries of NETWORK_ROUTES and the postback webhook (shared/adapters/http/openapi.ts spreads them into its table). */
import * as z from 'zod';
import { CLAIM_FIELDS, CREDIT_MODES, NETWORK_KINDS } from '../../domain/networks/registration';
import { FieldSourceSchema, NetworkRegistrationSchema, RotateSecretSchema } from '../../domain/networks/registration-schema';
import { DISAGREEMENTS, DURATION_GAP_BUCKETS } from '../../domain/networks/drift';
import { MATCH_REASONS, MATCH_STATES } from '../../domain/networks/matching';
import type { OperationDoc } from '../kernel/operation-doc';

const instant = z.string().describe('ISO-8601 instant, UTC');
const cents = z.number().int();

const Urls = {
  postbackUrl: z.string().describe('The postback URL with every mapped token (no event)'),
  pixelUrls: z.record(z.string(), z.string()).describe('One URL per trigger (incoming, completed, converted), with event=<name>, when the mapping reads an event'),
};

const NetworkViewShape = {
  accountId: z.string(),
  networkId: z.string(),
  kind: z.enum(NETWORK_KINDS),
  name: z.string(),
  destinations: z.array(z.string()),
  fields: z.object(Object.fromEntries(CLAIM_FIELDS.map((f) => [f, FieldSourceSchema.optional()]))).describe('The mapping in force: the kind’s defaults with the registration’s overrides'),
  creditPolicy: z.object({ mode: z.enum(CREDIT_MODES), windowDays: z.number().int() }),
  tolerances: z.object({ startToleranceSec: z.number().int(), durationGapToleranceSec: z.number().int() }),
  sourceIpAllowList: z.array(z.string()),
  urls: z.object(Urls).describe('The URLs to paste, `{secret}` in place of the secret'),
  secret: z.object({ rotatedAt: instant.nullable(), previousValidUntil: instant.nullable().describe('Until when the rotated-out secret is still accepted') }),
  createdAt: instant,
  updatedAt: instant,
};

const NetworkSchema = z.object(NetworkViewShape).meta({ id: 'Network' });
const NetworkWithSecretSchema = z
  .object({ ...NetworkViewShape, issued: z.object({ secret: z.string().describe('Shown once: store it in the network, it is not kept in clear'), ...Urls }) })
  .meta({ id: 'NetworkWithSecret' });

const StateTotal = z.object({ calls: z.number().int(), atStakeCents: cents });
const DriftCounts = {
  calls: z.number().int(),
  agreements: z.number().int(),
  disagreements: z.object(Object.fromEntries(DISAGREEMENTS.map((s) => [s, StateTotal]))),
  durationGap: z.array(z.object({ bucket: z.enum(DURATION_GAP_BUCKETS.map((b) => b.label) as [string, ...string[]]), calls: z.number().int() })),
};
const Proposal = {
  proposalId: z.string(),
  action: z.enum(['open', 'propose']),
  state: z.enum(MATCH_STATES),
  reasons: z.array(z.enum(MATCH_REASONS)),
  networkCallId: z.string(),
  legCallId: z.string().nullable(),
  amountCents: cents,
  startedAt: instant,
  deadline: instant.describe('The credit window closes at this instant (exclusive)'),
};
const NetworkDriftSchema = z
  .object({
    networkId: z.string(),
    from: instant,
    to: instant,
    timeZone: z.string(),
    rows: z.array(z.object({ day: z.string(), publisher: z.string().nullable(), ...DriftCounts })),
    totals: z.object(DriftCounts),
    pending: z.number().int().describe('Lone claims or calls still inside their settle window, not counted yet'),
    disputes: z.array(
      z.object({
        ...Proposal,
        networkId: z.string(),
        status: z.enum(['open', 'proposed']),
        createdAt: instant,
        callDisputeId: z.string().nullable().describe('The dispute on our charge opened with it (POST /v1/calls/{callId}/disputes), when the call was charged'),
      }),
    ),
    proposals: z.array(z.object(Proposal)).describe('What the credit policy calls for over the settled findings, recomputed now'),
  })
  .meta({ id: 'NetworkDrift' });

const PostbackForm = z.record(z.string(), z.union([z.string(), z.array(z.string())])).describe('The network’s tokens under the parameter names the registration maps');

export const NETWORK_OPENAPI = {
  'ANY /webhooks/networks/{accountId}/{networkId}/{secret}': {
    summary:
      'A network’s postback or pixel (Ringba, Retreaver, TrackDrive, generic): tokens in the query, a form or a JSON body. 204 once durable in SQS; 404 for an unknown account, network or secret (nothing written), 403 source address outside the allow-list, 400 a bad token (named)',
    auth: 'none',
    anyMethods: ['get', 'post'],
    requestForm: PostbackForm,
    request: z.record(z.string(), z.unknown()).describe('A JSON object; nested keys are read with dots'),
    responses: { 204: { description: 'Accepted' } },
    problems: [400, 403, 404, 405, 413, 415],
  },
  'PUT /v1/networks/{networkId}': {
    summary: 'Register (201, with the postback secret and URLs, shown once) or update (200) a network the buyer buys calls through',
    auth: 'admin',
    request: NetworkRegistrationSchema,
    responses: { 201: { description: 'Created: the secret and the URLs to paste', schema: NetworkWithSecretSchema }, 200: { description: 'Updated', schema: NetworkSchema } },
    problems: [400, 401, 403, 409, 415],
  },
  'GET /v1/networks/{networkId}': {
    summary: 'A registered network: its mapping in force, credit policy, tolerances and the URLs to paste (`{secret}` in place of the secret)',
    auth: 'bearer',
    responses: { 200: { description: 'The network', schema: NetworkSchema } },
    problems: [400, 401, 404],
  },
  'POST /v1/networks/{networkId}/rotate-secret': {
    summary: 'A new postback secret (shown once, with its URLs); the one in use stays valid for overlapSec (default 7 days)',
    auth: 'admin',
    request: RotateSecretSchema,
    responses: { 200: { description: 'The new secret and its URLs', schema: NetworkWithSecretSchema } },
    problems: [400, 401, 403, 404, 409, 415],
  },
  'GET /v1/reports/network-drift': {
    summary:
      'A network’s count against ours per day (the account’s zone) and network publisher: calls, agreements, each disagreement state with its money, the duration gap distribution; the disputes opened or proposed',
    auth: 'bearer',
    query: [{ name: 'networkId', required: true }, 'from', 'to'],
    responses: { 200: { description: 'The drift', schema: NetworkDriftSchema } },
    problems: [400, 401, 404],
  },
} satisfies Record<string, OperationDoc>;
