/**
 * zod schemas of the answers of the read API (calls, the rating explanation, the ledger) and of the ledger routes
 * (disputes, statements, reconciliations, verification). The OpenAPI document (openapi.ts) is generated from them,
 * and each is proven at compile time to be exactly the type its answer is built with (`SameShape`), so the document
 * cannot drift from the answers: a field added to an answer without its schema, or the other way round, fails `tsc`.
 *
 * The handlers never import this module at run time (their imports of it are `import type`): the schemas exist for the
 * document, which functions/api.ts builds on first request.
 */
import * as z from 'zod';
import type { CallNetworkAttribution } from '../../domain/networks/attribution';
import { NETWORK_EVENTS } from '../../domain/networks/claims';
import { MATCH_REASONS, MATCH_STATES } from '../../domain/networks/matching';
import { ContractTermsSchema, GeographySchema, HoursOfOperationSchema } from '../../domain/terms/terms-schema';
import { SeedPublisherSchema } from '../../domain/catalog/config-schema';
import { CampaignEconomicsSchema } from '../../domain/reports/economics-schema';
import { CallFlowSchema } from '../../domain/callflow/flow-schema';
import type { Publisher } from '../../domain/catalog/types';
import type { CampaignView, TrackingNumberView } from '../catalog/management';
import { ADMISSION_RULES } from '../../domain/routing/admission';
import { SKIP_REASONS } from '../../domain/routing/targets';
import { DIAL_OUTCOMES } from '../../domain/callflow/machine';
import { DISPUTE_REASONS, type Dispute } from '../../domain/disputes/disputes';
import { OutcomeMatchSchema, OutcomeStatusSchema } from '../../domain/outcomes/outcomes-schema';
import { CallQaSchema } from '../../domain/qa/qa-schema';
import type { CrossCallFlags } from '../../domain/quality/cross-call-flags';
import { QUALITY_SIGNALS } from '../../domain/quality/signals';
import { CALL_SIGNALS } from '../../domain/rating/rules';
import { STATEMENT_DIGEST } from '../../domain/ledger/statements';
import type { SameShape } from '../../domain/kernel/schema-shape';
import type { TermsVersion } from '../../domain/terms/terms';
import { REASON_CODES } from '../../domain/rating/decision';
import { type ChargeEntry } from '../../domain/ledger/entries';
import type { CreditEntry, ReversalEntry, LedgerTotals } from '../../domain/ledger/entries';
import type { CallDetail, CallResponse, RatingExplanation } from '../calls/read-api';
import type { StatementResponse } from '../ledger/statements';
import type { ReconciliationResponse } from '../reconciliation/reconciliations';
import type { VerifyResponse } from '../ledger/verify';
import { PilotReportDoc, PilotViewDoc } from '../../domain/pilots/pilots-schema';
import type { PilotReport } from '../../domain/pilots/report';
import type { PilotView } from '../pilots/pilots';

const instant = z.iso.datetime({ offset: true });
const cents = z.number().int();
const count = z.number().int().min(0);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const TermsVersionSchema = ContractTermsSchema.safeExtend({
  version: z.number().int().min(1),
  effectiveFrom: instant,
  createdAt: instant,
}).meta({ id: 'TermsVersion' });

// ------------------------------------------------------------------ configuration (management.ts)

export const CallFlowVersionSchema = CallFlowSchema.safeExtend({
  version: z.number().int().min(1),
  effectiveFrom: instant,
  createdAt: instant,
}).meta({ id: 'CallFlowVersion' });

export const PublisherSchema = SeedPublisherSchema.meta({ id: 'Publisher' });

export const CampaignSchema = z
  .object({
    accountId: z.string(),
    campaignId: z.string(),
    name: z.string(),
    vertical: z.string(),
    geography: GeographySchema.nullable(),
    hours: HoursOfOperationSchema.nullable(),
    termsInForce: TermsVersionSchema.nullable().describe('The version governing calls that start now'),
    termsVersions: z.array(TermsVersionSchema).describe('Every version, oldest first'),
    economics: CampaignEconomicsSchema.nullable().describe("The buyer's economics behind the cost ceiling; null until entered"),
    flowInForce: CallFlowVersionSchema.nullable().describe('The call-flow version answering calls that arrive now'),
    flowVersions: z.array(CallFlowVersionSchema).describe('Every call-flow version, oldest first'),
    updatedAt: instant,
  })
  .meta({ id: 'Campaign' });

const AssignmentSchema = z
  .object({
    campaignId: z.string(),
    publisherId: z.string(),
    subSource: z.string().nullable(),
    effectiveFrom: instant,
    createdAt: instant,
  })
  .meta({ id: 'Assignment' });

