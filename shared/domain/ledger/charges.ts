/**
 * Ledger entries: immutable, integer cents, with ids and sort keys derived from the call so that a retried
 * write collides with itself (and fails its `attribute_not_exists` condition) instead of billing twice.
 */
import type { LedgerEntry } from '../kernel/types';
import type { RatingDecision } from '../rating/decision';

/**
 * A call's first charge is `charge:<callId>` (as it always was); a call that bills again after its charge was reversed
 * (the duplicate window moved back to it: duplicate-window.ts) gets its n-th charge `charge:<callId>:<n>`.
 */
export function chargeEntryId(callId: string, seq = 1): string {
  return seq <= 1 ? `charge:${callId}` : `charge:${callId}:${seq}`;
}

export function chargeEntry(args: {
  accountId: string;
  callId: string;
  /** The rating's billing facts and terms version (a RatingDecision, or a RecordedRating re-billed). */
  decision: Pick<RatingDecision, 'billable' | 'amountCents' | 'campaignId' | 'publisherId' | 'subSource' | 'termsVersion'>;
  startedAt: string;
  createdAt: string;
  /** The pilot whose counter the charge is counted against. */
  pilotId?: string;
  /** Which of the call's charges this is (default 1: chargeEntryId). */
  seq?: number;
}): LedgerEntry {
  const { decision } = args;
  if (
    !decision.billable ||
    decision.campaignId === null ||
    decision.publisherId === null ||
    decision.termsVersion === null
  ) {
    throw new Error(`chargeEntry: call ${args.callId} is not billable`);
  }
  if (!Number.isSafeInteger(decision.amountCents) || decision.amountCents <= 0) {
    throw new Error(`chargeEntry: amount must be a positive integer of cents, got ${decision.amountCents}`);
  }
  return {
    entryId: chargeEntryId(args.callId, args.seq),
    type: 'charge',
    amountCents: decision.amountCents,
    currency: 'USD',
    callId: args.callId,
    accountId: args.accountId,
    publisherId: decision.publisherId,
    subSource: decision.subSource,
    campaignId: decision.campaignId,
    termsVersion: decision.termsVersion,
    effectiveAt: args.startedAt,
    createdAt: args.createdAt,
    ...(args.pilotId === undefined ? {} : { pilotId: args.pilotId }),
  };
}

export function ledgerSortKey(entry: Pick<LedgerEntry, 'effectiveAt' | 'entryId'>): string {
  return `${entry.effectiveAt}#${entry.entryId}`;
}

export interface Totals {
  readonly chargesCents: number;
  readonly creditsCents: number;
  readonly reversalsCents: number;
  readonly netCents: number;
  readonly count: number;
}

/** Charges are positive, credits and reversals negative; net is their sum. Integer arithmetic only. */
export function totals(entries: readonly { readonly type: 'charge' | 'credit' | 'reversal'; readonly amountCents: number }[]): Totals {
  let chargesCents = 0;
  let creditsCents = 0;
  let reversalsCents = 0;
  for (const e of entries) {
    if (e.type === 'charge') chargesCents += e.amountCents;
    else if (e.type === 'reversal') reversalsCents += e.amountCents;
    else creditsCents += e.amountCents;
  }
  return { chargesCents, creditsCents, reversalsCents, netCents: chargesCents + creditsCents + reversalsCents, count: entries.length };
}
