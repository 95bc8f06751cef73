/**
 * Ledger entries of issue 3: charges (as in ledger.ts) and credits, and the canonical serialisations that
 * statements and tamper evidence hash. A credit never edits a charge; it is a new, negative entry that names the
 * charge it corrects and the dispute that allowed it.
 *
 * Canonical serialisation (so another party, in another language, can recompute the same bytes):
 * one entry = a JSON array of its fields in the fixed order below, `null` for an absent value, integers as JSON
 * numbers, strings escaped as ECMAScript `JSON.stringify` does (only `"`, `\` and U+0000-U+001F; non-ASCII as
 * UTF-8) — Python: `json.dumps(fields, separators=(",", ":"), ensure_ascii=False)`. Entries are sorted by
 * `entryId` (UTF-16 code unit order; ids are ASCII, so byte order) and joined with `\n`, no trailing newline.
 */
import { createHash } from 'node:crypto';
import type { LedgerEntry } from './types';

export interface CreditEntry extends Omit<LedgerEntry, 'type'> {
  /** Deterministic `credit:<callId>`: at most one credit per charge, enforced by the conditional put. */
  readonly type: 'credit';
  /** Negative integer cents, never more than the charge it corrects. */
  readonly amountCents: number;
  readonly disputeId: string;
  /** The `entryId` of the charge. */
  readonly correctsEntryId: string;
}

export type LedgerEntryV2 = LedgerEntry | CreditEntry;

export function creditEntryId(callId: string): string {
  return `credit:${callId}`;
}

export interface EntryTotals {
  /** Sum of charges (≥ 0). */
  readonly chargesCents: number;
  /** Sum of credits (≤ 0). */
  readonly creditsCents: number;
  readonly netCents: number;
  readonly count: number;
}

/** Integer arithmetic only; the net is always the sum of every entry. */
export function entryTotals(entries: readonly LedgerEntryV2[]): EntryTotals {
  let chargesCents = 0;
  let creditsCents = 0;
  for (const e of entries) {
    switch (e.type) {
      case 'charge':
        chargesCents += e.amountCents;
        break;
      case 'credit':
        creditsCents += e.amountCents;
        break;
      default: {
        const exhaustive: never = e;
        throw new Error(`unknown entry ${JSON.stringify(exhaustive)}`);
      }
    }
  }
  return { chargesCents, creditsCents, netCents: chargesCents + creditsCents, count: entries.length };
}

function credit(e: LedgerEntryV2): { disputeId: string | null; correctsEntryId: string | null } {
  return e.type === 'credit' ? { disputeId: e.disputeId, correctsEntryId: e.correctsEntryId } : { disputeId: null, correctsEntryId: null };
}

/**
 * The fields a publisher sees on a statement line, in canonical order:
 * entryId, type, callId, publisherId, subSource, campaignId, termsVersion, effectiveAt, amountCents, currency,
 * correctsEntryId.
 */
export function statementLine(e: LedgerEntryV2): string {
  return JSON.stringify([
    e.entryId,
    e.type,
    e.callId,
    e.publisherId,
    e.subSource,
    e.campaignId,
    e.termsVersion,
    e.effectiveAt,
    e.amountCents,
    e.currency,
    credit(e).correctsEntryId,
  ]);
}

/**
 * Every stored field of an entry, in canonical order (what tamper evidence hashes): accountId, entryId, type,
 * callId, publisherId, subSource, campaignId, termsVersion, effectiveAt, createdAt, amountCents, currency,
 * disputeId, correctsEntryId, and then pilotId only when the entry has one (so entries written before pilots
 * existed keep their hashes).
 */
export function contentLine(e: LedgerEntryV2): string {
  const c = credit(e);
  const pilot = e.pilotId === undefined ? [] : [e.pilotId];
  return JSON.stringify([
    e.accountId,
    e.entryId,
    e.type,
    e.callId,
    e.publisherId,
    e.subSource,
    e.campaignId,
    e.termsVersion,
    e.effectiveAt,
    e.createdAt,
    e.amountCents,
    e.currency,
    c.disputeId,
    c.correctsEntryId,
    ...pilot,
  ]);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function byEntryId<T extends { readonly entryId: string }>(a: T, b: T): number {
  return a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0;
}