export const TrackingNumberSchema = z
  .object({
    number: z.string(),
    accountId: z.string(),
    assignmentInForce: AssignmentSchema.nullable(),
    assignments: z.array(AssignmentSchema).describe('In the order written; a call is attributed by the assignment in force when it started'),
    updatedAt: instant,
  })
  .meta({ id: 'TrackingNumber' });

// ------------------------------------------------------------------ calls

export const CrossCallFlagsSchema = z
  .object({
    findings: z.array(z.object({ signal: z.enum(QUALITY_SIGNALS), rules: z.array(z.string()) })).describe('In signal order, each with the rules that fired'),
    priorCallId: z.string().nullable().describe("repeat_caller: the other source's call that made it"),
    answerDelayMs: z.number().int().nullable().describe('coached_ivr: the measured answer delay'),
    flaggedAt: instant.describe('When the quality pass first stored a flag on the call'),
  })
  .meta({ id: 'CrossCallFlags' });

const CallNetworkSchema = z
  .object({
    networkId: z.string(),
    networkCallId: z.string().nullable(),
    state: z.enum(MATCH_STATES),
    matchedBy: z.enum(['network_call_id', 'caller_and_start']).nullable(),
    reasons: z.array(z.enum(MATCH_REASONS)),
    publisher: z.string().nullable(),
    subSource: z.string().nullable(),
    durationGapSec: z.number().int().nullable().describe('Their duration minus ours, seconds'),
    theirCents: cents.nullable(),
    atStakeCents: cents,
    claim: z
      .object({
        startedAt: instant,
        startSource: z.enum(['reported', 'estimated']),
        durationSec: z.number().int().nullable(),
        payoutCents: cents.nullable(),
        counted: z.boolean().nullable(),
        events: z.array(z.enum(NETWORK_EVENTS)),
        deliveries: z.number().int(),
        lastReceivedAt: instant,
      })
      .nullable(),
    settlesAt: instant.nullable().describe('For a lone state: when it becomes final (a late claim or call may still match until then)'),
    matchedAt: instant,
  })
  .meta({ id: 'CallNetwork' }) satisfies z.ZodType<CallNetworkAttribution>;

export const CallSchema = z
  .object({
    callId: z.string(),
    accountId: z.string(),
    campaignId: z.string().nullable(),
    publisherId: z.string().nullable(),
    subSource: z.string().nullable(),
    status: z.enum(['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled']).nullable(),
    durationSec: z.number().int().nullable(),
    billable: z.boolean().nullable(),
    amountCents: cents.nullable(),
    reasons: z.array(z.enum(REASON_CODES)),
    startedAt: instant.nullable(),
    endedAt: instant.nullable(),
    recording: z.object({ sha256, bytes: count, url: z.url() }).nullable(),
    outcome: z
      .object({
        externalId: z.string(),
        status: OutcomeStatusSchema,
        revenueCents: cents,
        marginCents: cents,
        occurredAt: instant,
        match: OutcomeMatchSchema.describe("call_id: the CRM named the call; caller_time: the caller's most recent connected call before occurredAt"),
      })
      .nullable()
      .describe('The CRM outcome in force for this call (POST /v1/outcomes), or null'),
    qa: CallQaSchema.nullable().describe("The QA reviewer's verdict in force (POST /v1/calls/{callId}/qa), or null"),
    caller: z
      .string()
      .nullable()
      .describe('The caller: E.164 for admin keys, masked (+1512•••0123) for analyst keys; null when the caller id is withheld or is not a valid phone number'),
    signals: z
      .array(z.enum(CALL_SIGNALS))
      .describe('Quality and compliance signals flagged when the call was rated, in signal order; flags unless the account blocks them (rule blocked_signal)'),
    crossCallSignals: CrossCallFlagsSchema.nullable().describe(
      'Flags the scheduled quality pass stored from the calls around this one (repeat_caller, velocity, coached_ivr); never part of the rating or billing',
    ),
    network: CallNetworkSchema.nullable().describe(
      "The network side of a forwarded call: the network's claim beside our leg, the match state, and the network's publisher and sub-source the reports count it under; null when no network's",
    ),
  })
  .meta({ id: 'Call' });

export const CallsPageSchema = z.object({ calls: z.array(CallSchema), cursor: z.string().nullable() });


