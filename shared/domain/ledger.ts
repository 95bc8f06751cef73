/**
 * Ledger entries: immutable, integer cents, with ids and sort keys derived from the call so that a retried
 * write collides with itself (and fails its `attribute_not_exists` condition) instead of billing twice.
 */
import type { LedgerEntry, RatingDecision } from './types';

export function chargeEntryId(callId: string): string {
  return `charge:${callId}`;
}

export function chargeEntry(args: {
  accountId: string;
  callId: string;
  decision: RatingDecision;
  startedAt: string;
  createdAt: string;
  /** The pilot whose counter the charge is counted against. */
  pilotId?: string;
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
    entryId: chargeEntryId(args.callId),
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
  readonly netCents: number;
  readonly count: number;
}

/** Charges are positive, credits negative; net is their sum. Integer arithmetic only. */
export function totals(entries: readonly Pick<LedgerEntry, 'type' | 'amountCents'>[]): Totals {
  let chargesCents = 0;
  let creditsCents = 0;
  for (const e of entries) {
    if (e.type === 'charge') chargesCents += e.amountCents;
    else creditsCents += e.amountCents;
  }
  return { chargesCents, creditsCents, netCents: chargesCents + creditsCents, count: entries.length };
}
