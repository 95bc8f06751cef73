/** The answer and request schemas of the networks routes and the postback webhook (their declarations: networks.ts, postback-route.ts). */
import * as z from 'zod';
import { CLAIM_FIELDS, CREDIT_MODES, NETWORK_KINDS } from '../../domain/networks/registration';
import { FieldSourceSchema, ForwardedCallIdSchema, NetworkRegistrationSchema, RotateSecretSchema } from '../../domain/networks/registration-schema';
import { DISAGREEMENTS, DURATION_GAP_BUCKETS } from '../../domain/networks/drift';
import { MATCH_REASONS, MATCH_STATES } from '../../domain/networks/matching';

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
  forwardedCallId: ForwardedCallIdSchema.nullable().describe('Where the forwarded call carries the network’s call id (the registration’s, else the kind’s default); null: nowhere'),
  urls: z.object(Urls).describe('The URLs to paste, `{secret}` in place of the secret'),
  secret: z.object({ rotatedAt: instant.nullable(), previousValidUntil: instant.nullable().describe('Until when the rotated-out secret is still accepted') }),
  createdAt: instant,
  updatedAt: instant,
};

export const NetworkSchema = z.object(NetworkViewShape).meta({ id: 'Network' });
export const NetworkWithSecretSchema = z
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
export const NetworkDriftSchema = z
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

export const PostbackForm = z.record(z.string(), z.union([z.string(), z.array(z.string())])).describe('The network’s tokens under the parameter names the registration maps');
