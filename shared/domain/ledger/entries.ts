/**
 * Ledger entries: immutable, integer cents, with ids and sort keys derived from the call so that a retried write
 * collides with itself (and fails its `attribute_not_exists` condition) instead of billing twice. Three kinds: a
 * charge (a billable call), a credit and a reversal. A credit never edits a charge; it is a new, negative entry that
 * names the charge it corrects and the dispute that allowed it. A reversal is the same for the duplicate window: a
 * new, negative entry, booked when it is written, that takes back what remains of a charge whose call is no longer
 * the one that bills for its caller's window (an earlier call's final callback arrived late; duplicate-window.ts),
 * and names that charge and the call that bills instead.
 *
 * Canonical serialisation (so another party, in another language, can recompute the same bytes):
 * one entry = a JSON array of its fields in the fixed order below, `null` for an absent value, integers as JSON
 * numbers, strings escaped as ECMAScript `JSON.stringify` does (only `"`, `\` and U+0000-U+001F; non-ASCII as
 * UTF-8) — Python: `json.dumps(fields, separators=(",", ":"), ensure_ascii=False)`. Entries are sorted by
 * `entryId` (UTF-16 code unit order; ids are ASCII, so byte order) and joined with `\n`, no trailing newline.
 */
import { createHash } from 'node:crypto';
import type { RatingDecision } from '../rating/decision';

/** A billable call's charge. */
export interface ChargeEntry {
  /** Deterministic: `charge:<callId>` (the n-th charge of a call: `charge:<callId>:<n>`, chargeEntryId). */
  readonly entryId: string;
  readonly type: 'charge';
  /** Integer cents; positive for charges. */
  readonly amountCents: number;
  readonly currency: 'USD';
  readonly callId: string;
  readonly accountId: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly campaignId: string;
  readonly termsVersion: number;
  /** The instant the entry is booked against (the call's start): deterministic, part of the key. */
  readonly effectiveAt: string;
  /** Wall-clock time the entry was written. */
  readonly createdAt: string;
  /** The pilot whose counter this charge was counted against (pilots/caps.ts); absent for calls outside pilots. */
  readonly pilotId?: string;
}

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
}): ChargeEntry {
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

export interface CreditEntry extends Omit<ChargeEntry, 'type'> {
  /** Deterministic `credit:<callId>`: at most one credit per charge, enforced by the conditional put. */
  readonly type: 'credit';
  /** Negative integer cents, never more than the charge it corrects. */
  readonly amountCents: number;
  readonly disputeId: string;
  /** The `entryId` of the charge. */
  readonly correctsEntryId: string;
}

/**
 * `reversal:<callId>` (the n-th charge's: `reversal:<callId>:<n>`): at most one per charge, enforced by the duplicate
 * window's version condition and the call's rating condition in the transaction that writes it.
 */
export interface ReversalEntry extends Omit<ChargeEntry, 'type'> {
  readonly type: 'reversal';
  /** Negative: what remained of the charge (the charge plus its credits), so the call nets to exactly 0. */
  readonly amountCents: number;
  /** The `entryId` of the reversed charge. */
  readonly correctsEntryId: string;
  /** The earlier call that bills for the caller's window instead; the reversed call is now its duplicate. */
  readonly priorCallId: string;
}

export type LedgerEntry = ChargeEntry | CreditEntry | ReversalEntry;
export type LedgerEntryType = LedgerEntry['type'];

export function creditEntryId(callId: string): string {
  return `credit:${callId}`;
}

/** The reversal of a call's `seq`-th charge: `reversal:<callId>` for the first, `reversal:<callId>:<seq>` after. */
export function reversalEntryId(callId: string, seq = 1): string {
  return seq <= 1 ? `reversal:${callId}` : `reversal:${callId}:${seq}`;
}

/**
 * The reversal of `charge` when its call became a duplicate of `priorCallId`: minus what remains of the charge
 * (`remainingCents`: the charge plus the credits booked against it since), booked at `at` (when it is written: a
 * statement already issued for the charge's period does not change; the correction is in the current one). Throws on
 * a programming error (nothing remains, or more than the charge).
 */
export function reversalEntry(charge: ChargeEntry, args: { readonly remainingCents: number; readonly seq: number; readonly priorCallId: string; readonly at: string }): ReversalEntry {
  if (!Number.isSafeInteger(args.remainingCents) || args.remainingCents <= 0 || args.remainingCents > charge.amountCents) {
    throw new Error(`reversalEntry: ${args.remainingCents} cents cannot reverse ${charge.entryId} (${charge.amountCents} cents)`);
  }
  return {
    entryId: reversalEntryId(charge.callId, args.seq),
    type: 'reversal',
    amountCents: -args.remainingCents,
    currency: charge.currency,
    callId: charge.callId,
    accountId: charge.accountId,
    publisherId: charge.publisherId,
    subSource: charge.subSource,
    campaignId: charge.campaignId,
    termsVersion: charge.termsVersion,
    effectiveAt: args.at,
    createdAt: args.at,
    correctsEntryId: charge.entryId,
    priorCallId: args.priorCallId,
    ...(charge.pilotId === undefined ? {} : { pilotId: charge.pilotId }),
  };
}

export interface LedgerTotals {
  /** Sum of charges (≥ 0). */
  readonly chargesCents: number;
  /** Sum of credits (≤ 0). */
  readonly creditsCents: number;
  /** Sum of reversals (≤ 0). */
  readonly reversalsCents: number;
  readonly netCents: number;
  readonly count: number;
}

/** Integer arithmetic only; the net is always the sum of every entry. */
export function entryTotals(entries: readonly Pick<LedgerEntry, 'type' | 'amountCents'>[]): LedgerTotals {
  let chargesCents = 0;
  let creditsCents = 0;
  let reversalsCents = 0;
  for (const e of entries) {
    switch (e.type) {
      case 'charge':
        chargesCents += e.amountCents;
        break;
      case 'credit':
        creditsCents += e.amountCents;
        break;
      case 'reversal':
        reversalsCents += e.amountCents;
        break;
      default: {
        const exhaustive: never = e.type;
        throw new Error(`unknown entry type ${JSON.stringify(exhaustive)}`);
      }
    }
  }
  return { chargesCents, creditsCents, reversalsCents, netCents: chargesCents + creditsCents + reversalsCents, count: entries.length };
}

function credit(e: LedgerEntry): { disputeId: string | null; correctsEntryId: string | null } {
  switch (e.type) {
    case 'credit':
      return { disputeId: e.disputeId, correctsEntryId: e.correctsEntryId };
    case 'reversal':
      return { disputeId: null, correctsEntryId: e.correctsEntryId };
    default:
      return { disputeId: null, correctsEntryId: null };
  }
}

/**
 * The fields a publisher sees on a statement line, in canonical order:
 * entryId, type, callId, publisherId, subSource, campaignId, termsVersion, effectiveAt, amountCents, currency,
 * correctsEntryId.
 */
export function statementLine(e: LedgerEntry): string {
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
 * existed keep their hashes). A reversal always has both of its own last two fields, pilotId (or null) and
 * priorCallId, so its line never depends on whether it has a pilot; charges and credits keep their bytes.
 */
export function contentLine(e: LedgerEntry): string {
  const c = credit(e);
  const pilot = e.type === 'reversal' ? [e.pilotId ?? null, e.priorCallId] : e.pilotId === undefined ? [] : [e.pilotId];
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
