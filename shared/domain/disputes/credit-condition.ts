/**
 * One credit per charge, never more than the charge: what a dispute's resolution must find when it writes, as data.
 * The database enforces it in the resolution's one transaction (shared/adapters/disputes/credit-condition.ts spells
 * it); the domain decides it here. Three things make it hold under concurrent resolutions and retries:
 * - the dispute is still open: of two resolutions racing, exactly one writes (the other is told `not_open`);
 * - the credit's ledger key is free: a call has one dispute and its credit one deterministic id (creditEntryId), so a
 *   credit is never booked twice, whatever retries;
 * - the call still bills the charge the credit corrects, reversed exactly as often as the resolution read it: a
 *   reversal of the charge (the duplicate window moved it to an earlier call) commits on the same call item, so of a
 *   credit and a reversal racing exactly one wins, and credits plus reversals never exceed the charge.
 * The credit's amount is capped at the charge by creditEntry (disputes.ts).
 */
import type { CreditEntry } from '../ledger/entries';
import type { Dispute } from './disputes';

export interface CreditCondition<E extends Pick<CreditEntry, 'callId'> = CreditEntry> {
  readonly disputeId: string;
  /** The status the stored dispute must still have. */
  readonly disputeStatus: 'open';
  /** The credit to book, on a key that must be free; null when the resolution credits nothing (rejected). */
  readonly credit: E | null;
  /** What the credited call must still be: billable, with this many reversals of its charges (0: none). */
  readonly call: { readonly callId: string; readonly billable: true; readonly reversals: number } | null;
}

/** The condition of resolving `dispute` with `credit` (null: no credit), the call's reversals as read. */
export function creditCondition<E extends Pick<CreditEntry, 'callId'>>(dispute: Dispute, credit: E | null, read: { readonly reversals: number }): CreditCondition<E> {
  return {
    disputeId: dispute.disputeId,
    disputeStatus: 'open',
    credit,
    call: credit === null ? null : { callId: credit.callId, billable: true, reversals: read.reversals },
  };
}
