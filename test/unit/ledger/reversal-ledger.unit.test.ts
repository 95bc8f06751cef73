/**
 * What the ledger, the marker item and the pilots' counters make of the duplicate window's reversals (pure parts):
 * the reversal entry and its canonical lines (charges and credits keep their bytes), totals and statements, the
 * marker's stored shape (and the old shape still read), and the counter movements of one transaction summed per item.
 */
import { describe, expect, it } from 'vitest';
import { decodeWindow, encodeWindow, windowCondition } from '../../../shared/adapters/rating/duplicate-marker';
import { creditEntry } from '../../../shared/domain/disputes/disputes';
import { chargeEntry, chargeEntryId, contentLine, entryTotals, reversalEntry, statementLine } from '../../../shared/domain/ledger/entries';
import { moveRefusal, netPilotMovements, type PilotCharge } from '../../../shared/domain/pilots/caps';
import { statement } from '../../../shared/domain/ledger/statements';
import type { RatingDecision } from '../../../shared/domain/rating/decision';
import type { ReportCall } from '../../../shared/domain/reports/analytics';
import { createScorecard } from '../../../shared/domain/reports/scorecard';
import { scorecardCountsOf } from '../../../shared/domain/reports/source-counters';
import { marshall } from '@aws-sdk/util-dynamodb';

const decision: RatingDecision = {
  billable: true,
  amountCents: 4500,
  reasons: [],
  campaignId: 'camp',
  publisherId: 'pub-b',
  subSource: null,
  termsVersion: 2,
  rules: [],
  price: null,
};
const charge = chargeEntry({ accountId: 'acct', callId: 'twilio:CAL', decision, startedAt: '2026-10-31T23:00:00.000Z', createdAt: '2026-11-01T00:00:00.000Z' });

describe('reversal entries', () => {
  it('minus what remains of the charge, naming it and the call that bills instead, booked when written', () => {
    const r = reversalEntry(charge, { remainingCents: 3500, seq: 1, priorCallId: 'twilio:CAE', at: '2026-12-02T10:00:00.000Z' });
    expect(r).toEqual({
      entryId: 'reversal:twilio:CAL',
      type: 'reversal',
      amountCents: -3500,
      currency: 'USD',
      callId: 'twilio:CAL',
      accountId: 'acct',
      publisherId: 'pub-b',
      subSource: null,
      campaignId: 'camp',
      termsVersion: 2,
      effectiveAt: '2026-12-02T10:00:00.000Z',
      createdAt: '2026-12-02T10:00:00.000Z',
      correctsEntryId: 'charge:twilio:CAL',
      priorCallId: 'twilio:CAE',
    });
    expect(reversalEntry({ ...charge, entryId: chargeEntryId('twilio:CAL', 2) }, { remainingCents: 4500, seq: 2, priorCallId: 'x', at: r.effectiveAt }).entryId).toBe('reversal:twilio:CAL:2');
    expect(() => reversalEntry(charge, { remainingCents: 0, seq: 1, priorCallId: 'x', at: r.effectiveAt })).toThrow();
    expect(() => reversalEntry(charge, { remainingCents: 4501, seq: 1, priorCallId: 'x', at: r.effectiveAt })).toThrow();
  });

  it('canonical lines: a reversal has pilotId (or null) and priorCallId last; charges and credits keep their bytes', () => {
    // The bytes of a charge and a credit as they were first defined (test vectors: their hashes are stored).
    expect(contentLine(charge)).toBe(
      '["acct","charge:twilio:CAL","charge","twilio:CAL","pub-b",null,"camp",2,"2026-10-31T23:00:00.000Z","2026-11-01T00:00:00.000Z",4500,"USD",null,null]',
    );
    const dispute = { status: 'accepted', disputeId: 'dispute:twilio:CAL', chargeEntryId: charge.entryId, callId: charge.callId, creditCents: 1000 } as unknown as Parameters<typeof creditEntry>[1];
    const credit = creditEntry(charge, dispute, '2026-11-02T00:00:00.000Z');
    expect(contentLine(credit)).toBe(
      '["acct","credit:twilio:CAL","credit","twilio:CAL","pub-b",null,"camp",2,"2026-10-31T23:00:00.000Z","2026-11-02T00:00:00.000Z",-1000,"USD","dispute:twilio:CAL","charge:twilio:CAL"]',
    );
    const r = reversalEntry(charge, { remainingCents: 3500, seq: 1, priorCallId: 'twilio:CAE', at: '2026-12-02T10:00:00.000Z' });
    expect(contentLine(r)).toBe(
      '["acct","reversal:twilio:CAL","reversal","twilio:CAL","pub-b",null,"camp",2,"2026-12-02T10:00:00.000Z","2026-12-02T10:00:00.000Z",-3500,"USD",null,"charge:twilio:CAL",null,"twilio:CAE"]',
    );
    expect(contentLine({ ...r, pilotId: 'pil' })).toContain('"pil","twilio:CAE"]');
    expect(statementLine(r)).toBe('["reversal:twilio:CAL","reversal","twilio:CAL","pub-b",null,"camp",2,"2026-12-02T10:00:00.000Z",-3500,"USD","charge:twilio:CAL"]');
  });

  it('totals and statements: reversals apart, net = charges + credits + reversals; the reversal lands in the period it was written', () => {
    const r = reversalEntry(charge, { remainingCents: 4500, seq: 1, priorCallId: 'twilio:CAE', at: '2026-12-02T10:00:00.000Z' });
    expect(entryTotals([charge, r])).toEqual({ chargesCents: 4500, creditsCents: 0, reversalsCents: -4500, netCents: 0, count: 2 });
    const october = statement([charge, r], '2026-10', 'America/Chicago', 'pub-b');
    const december = statement([charge, r], '2026-12', 'America/Chicago', 'pub-b');
    expect(october).toMatchObject({ chargesCents: 4500, reversalsCents: 0, netPayableCents: 4500, entryCount: 1 });
    expect(october.digest).toEqual(statement([charge], '2026-10', 'America/Chicago', 'pub-b').digest);
    expect(december).toMatchObject({ chargesCents: 0, reversalsCents: -4500, netPayableCents: -4500, entryCount: 1 });
  });
});

