/**
 * What a rating decides, and what a call item records of it. Types and one pure projection; rules.ts is the
 * rating that produces a `RatingDecision`, the call item's codec (shared/adapters/calls/call-item.ts) stores and
 * reads a `RecordedRating`.
 *
 * A stored rating keeps only what cannot be derived again: the billing facts, the reasons verbatim, the terms
 * version and figures the rules used, and the inputs that came from outside the call and its configuration (the
 * prior billed call of a duplicate, the pilot counter's refusal, the block-list entry, the talk time measured, the
 * quality signals). The per-rule explanation is recomputed by the rating itself (`GET /v1/calls/{id}/rating`) from
 * those inputs, the call's events and the recorded terms version, never by another copy of the rules.
 */
import type { CallerNumberClass } from '../calls/caller';
import type { CallStatus } from '../calls/events';
import type { CapRefusal } from '../pilots/caps';
import type { PriceSource } from '../terms/terms';

/** Ordered: the first that applies is the primary reason; all that apply are listed (rules.ts documents each). */
export const REASON_CODES = [
  'unknown_number',
  'outside_hours',
  'not_connected',
  'machine_answered',
  'below_buffer',
  'not_qualified',
  'out_of_geo',
  'caller_id_withheld',
  'duplicate_caller',
  'blocked_caller',
  'blocked_signal',
  'outside_window',
  'over_cap',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** What rating needs to know about the call itself. Caller numbers are PII: never logged, never in rule inputs. */
export interface CallFacts {
  readonly status: CallStatus;
  /** Caller as sent (`from`). */
  readonly from: string;
  /** Tracking number dialled, E.164. */
  readonly to: string;
  /** The inbound leg's seconds (Twilio CallDuration). */
  readonly totalSec: number;
  /** Seconds after the buyer answered (the dialled leg's duration), or null when not measured. */
  readonly talkSec: number | null;
  readonly answeredBy: string | null;
  /** The caller's IVR answer (Twilio `Digits` from the gather), or null. */
  readonly digits: string | null;
  readonly fromState: string | null;
  readonly fromZip: string | null;
  /**
   * The caller's area code as recorded at rating (quality/signals.ts CallerTraits), for a call read back from
   * its item, which no longer stores `from`; absent: derived from `from`.
   */
  readonly areaCode?: string | null;
  /**
   * The class of the caller's number as recorded at rating (CallerTraits.numberClass), for a call read back from its
   * item; absent: derived from `from` (caller.ts callerIdentity). `withheld` is what rule caller_id_withheld reads.
   */
  readonly callerNumberClass?: CallerNumberClass;
  /** Tags of the call (e.g. from the tracking number), used by price overrides. */
  readonly tags: readonly string[];
}

export interface RuleResult {
  readonly rule: ReasonCode;
  readonly passed: boolean;
  readonly inputs: Record<string, unknown>;
}

/** The billed call a duplicate is judged against (the caller's duplicate window decides which: duplicate-window.ts). */
export interface PriorBilled {
  readonly callId: string;
  readonly billedStartMs: number;
}

/** The billing facts of a rating: what a charge is built from (ledger/entries.ts) and what the call item carries. */
export interface RatingFacts {
  readonly billable: boolean;
  readonly amountCents: number;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
}

export interface RatingDecision extends RatingFacts {
  readonly reasons: readonly ReasonCode[];
  readonly termsVersion: number | null;
  /** Every rule evaluated, with the inputs that decided it (for `GET /v1/calls/{id}/rating`). */
  readonly rules: readonly RuleResult[];
  /** Why the amount is what it is (null when not billable). */
  readonly price: { readonly billableSec: number; readonly source: PriceSource } | null;
}

/**
 * The inputs of a rating a call item records besides its billing facts: the terms figures the rules used and what
 * came from outside the call and its configuration, so that the explanation can rate the call again.
 */
export interface RecordedRatingInputs {
  /** For an unknown number whose assignment named a campaign that was gone: that campaign. */
  readonly assignedCampaignId?: string;
  /** The terms' buffer, when the buffer rule was evaluated (a connected call). */
  readonly bufferSec?: number;
  /** The terms' duplicate window, when the duplicate rule was evaluated. */
  readonly duplicateWindowHours?: number;
  /** The billed call this one is a duplicate of. */
  readonly priorBilled?: PriorBilled;
  readonly capRefusal?: CapRefusal;
  readonly blockId?: string;
  readonly talkSec?: number;
  /** Quality signals found at rating (quality/signals.ts), in QUALITY_SIGNALS order. */
  readonly signals?: readonly string[];
}

/** A rating as a call item records it (the decision without its recomputable explanation). */
export interface RecordedRating extends RatingFacts {
  readonly reasons: readonly ReasonCode[];
  readonly termsVersion: number | null;
  readonly recorded: RecordedRatingInputs;
}

function ruleInputs(decision: Pick<RatingDecision, 'rules'>, rule: ReasonCode): Record<string, unknown> | undefined {
  return decision.rules.find((r) => r.rule === rule)?.inputs;
}

const CAP_REFUSALS: ReadonlySet<unknown> = new Set(['closed', 'spend_cap', 'daily_cap', 'max_calls']);

/** What a call item records of a decision: its facts, reasons and the rule inputs the explanation needs again. */
export function recordedRating(decision: RatingDecision): RecordedRating {
  const recorded: { -readonly [K in keyof RecordedRatingInputs]: RecordedRatingInputs[K] } = {};
  const unknown = ruleInputs(decision, 'unknown_number');
  if (decision.campaignId === null && typeof unknown?.campaignId === 'string') recorded.assignedCampaignId = unknown.campaignId;
  const buffer = ruleInputs(decision, 'below_buffer');
  if (typeof buffer?.bufferSec === 'number') recorded.bufferSec = buffer.bufferSec;
  const duplicate = ruleInputs(decision, 'duplicate_caller');
  if (typeof duplicate?.duplicateWindowHours === 'number') recorded.duplicateWindowHours = duplicate.duplicateWindowHours;
  if (typeof duplicate?.priorCallId === 'string' && typeof duplicate.priorStartedAt === 'string') {
    recorded.priorBilled = { callId: duplicate.priorCallId, billedStartMs: Date.parse(duplicate.priorStartedAt) };
  }
  const refusal = ruleInputs(decision, 'over_cap')?.refusal;
  if (CAP_REFUSALS.has(refusal)) recorded.capRefusal = refusal as CapRefusal;
  const blockId = ruleInputs(decision, 'blocked_caller')?.blockId;
  if (typeof blockId === 'string') recorded.blockId = blockId;
  if (typeof buffer?.talkSec === 'number') recorded.talkSec = buffer.talkSec;
  const signals = ruleInputs(decision, 'blocked_signal')?.signals;
  if (Array.isArray(signals) && signals.length > 0) recorded.signals = signals.map(String);
  const { billable, amountCents, campaignId, publisherId, subSource, reasons, termsVersion } = decision;
  return { billable, amountCents, campaignId, publisherId, subSource, reasons, termsVersion, recorded };
}
