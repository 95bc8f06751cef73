import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CreditEntry, LedgerEntry, ChargeEntry } from '../../../shared/domain/ledger/entries';
import { BadRequest } from '../../../shared/domain/kernel/problems';
import { periodBounds, statement, statementDigest } from '../../../shared/domain/ledger/statements';
import { wallTime, zonedToUtcMs } from '../../../shared/domain/kernel/zoned-time';

const iso = (ms: number) => new Date(ms).toISOString();

describe('periodBounds', () => {
  it('is DST-correct: November in Chicago starts in CDT and ends in CST', () => {
    const { startMs, endMs } = periodBounds('2026-11', 'America/Chicago');
    expect(iso(startMs)).toBe('2026-11-01T05:00:00.000Z');
    expect(iso(endMs)).toBe('2026-12-01T06:00:00.000Z');
    expect(endMs - startMs).toBe((30 * 24 + 1) * 3_600_000);
  });

  it('March in New York is an hour short; December rolls into the next year', () => {
    const march = periodBounds('2026-03', 'America/New_York');
    expect([iso(march.startMs), iso(march.endMs)]).toEqual(['2026-03-01T05:00:00.000Z', '2026-04-01T04:00:00.000Z']);
    const dec = periodBounds('2026-12', 'UTC');
    expect([iso(dec.startMs), iso(dec.endMs)]).toEqual(['2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
  });

  it('handles fractional offsets', () => {
    expect(iso(periodBounds('2026-11', 'Asia/Kolkata').startMs)).toBe('2026-10-31T18:30:00.000Z');
    expect(iso(periodBounds('2026-12', 'Pacific/Chatham').startMs)).toBe('2026-11-30T10:15:00.000Z');
  });

  it('refuses a malformed period with 400 naming the field', () => {
    for (const bad of ['2026-13', '2026-1', 'Nov 2026', '2026-11-01', '0000-01', '9999-12']) {
      try {
        periodBounds(bad, 'UTC');
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(BadRequest);
        expect((err as BadRequest).errors).toEqual([{ field: 'period', message: 'must be YYYY-MM from 0001-01 to 9999-11' }]);
      }
    }
  });

  it('a day whose midnight is skipped starts at the transition (Santiago, 2026-09-06)', () => {
    expect(iso(zonedToUtcMs({ year: 2026, month: 9, day: 6 }, 'America/Santiago'))).toBe('2026-09-06T04:00:00.000Z');
    // Ambiguous wall time (clocks back): the earlier instant. 01:30 on 2026-11-01 in New York is first EDT.
    expect(iso(zonedToUtcMs({ year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z');
    // Skipped wall time mid-night: read with the offset before the jump (02:30 EST → 03:30 EDT).
    expect(iso(zonedToUtcMs({ year: 2026, month: 3, day: 8, hour: 2, minute: 30 }, 'America/New_York'))).toBe('2026-03-08T07:30:00.000Z');
  });

  it('property: periods tile the timeline and start at local midnight on the 1st', () => {
    const zones = ['UTC', 'America/Chicago', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Pacific/Chatham', 'America/Sao_Paulo'];
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 2040 }), fc.integer({ min: 1, max: 12 }), fc.constantFrom(...zones), (year, month, tz) => {
        const p = `${year}-${String(month).padStart(2, '0')}`;
        const next = month === 12 ? `${year + 1}-01` : `${year}-${String(month + 1).padStart(2, '0')}`;
        const a = periodBounds(p, tz);
        expect(a.endMs).toBe(periodBounds(next, tz).startMs);
        const w = wallTime(a.startMs, tz);
        expect([w.year, w.month, w.day, w.hour, w.minute]).toEqual([year, month, 1, 0, 0]);
        expect(wallTime(a.startMs - 1, tz).month).toBe(month === 1 ? 12 : month - 1);
      }),
    );
  });
});

function entry(n: number, over: Partial<ChargeEntry> = {}): ChargeEntry {
  return {
    entryId: `charge:twilio:CA${n}`,
    type: 'charge',
    amountCents: 4500,
    currency: 'USD',
    callId: `twilio:CA${n}`,
    accountId: 'acme',
    publisherId: 'pub-a',
    subSource: 'google',
    campaignId: 'roofing-tx',
    termsVersion: 1,
    effectiveAt: '2026-11-10T15:00:00.000Z',
    createdAt: '2026-11-10T15:05:00.000Z',
    ...over,
  };
}
function credit(of: ChargeEntry, amountCents: number): CreditEntry {
  return {
    ...of,
    entryId: `credit:${of.callId}`,
    type: 'credit',
    amountCents,
    createdAt: '2026-12-03T00:00:00.000Z',
    disputeId: `dispute:${of.callId}`,
    correctsEntryId: of.entryId,
  };
}

describe('statement', () => {
  const { startMs, endMs } = periodBounds('2026-11', 'America/Chicago');
  const first = entry(1, { effectiveAt: iso(startMs) });
  const last = entry(2, { effectiveAt: iso(endMs - 1), amountCents: 3500 });
  const before = entry(3, { effectiveAt: iso(startMs - 1) });
  const after = entry(4, { effectiveAt: iso(endMs) });
  const otherPub = entry(5, { publisherId: 'pub-b', amountCents: 1000 });
  const cr = credit(first, -4500);
  const all: LedgerEntry[] = [after, cr, last, before, otherPub, first];

  it('nets charges and credits of the period in the account zone, boundaries [start, end)', () => {
    const s = statement(all, '2026-11', 'America/Chicago', 'pub-a');
    expect(s).toMatchObject({
      startAt: '2026-11-01T05:00:00.000Z',
      endAt: '2026-12-01T06:00:00.000Z',
      chargesCents: 8000,
      creditsCents: -4500,
      netPayableCents: 3500,
      entryCount: 3,
    });
    expect(s.entries.map((e) => e.entryId)).toEqual(['charge:twilio:CA1', 'charge:twilio:CA2', 'credit:twilio:CA1']);
    expect(statement(all, '2026-11', 'America/Chicago').entryCount).toBe(4);
  });

  it('the digest follows the documented canonical serialisation', () => {
    const s = statement(all, '2026-11', 'America/Chicago', 'pub-a');
    const line = (e: LedgerEntry, corrects: string | null) =>
      `["${e.entryId}","${e.type}","${e.callId}","pub-a","google","roofing-tx",1,"${e.effectiveAt}",${e.amountCents},"USD",${corrects === null ? 'null' : `"${corrects}"`}]`;
    const text = [line(first, null), line(last, null), line(cr, 'charge:twilio:CA1')].join('\n');
    expect(s.digest).toEqual({ algorithm: 'sha256/callledger-statement-lines-v1', value: createHash('sha256').update(text).digest('hex') });
    expect(statement([], '2026-11', 'UTC').digest.value).toBe(createHash('sha256').update('').digest('hex'));
  });

  it('property: the digest ignores order and storage-only fields, and changes with any statement field', () => {
    const arbEntries = fc.uniqueArray(fc.record({ n: fc.nat(50), amountCents: fc.integer({ min: 1, max: 99_999 }) }), { selector: (x) => x.n, minLength: 1, maxLength: 10 });
    fc.assert(
      fc.property(arbEntries, fc.nat(), fc.integer({ min: 1, max: 100 }), (xs, pick, delta) => {
        const entries = xs.map((x) => entry(x.n, { amountCents: x.amountCents }));
        const digest = statementDigest(entries);
        expect(statementDigest([...entries].reverse())).toBe(digest);
        expect(statementDigest(entries.map((e) => ({ ...e, createdAt: '2030-01-01T00:00:00.000Z' })))).toBe(digest);
        const i = pick % entries.length;
        const edited = entries.map((e, j) => (j === i ? { ...e, amountCents: e.amountCents + delta } : e));
        expect(statementDigest(edited)).not.toBe(digest);
        expect(statementDigest(entries.filter((_, j) => j !== i))).not.toBe(digest);
      }),
    );
  });
});