describe('the duplicate marker item', () => {
  const state = {
    version: 3,
    calls: [
      { callId: 'twilio:CAE', startMs: 1_000, windowMs: 24 * 3_600_000, priceCents: 4500, billed: true, charges: 1 },
      { callId: 'twilio:CAL', startMs: 2_000, windowMs: 24 * 3_600_000, priceCents: null, billed: false, charges: 1 },
    ],
    horizonMs: 500,
  };

  it('round-trips, with one-letter keys and absent defaults', () => {
    const item = encodeWindow(state);
    expect(decodeWindow({ ...marshall({ pk: 'DUP#a#c#h', sk: 'DUP' }), ...item })).toEqual({ state, stored: { kind: 'versioned', version: 3 } });
    expect(item.c!.L![1]!.M).toEqual({ i: { S: 'twilio:CAL' }, s: { N: '2000' }, w: { N: '24' }, n: { N: '1' } });
    expect(decodeWindow(undefined)).toEqual({ state: { version: 0, calls: [], horizonMs: null }, stored: { kind: 'absent' } });
  });

  it('reads the old shape as its one billed call, its window from the ttl the old writer set, and conditions a write on it', () => {
    const start = Date.parse('2026-11-20T15:00:00.000Z');
    const old = marshall({ pk: 'DUP#a#c#h', sk: 'DUP', callId: 'twilio:CAL', billedStartMs: start, ttl: Math.ceil((start + 72 * 3_600_000 + 86_400_000) / 1000) });
    expect(decodeWindow(old)).toEqual({
      state: { version: 0, calls: [{ callId: 'twilio:CAL', startMs: start, windowMs: 72 * 3_600_000, priceCents: null, billed: true, charges: 1 }], horizonMs: null },
      stored: { kind: 'legacy', callId: 'twilio:CAL', billedStartMs: start },
    });
    expect(windowCondition({ kind: 'legacy', callId: 'twilio:CAL', billedStartMs: start }).expression).toBe('attribute_not_exists(#v) AND #lc = :lc AND #ls = :ls');
    expect(windowCondition({ kind: 'versioned', version: 3 })).toEqual({ expression: '#v = :v', names: { '#v': 'v' }, values: { ':v': { N: '3' } } });
  });
});