const RoutingSchema = z
  .object({
    flowVersion: z.number().int().nullable().describe('The call-flow version the call was answered under'),
    degraded: z.boolean().describe('A step was answered by the fail-safe: the decision could not be made within its budget'),
    admission: z
      .object({
        stage: z.enum(['screen', 'connect']).describe('screen: before the IVR; connect: about to dial'),
        kind: z.enum(['route', 'refuse']),
        reason: z.enum(ADMISSION_RULES).nullable().describe('The first failing rule of a refusal'),
        reasons: z.array(z.enum(ADMISSION_RULES)),
        flags: z.array(z.enum(ADMISSION_RULES)).describe('Failing rules that flag but never refuse (duplicate_caller)'),
        termsVersion: z.number().int().nullable(),
        reservation: z.object({ pilotId: z.string(), amountCents: cents }).nullable().describe("The pilot's money held for the call at admission"),
        rules: z.array(z.object({ rule: z.enum(ADMISSION_RULES), passed: z.boolean(), inputs: z.record(z.string(), z.unknown()) })),
        decidedAt: instant,
      })
      .nullable()
      .describe('The admission decision that governed the call (the last made), explained like the rating'),
    attempts: z
      .array(
        z.object({
          targetId: z.string(),
          position: z.number().int().min(0).describe('Its place in this call’s order (priority, then weight drawn from the call id)'),
          outcome: z.enum([...SKIP_REASONS, ...DIAL_OUTCOMES, 'dialling']).describe('Dialled: answered, busy, no_answer, failed, canceled (dialling: no result yet); skipped: paused, closed, geo, capped, at_capacity'),
          legStatuses: z.array(z.string()).describe("The dialled leg's statuses as its callbacks reported them"),
        }),
      )
      .describe('Every target of the route, attempted or skipped, in order'),
  })
  .meta({ id: 'Routing' });

export const CallDetailSchema = CallSchema.safeExtend({
  routing: RoutingSchema.nullable().describe('How CallLedger answered and routed the call (its voice URL); null when it did not answer it'),
}).meta({ id: 'CallDetail' });

// ------------------------------------------------------------------ the ledger

const ledgerEntryBase = {
  entryId: z.string(),
  amountCents: cents,
  currency: z.literal('USD'),
  callId: z.string(),
  accountId: z.string(),
  publisherId: z.string(),
  subSource: z.string().nullable(),
  campaignId: z.string(),
  termsVersion: z.number().int().describe('The campaign terms version the call was rated under'),
  effectiveAt: instant.describe("The call's start: the instant the entry is booked against"),
  createdAt: instant,
  pilotId: z.string().optional().describe('The pilot whose cap the charge was counted against'),
};

const contentHash = sha256.describe("SHA-256 of the entry's canonical content (GET /v1/ledger/verify); absent on charges written before hashing");

/** A charge as the domain builds it (before it is stored with its content hash). */
const ChargeEntrySchema = z.object({ ...ledgerEntryBase, type: z.literal('charge').describe('positive: the price of a billable call') });
const CreditEntrySchema = z.object({
  ...ledgerEntryBase,
  type: z.literal('credit').describe('negative: an accepted dispute, at most the charge'),
  disputeId: z.string().describe('The accepted dispute'),
  correctsEntryId: z.string().describe('The charge this credit corrects'),
});

const ReversalEntrySchema = z.object({
  ...ledgerEntryBase,
  type: z
    .literal('reversal')
    .describe("negative: what remained of a charge whose call became a duplicate of an earlier call of the caller (its final callback arrived later), booked when written"),
  correctsEntryId: z.string().describe('The charge this reversal corrects'),
  priorCallId: z.string().describe('The earlier call of the caller that bills for the duplicate window instead'),
});

export const LedgerEntrySchema = z
  .discriminatedUnion('type', [
    ChargeEntrySchema.safeExtend({ contentHash: contentHash.optional() }),
    CreditEntrySchema.safeExtend({ contentHash: contentHash.optional() }),
    ReversalEntrySchema.safeExtend({ contentHash: contentHash.optional() }),
  ])
  .meta({ id: 'LedgerEntry' });

export const LedgerTotalsSchema = z.object({
  chargesCents: cents,
  creditsCents: cents,
  reversalsCents: cents.describe('Reversals of charges (≤ 0), booked when written'),
  netCents: cents.describe('charges + credits + reversals'),
  count,
});

export const LedgerPageSchema = z.object({ entries: z.array(LedgerEntrySchema), totals: LedgerTotalsSchema, cursor: z.string().nullable() });

// ------------------------------------------------------------------ the rating explanation

