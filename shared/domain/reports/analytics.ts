/**
 * Booked revenue by source: the shared vocabulary of outcomes, the source scorecard, the cost ceiling
 * and the threshold tuner. Types only; the computations live in their own pure modules (scorecard.ts,
 * threshold-tuner.ts, economics.ts) and the reads in shared/app/reports/reports.ts. Money is integer cents.
 */
import type { QaVerdict } from '../qa/qa';
import type { ReasonCode } from '../rating/decision';

/** What a call became in the buyer's CRM. `closed` = a customer (it implies booked). */
export type OutcomeStatus = 'booked' | 'closed' | 'lost';

/** The outcome in force for a call (the latest status of its externalId; history is kept by the store). */
export interface CallOutcome {
  readonly externalId: string;
  readonly status: OutcomeStatus;
  readonly revenueCents: number;
  readonly marginCents: number;
  readonly occurredAt: string;
}

/**
 * One rated call as the reports see it: its rating, what the ledger says about it, and its outcome. Built from
 * the call item (campaign index) and the ledger; the caller appears only as its keyed hash (never the number).
 */
export interface ReportCall {
  readonly callId: string;
  readonly startedAtMs: number;
  readonly campaignId: string;
  readonly publisherId: string;
  /** null: no sub-source declared on the number. */
  readonly subSource: string | null;
  /** Completed (connected) call. */
  readonly connected: boolean;
  /** Seconds on the terms' duration basis (talk or total): what the buffer is compared with. */
  readonly billableSec: number;
  readonly billable: boolean;
  /** Charged amount (0 when not billable). */
  readonly amountCents: number;
  /** Non-billable reasons, in rating order (empty when billable). */
  readonly reasons: readonly ReasonCode[];
  /** Sum of credits against this call's charge (≤ 0). */
  readonly creditsCents: number;
  /**
   * Charges of this call that were reversed (≥ 0) and the reversals (≤ 0): its duplicate window moved its charge to an
   * earlier call of the caller (duplicate-window.ts). The call's net is amountCents + reversedChargesCents +
   * creditsCents + reversalsCents, as in the ledger. Absent: 0.
   */
  readonly reversedChargesCents?: number;
  readonly reversalsCents?: number;
  readonly disputed: boolean;
  readonly outcome: CallOutcome | null;
  /**
   * The price this call would be charged at if it cleared a buffer, i.e. the contract price for its duration
   * and answers under the terms version it was rated with (so the tuner can re-rate without the contract).
   * null: the call could never bill whatever the buffer (unknown number, not connected, duplicate, …).
   */
  readonly priceIfBillableCents: number | null;
  /**
   * The buffer of the terms version the call was rated under (its own, so a period spanning a buffer change still
   * places each call against the bar it faced); absent or null: unknown (no terms).
   */
  readonly bufferSec?: number | null;
  /** Quality signals the call showed (shared/domain/quality/signals.ts), from its rating; absent or empty: none. */
  readonly signals?: readonly string[];
  /** The QA reviewer's verdict in force (shared/domain/qa/qa.ts); absent or null: not reviewed. */
  readonly qa?: { readonly verdict: QaVerdict; readonly reviewedAt: string; readonly reviewer: string } | null;
  /** S3 key of the call's stored recording (QA sampling presigns it); absent or null: none. */
  readonly recordingKey?: string | null;
}

/** Scorecard grouping. */
export type GroupBy = 'publisher' | 'subSource';

/** Campaign economics: what a qualified call is worth, hence the most the buyer should pay for one. */
export interface CampaignEconomics {
  /** Average margin of a closed customer, cents. */
  readonly avgCustomerMarginCents: number;
  /** Share of qualified (billable) calls that become customers, 0..1: entered, or measured from outcomes. */
  readonly closeRate: number;
  /** Share of a customer's margin the buyer is willing to spend on acquiring it, 0..1. */
  readonly targetShare: number;
}