describe('pilot counter movements of one transaction', () => {
  const p = (pilotId: string, priceCents: number, date: string | null = null): PilotCharge => ({
    accountId: 'acct',
    pilotId,
    priceCents,
    spendCapCents: 10_000,
    maxBillableCalls: 3,
    day: date === null ? null : { date, dailyCapCents: 6000 },
  });

  it('sums a charge and a giveback of one pilot into one update per item; another pilot apart', () => {
    const moves = netPilotMovements([
      { kind: 'charge', charge: p('pil-1', 4000, '2026-11-20') },
      { kind: 'giveback', charge: p('pil-1', 4500, '2026-11-21') },
      { kind: 'giveback', charge: p('pil-2', 3000) },
    ]);
    expect(moves).toEqual([
      {
        accountId: 'acct',
        pilotId: 'pil-1',
        spendCapCents: 10_000,
        maxBillableCalls: 3,
        deltaCents: -500,
        deltaCalls: 0,
        counts: true,
        days: [
          { date: '2026-11-20', dailyCapCents: 6000, deltaCents: 4000, deltaCalls: 1, givesBack: false },
          { date: '2026-11-21', dailyCapCents: 6000, deltaCents: -4500, deltaCalls: -1, givesBack: true },
        ],
      },
      { accountId: 'acct', pilotId: 'pil-2', spendCapCents: 10_000, maxBillableCalls: 3, deltaCents: -3000, deltaCalls: -1, counts: false, days: [] },
    ]);
  });

  it('a refusal is judged on the sum: a closed counter refuses a counted charge, a giveback alone never', () => {
    const [charge] = netPilotMovements([{ kind: 'charge', charge: p('pil-1', 4000) }]);
    const [giveback] = netPilotMovements([{ kind: 'giveback', charge: p('pil-1', 4000) }]);
    const [both] = netPilotMovements([
      { kind: 'charge', charge: p('pil-1', 4500) },
      { kind: 'giveback', charge: p('pil-1', 4500) },
    ]);
    expect(moveRefusal(charge!, { open: false, spentCents: 0, billableCalls: 0 }, new Map())).toBe('closed');
    expect(moveRefusal(giveback!, { open: false, spentCents: 4000, billableCalls: 1 }, new Map())).toBeNull();
    expect(moveRefusal(charge!, { open: true, spentCents: 7000, billableCalls: 1 }, new Map())).toBe('spend_cap');
    expect(moveRefusal(both!, { open: true, spentCents: 10_000, billableCalls: 3 }, new Map())).toBeNull();
    expect(moveRefusal(charge!, { open: true, spentCents: 0, billableCalls: 3 }, new Map())).toBe('max_calls');
  });
});

describe('reports: a reversed call nets what the ledger says', () => {
  const base: ReportCall = {
    callId: 'twilio:CAL',
    startedAtMs: Date.parse('2026-11-20T15:00:00.000Z'),
    campaignId: 'camp',
    publisherId: 'pub-b',
    subSource: null,
    connected: true,
    billableSec: 120,
    billable: false,
    amountCents: 0,
    reasons: ['duplicate_caller'],
    creditsCents: -1000,
    disputed: true,
    outcome: null,
    priceIfBillableCents: null,
  };
  // Charged 4500, credited 1000, then reversed by the remaining 3500: the call nets 0.
  const reversed: ReportCall = { ...base, reversedChargesCents: 4500, reversalsCents: -3500 };

  it('scorecard: spend counts the reversed charge, reversals take it back, net = spend + credits + reversals', () => {
    const card = createScorecard({ groupBy: 'publisher', economics: null });
    card.add(reversed);
    const row = card.result().total;
    expect(row).toMatchObject({ spendCents: 4500, creditsCents: -1000, reversalsCents: -3500, netSpendCents: 0, duplicates: 1, billable: 0 });
    expect(scorecardCountsOf(reversed)).toMatchObject({ sp: 4500, cr: -1000, rvs: -3500 });
  });

  it('daily aggregates: folding a call\'s counters equals adding the call', () => {
    const fromCounts = createScorecard({ groupBy: 'publisher', economics: null });
    fromCounts.addCounts('pub-b', null, scorecardCountsOf(reversed));
    const fromCall = createScorecard({ groupBy: 'publisher', economics: null });
    fromCall.add(reversed);
    expect(fromCounts.result().total).toEqual(fromCall.result().total);
  });
});