export const RatingExplanationSchema = z
  .object({
    callId: z.string(),
    startedAt: instant.nullable(),
    campaignId: z.string().nullable(),
    publisherId: z.string().nullable(),
    subSource: z.string().nullable(),
    billable: z.boolean(),
    amountCents: cents,
    reasons: z.array(z.enum(REASON_CODES)),
    termsVersion: z.number().int().nullable(),
    terms: TermsVersionSchema.nullable(),
    rules: z.array(
      z.object({
        rule: z.enum(REASON_CODES),
        passed: z.boolean(),
        inputs: z.record(z.string(), z.unknown()).describe('What decided the rule (never the caller number)'),
      }),
    ),
    price: z
      .object({
        billableSec: z.number().int(),
        source: z.discriminatedUnion('kind', [
          z.object({
            kind: z.literal('override'),
            index: count.describe("The override's position in the terms"),
            when: z.discriminatedUnion('kind', [z.object({ kind: z.literal('ivr'), digits: z.string() }), z.object({ kind: z.literal('tag'), tag: z.string() })]),
          }),
          z.object({ kind: z.literal('band'), fromSec: count }),
          z.object({ kind: z.literal('base') }),
        ]),
      })
      .nullable()
      .describe('How the amount was found and on how many seconds; null when not billable'),
    matchesRecorded: z.boolean().describe('Whether recomputing the rating gives the recorded reasons and amount'),
    crossCallSignals: CrossCallFlagsSchema.nullable().describe(
      'Flags the scheduled quality pass stored from the calls around this one; never part of the rating or billing',
    ),
  })
  .meta({ id: 'RatingExplanation' });

// ------------------------------------------------------------------ disputes

const DisputeTransitionSchema = z.object({
  status: z.enum(['open', 'accepted', 'rejected']),
  at: instant,
  by: z.string().describe("Who acted: the API key's label and role, never the key"),
  note: z.string(),
});

const disputeBase = {
  disputeId: z.string(),
  accountId: z.string(),
  callId: z.string(),
  chargeEntryId: z.string(),
  publisherId: z.string(),
  chargeCents: cents,
  reason: z.enum(DISPUTE_REASONS),
  note: z.string(),
  openedAt: instant,
  openedBy: z.string(),
  history: z.array(DisputeTransitionSchema).describe('Oldest first; the last transition is the current status'),
};

export const DisputeSchema = z
  .discriminatedUnion('status', [
    z.object({ ...disputeBase, status: z.literal('open') }),
    z.object({ ...disputeBase, status: z.literal('accepted'), resolvedAt: instant, resolvedBy: z.string(), creditCents: cents.describe('The credit appended, positive cents') }),
    z.object({ ...disputeBase, status: z.literal('rejected'), resolvedAt: instant, resolvedBy: z.string() }),
  ])
  .meta({ id: 'Dispute' });

export const ResolvedDisputeSchema = z.object({
  dispute: DisputeSchema,
  credit: CreditEntrySchema.safeExtend({ contentHash: contentHash.optional() }).nullable().describe('The credit an accepted dispute appended (also on a retry); null otherwise'),
});

export const DisputesPageSchema = z.object({ disputes: z.array(DisputeSchema), cursor: z.string().nullable() });

// ------------------------------------------------------------------ statements, reconciliations, verification

export const StatementSchema = z
  .object({
    period: z.string().regex(/^\d{4}-\d{2}$/),
    timeZone: z.string(),
    publisherId: z.string().nullable(),
    startAt: instant.describe("The period's first instant in the account's time zone"),
    endAt: instant.describe("The next period's first instant"),
    chargesCents: cents,
    creditsCents: cents,
    reversalsCents: cents.describe('Reversals booked in the period (≤ 0), of charges of this period or an earlier one'),
    netPayableCents: cents,
    entryCount: count,
    digest: z
      .object({ algorithm: z.literal(STATEMENT_DIGEST), value: sha256 })
      .describe('SHA-256 over the entries of GET /v1/ledger?publisherId=&from=startAt&to=endAt, in entryId order'),
  })
  .meta({ id: 'Statement' });

const matchedBy = z.enum(['call_id', 'caller_time']);

