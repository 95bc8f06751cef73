/**
 * Disputes and credits. The buyer disputes a charge under the publisher's written credit policy; an
 * accepted dispute appends ONE credit entry that reverses all or part of the charge. Nothing is ever edited.
 *
 * Rules:
 * - One dispute per charge: its id is `dispute:<callId>`, so the store's `attribute_not_exists` condition is
 *   the last word under concurrency. A rejected dispute is final. Opening it again with the same reason and
 *   note returns the existing dispute (an idempotent retry); anything else is 409.
 * - Refusals, in this order: the call's charge was reversed (409 `charge_reversed`: an earlier call of the caller
 *   bills for its duplicate window instead, duplicate-window.ts; nothing remains to dispute), the call has no charge
 *   (422 `not_billed`), already disputed (409), the reason is
 *   not in the policy (422 `reason_not_allowed`), the window has closed (422 `outside_window`). The window runs
 *   `disputeWindowDays` × 24 h from the charge's `effectiveAt` (the call's start): an instant, not a calendar
 *   day, so it reads the same in every time zone.
 * - Lifecycle: open → accepted | rejected. Every transition records who, when and the note, in `history`. A dispute
 *   still open when its charge is reversed cannot be accepted any more (409 `charge_reversed`: the reversal took back
 *   all that remained, so a credit would take back more than was charged); it can be rejected, which closes it.
 * - The credit is `credit:<callId>` (at most one per charge), its amount is −(creditCents), 1 ≤ creditCents ≤
 *   the charge, full by default. It is booked at the charge's `effectiveAt`, in the charge's period, so that
 *   credits never exceed charges per call, per publisher or per period; `createdAt` says when it was written.
 */
import { creditEntryId, type CreditEntry } from '../ledger/entries';
import type { ChargeEntry } from '../ledger/entries';

export const DISPUTE_REASONS = [
  'fraud',
  'robocall',
  'repeat_caller',
  'incentivized',
  'wrong_number',
  'below_buffer',
  'not_qualified',
  'other',
] as const;
export type DisputeReason = (typeof DISPUTE_REASONS)[number];

export interface CreditPolicy {
  readonly disputeWindowDays: number;
  readonly allowedReasons: readonly DisputeReason[];
}

/** Body of `POST /v1/calls/{callId}/dispute` (schema: disputes-schema.ts). */
export interface OpenDisputeRequest {
  readonly reason: DisputeReason;
  readonly note: string;
}

/** Body of a dispute resolution (schema: disputes-schema.ts). */
export type ResolveDisputeRequest =
  | { readonly outcome: 'accepted'; readonly note: string; /** Partial credit; the whole charge when absent. */ readonly creditCents?: number | undefined }
  | { readonly outcome: 'rejected'; readonly note: string };

export type DisputeStatus = 'open' | 'accepted' | 'rejected';

export interface DisputeTransition {
  readonly status: DisputeStatus;
  readonly at: string;
  /** Who acted (an API key's id or label; never a secret). */
  readonly by: string;
  readonly note: string;
}

interface DisputeBase {
  readonly disputeId: string;
  readonly accountId: string;
  readonly callId: string;
  readonly chargeEntryId: string;
  readonly publisherId: string;
  readonly chargeCents: number;
  readonly reason: DisputeReason;
  readonly note: string;
  readonly openedAt: string;
  readonly openedBy: string;
  /** Oldest first; the last transition is the current status. */
  readonly history: readonly DisputeTransition[];
}

export interface OpenDispute extends DisputeBase {
  readonly status: 'open';
}
export interface AcceptedDispute extends DisputeBase {
  readonly status: 'accepted';
  readonly resolvedAt: string;
  readonly resolvedBy: string;
  readonly creditCents: number;
}
export interface RejectedDispute extends DisputeBase {
  readonly status: 'rejected';
  readonly resolvedAt: string;
  readonly resolvedBy: string;
}
export type Dispute = OpenDispute | AcceptedDispute | RejectedDispute;

export type DisputeRefusal =
  | { readonly kind: 'charge_reversed'; readonly callId: string; readonly reversalEntryId: string; readonly priorCallId: string | null }
  | { readonly kind: 'not_billed'; readonly callId: string }
  | { readonly kind: 'already_disputed'; readonly existing: Dispute }
  | { readonly kind: 'reason_not_allowed'; readonly reason: DisputeReason; readonly allowed: readonly DisputeReason[] }
  | { readonly kind: 'outside_window'; readonly deadline: string; readonly disputeWindowDays: number }
  | { readonly kind: 'already_resolved'; readonly existing: Dispute }
  | { readonly kind: 'credit_out_of_range'; readonly creditCents: number; readonly chargeCents: number };

export type DisputeResult =
  | { readonly ok: true; readonly dispute: Dispute; /** false when an identical retry returned the stored dispute */ readonly changed: boolean }
  | { readonly ok: false; readonly refusal: DisputeRefusal };

/** A call's charge that was reversed: the reversal and the earlier call that bills instead. */
export interface ReversedCharge {
  readonly reversalEntryId: string;
  readonly priorCallId: string | null;
}

export function disputeId(callId: string): string {
  return `dispute:${callId}`;
}

