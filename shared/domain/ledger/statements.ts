/**
 * Statements: what the buyer owes a publisher for a calendar month in the ACCOUNT's time zone.
 *
 * An entry belongs to the period containing its `effectiveAt` (a charge's is the call's start; a credit carries
 * its charge's), so a credit lands in the period of the charge it corrects. A statement therefore changes when a
 * later dispute credits one of its calls; its digest says so. A reversal (the duplicate window moved the charge to
 * an earlier call of the caller: duplicate-window.ts) is booked when it is written, so it is a line of the CURRENT
 * period naming the charge it reverses, and a statement already issued for the charge's period keeps its digest; a
 * period whose only line for a publisher is such a reversal nets negative.
 *
 * Digest (both parties can recompute it): SHA-256, lowercase hex, of the period's entries serialised with
 * `statementLine` (ledger/entries.ts: a JSON array of entryId, type, callId, publisherId, subSource, campaignId,
 * termsVersion, effectiveAt, amountCents, currency, correctsEntryId), sorted by entryId, joined with "\n".
 * An empty period hashes the empty string.
 */
import { isPeriod, PERIOD_MESSAGE } from '../kernel/input';
import { BadRequest } from '../kernel/problems';
import { byEntryId, entryTotals, sha256Hex, statementLine, type LedgerEntry } from './entries';
import { zonedToUtcMs } from '../kernel/zoned-time';

export const STATEMENT_DIGEST = 'sha256/callledger-statement-lines-v1' as const;

export interface PeriodBounds {
  /** Inclusive: the first instant of the month in the zone. */
  readonly startMs: number;
  /** Exclusive: the first instant of the next month in the zone. */
  readonly endMs: number;
}

/** `2026-11` in America/Chicago → [2026-11-01T05:00Z, 2026-12-01T06:00Z): DST-correct through Intl. */
export function periodBounds(period: string, timeZone: string): PeriodBounds {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period);
  if (!m || !isPeriod(period)) throw new BadRequest('Invalid period.', [{ field: 'period', message: PERIOD_MESSAGE }]);
  const year = Number(m[1]);
  const month = Number(m[2]);
  return {
    startMs: zonedToUtcMs({ year, month, day: 1 }, timeZone),
    endMs: zonedToUtcMs(month === 12 ? { year: year + 1, month: 1, day: 1 } : { year, month: month + 1, day: 1 }, timeZone),
  };
}

export interface Statement {
  readonly period: string;
  readonly timeZone: string;
  readonly publisherId: string | null;
  readonly startAt: string;
  readonly endAt: string;
  readonly chargesCents: number;
  readonly creditsCents: number;
  /** Reversals booked in the period (≤ 0), of charges of this period or an earlier one. */
  readonly reversalsCents: number;
  readonly netPayableCents: number;
  readonly entryCount: number;
  readonly digest: { readonly algorithm: typeof STATEMENT_DIGEST; readonly value: string };
  /** The period's entries in canonical (entryId) order: the lines the digest covers. */
  readonly entries: readonly LedgerEntry[];
}

export function statementDigest(entries: readonly LedgerEntry[]): string {
  return sha256Hex([...entries].sort(byEntryId).map(statementLine).join('\n'));
}

/** Entries of other periods (and, when `publisherId` is given, of other publishers) are ignored. */
export function statement(
  entries: readonly LedgerEntry[],
  period: string,
  timeZone: string,
  publisherId: string | null = null,
): Statement {
  const { startMs, endMs } = periodBounds(period, timeZone);
  const inPeriod = entries
    .filter((e) => {
      const at = Date.parse(e.effectiveAt);
      return at >= startMs && at < endMs && (publisherId === null || e.publisherId === publisherId);
    })
    .sort(byEntryId);
  const t = entryTotals(inPeriod);
  return {
    period,
    timeZone,
    publisherId,
    startAt: new Date(startMs).toISOString(),
    endAt: new Date(endMs).toISOString(),
    chargesCents: t.chargesCents,
    creditsCents: t.creditsCents,
    reversalsCents: t.reversalsCents,
    netPayableCents: t.netCents,
    entryCount: t.count,
    digest: { algorithm: STATEMENT_DIGEST, value: statementDigest(inPeriod) },
    entries: inPeriod,
  };
}