export const ReconciliationSchema = z
  .object({
    publisherId: z.string(),
    timeZone: z.string(),
    from: instant,
    to: instant,
    period: z.string().nullable(),
    toleranceSec: count,
    amountUnit: z.enum(['dollars', 'cents']),
    report: z.object({
      matched: z.array(z.object({ lineNo: count, callId: z.string(), amountCents: cents, matchedBy })),
      nonBillable: z.array(
        z.object({ lineNo: count, callId: z.string(), billedCents: cents, reasons: z.array(z.enum(REASON_CODES)), disputeReason: z.enum(DISPUTE_REASONS), matchedBy }),
      ),
      amountMismatches: z.array(
        z.object({ lineNo: count, callId: z.string(), billedCents: cents, ourNetCents: cents, ourChargeCents: cents, ourCreditCents: cents, ourReversalCents: cents, matchedBy }),
      ),
      duplicateLines: z.array(z.object({ lineNo: count, callId: z.string(), firstLineNo: count })),
      missingOnOurSide: z.array(z.object({ lineNo: count, billedCents: cents, reason: z.enum(['unknown_call_id', 'no_call_near_time']) })),
      missingOnTheirSide: z.array(z.object({ callId: z.string(), ourNetCents: cents })),
      reversalsOfEarlierCalls: z
        .array(z.object({ entryId: z.string(), callId: z.string(), amountCents: cents, correctsEntryId: z.string(), priorCallId: z.string() }))
        .describe('Reversals booked in scope of charges whose call started before it (the correction is booked when written)'),
      unreadable: z.array(z.object({ lineNo: count, field: z.enum(['callId', 'caller', 'start', 'amount', 'line']), message: z.string() })),
      totals: z.object({ billedCents: cents, ourNetCents: cents, differenceCents: cents }),
    }),
    disputes: z
      .array(
        z.union([
          z.object({ lineNo: count, callId: z.string(), outcome: z.enum(['opened', 'already_open']), disputeId: z.string() }),
          z.object({ lineNo: count, callId: z.string(), outcome: z.literal('refused'), status: z.number().int(), detail: z.string() }),
        ]),
      )
      .optional()
      .describe('With openDisputes=true: per amount mismatch, the dispute opened (or why not)'),
  })
  .meta({ id: 'Reconciliation' });

const hashPair = { expected: z.string(), actual: z.string() };

export const VerifySchema = z
  .object({
    accountId: z.string(),
    verifiedAt: instant,
    ok: z.boolean(),
    brokenLink: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('entry_hash'), entryId: z.string(), ...hashPair }),
        z.object({ kind: z.literal('seal_hash'), seq: count, ...hashPair }),
        z.object({ kind: z.literal('seal_chain'), seq: count, ...hashPair }),
        z.object({ kind: z.literal('seal_sequence'), seq: count, ...hashPair }),
        z.object({
          kind: z.literal('seal_contents'),
          seq: count,
          expected: z.object({ entryCount: count, merkleRoot: z.string() }),
          actual: z.object({ entryCount: count, merkleRoot: z.string() }),
        }),
        z.object({ kind: z.literal('before_genesis'), entryId: z.string(), ...hashPair }),
        z.object({ kind: z.literal('anchor'), seq: count, expected: z.string(), actual: z.string().nullable() }),
      ])
      .nullable()
      .describe('The first broken link (seal order, then entry order); null when everything checks out'),
    checkedEntries: count,
    checkedSeals: count,
    unsealedEntries: count.nullable(),
    unhashedEntries: z.object({ count, entryIds: z.array(z.string()).describe('The first few') }),
    anchor: z.object({ accountId: z.string(), seq: count, sealHash: z.string(), coversTo: instant }).nullable(),
  })
  .meta({ id: 'LedgerVerification' });

// ------------------------------------------------------------------ the schemas are the answers' types

type Out<S extends z.ZodType> = z.output<S>;
type StoredLedgerEntry = (ChargeEntry | CreditEntry | ReversalEntry) & { readonly contentHash?: string };

export const SHAPES_MATCH: [
  SameShape<Out<typeof PilotViewDoc>, PilotView>,
  SameShape<Out<typeof PilotReportDoc>, PilotReport>,
  SameShape<Out<typeof PublisherSchema>, Publisher>,
  SameShape<Out<typeof CampaignSchema>, CampaignView>,
  SameShape<Out<typeof TrackingNumberSchema>, TrackingNumberView>,
  SameShape<Out<typeof CallSchema>, CallResponse>,
  SameShape<Out<typeof CallDetailSchema>, CallDetail>,
  SameShape<Out<typeof CrossCallFlagsSchema>, CrossCallFlags>,
  SameShape<Out<typeof LedgerEntrySchema>, StoredLedgerEntry>,
  SameShape<Out<typeof LedgerTotalsSchema>, LedgerTotals>,
  SameShape<Out<typeof RatingExplanationSchema>, RatingExplanation>,
  SameShape<Out<typeof TermsVersionSchema>, TermsVersion>,
  SameShape<Out<typeof DisputeSchema>, Dispute>,
  SameShape<Out<typeof StatementSchema>, StatementResponse>,
  SameShape<Out<typeof ReconciliationSchema>, ReconciliationResponse>,
  SameShape<Out<typeof VerifySchema>, VerifyResponse>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