export function openDispute(
  charge: ChargeEntry | null,
  policy: CreditPolicy,
  request: OpenDisputeRequest & { readonly callId: string; readonly actor: string },
  nowMs: number,
  existing: Dispute | null,
  reversed: ReversedCharge | null = null,
): DisputeResult {
  if (charge === null && reversed !== null) return { ok: false, refusal: { kind: 'charge_reversed', callId: request.callId, ...reversed } };
  if (charge === null || charge.callId !== request.callId) return { ok: false, refusal: { kind: 'not_billed', callId: request.callId } };
  if (existing !== null) {
    const sameRequest = existing.status === 'open' && existing.reason === request.reason && existing.note === request.note;
    return sameRequest ? { ok: true, dispute: existing, changed: false } : { ok: false, refusal: { kind: 'already_disputed', existing } };
  }
  if (!policy.allowedReasons.includes(request.reason)) {
    return { ok: false, refusal: { kind: 'reason_not_allowed', reason: request.reason, allowed: policy.allowedReasons } };
  }
  const deadlineMs = Date.parse(charge.effectiveAt) + policy.disputeWindowDays * 86_400_000;
  if (nowMs >= deadlineMs) {
    return {
      ok: false,
      refusal: { kind: 'outside_window', deadline: new Date(deadlineMs).toISOString(), disputeWindowDays: policy.disputeWindowDays },
    };
  }
  const at = new Date(nowMs).toISOString();
  return {
    ok: true,
    changed: true,
    dispute: {
      disputeId: disputeId(charge.callId),
      accountId: charge.accountId,
      callId: charge.callId,
      chargeEntryId: charge.entryId,
      publisherId: charge.publisherId,
      chargeCents: charge.amountCents,
      reason: request.reason,
      note: request.note,
      openedAt: at,
      openedBy: request.actor,
      status: 'open',
      history: [{ status: 'open', at, by: request.actor, note: request.note }],
    },
  };
}

export function resolveDispute(dispute: Dispute, outcome: ResolveDisputeRequest, actor: string, nowMs: number): DisputeResult {
  switch (dispute.status) {
    case 'open':
      break;
    case 'accepted':
    case 'rejected': {
      // An identical retry (same outcome, note and credit) returns the stored dispute; anything else is 409.
      const sameOutcome = dispute.status === outcome.outcome && dispute.history.at(-1)?.note === outcome.note;
      const sameCredit =
        dispute.status !== 'accepted' || outcome.outcome !== 'accepted' || dispute.creditCents === (outcome.creditCents ?? dispute.chargeCents);
      const sameRequest = sameOutcome && sameCredit;
      return sameRequest ? { ok: true, dispute, changed: false } : { ok: false, refusal: { kind: 'already_resolved', existing: dispute } };
    }
    default: {
      const exhaustive: never = dispute;
      return exhaustive;
    }
  }
  const at = new Date(nowMs).toISOString();
  const history = [...dispute.history, { status: outcome.outcome, at, by: actor, note: outcome.note }];
  switch (outcome.outcome) {
    case 'accepted': {
      const creditCents = outcome.creditCents ?? dispute.chargeCents;
      if (!Number.isSafeInteger(creditCents) || creditCents < 1 || creditCents > dispute.chargeCents) {
        return { ok: false, refusal: { kind: 'credit_out_of_range', creditCents, chargeCents: dispute.chargeCents } };
      }
      return { ok: true, changed: true, dispute: { ...dispute, status: 'accepted', resolvedAt: at, resolvedBy: actor, creditCents, history } };
    }
    case 'rejected':
      return { ok: true, changed: true, dispute: { ...dispute, status: 'rejected', resolvedAt: at, resolvedBy: actor, history } };
    default: {
      const exhaustive: never = outcome;
      return exhaustive;
    }
  }
}

/** The credit an accepted dispute appends. Throws on a programming error (wrong charge, dispute not accepted). */
export function creditEntry(charge: ChargeEntry, dispute: Dispute, createdAt: string): CreditEntry {
  if (dispute.status !== 'accepted') throw new Error(`creditEntry: dispute ${dispute.disputeId} is ${dispute.status}`);
  if (dispute.chargeEntryId !== charge.entryId || charge.callId !== dispute.callId) {
    throw new Error(`creditEntry: dispute ${dispute.disputeId} is not about ${charge.entryId}`);
  }
  const creditCents = Math.min(dispute.creditCents, charge.amountCents);
  return {
    entryId: creditEntryId(charge.callId),
    type: 'credit',
    amountCents: -creditCents,
    currency: charge.currency,
    callId: charge.callId,
    accountId: charge.accountId,
    publisherId: charge.publisherId,
    subSource: charge.subSource,
    campaignId: charge.campaignId,
    termsVersion: charge.termsVersion,
    effectiveAt: charge.effectiveAt,
    createdAt,
    disputeId: dispute.disputeId,
    correctsEntryId: charge.entryId,
    ...(charge.pilotId === undefined ? {} : { pilotId: charge.pilotId }),
  };
}

/** A credit of the whole charge takes its call out of the caller's duplicate window (duplicate-window.ts `leave`). */
export function isFullCredit(charge: Pick<ChargeEntry, 'amountCents'>, credit: Pick<CreditEntry, 'amountCents'>): boolean {
  return credit.amountCents === -charge.amountCents;
}

