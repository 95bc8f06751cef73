/**
 * Rating rules 10 and 11 (pilots) and the pure parts of the pilot contract (pilot-terms.ts): which pilot
 * governs a call, the daily cap's day in the pilot's zone, and which limit refused a charge.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capRefusal, pilotCharge, pilotDay, pilotForCall, type PilotTerms } from '../../../shared/domain/pilots/caps';
import { rateCall, type RatingInput } from '../../../shared/domain/rating/rules';
import type { TermsVersion } from '../../../shared/domain/terms/terms';

const START = Date.parse('2026-11-24T16:00:00.000Z');
const HOUR = 3_600_000;
const terms: TermsVersion = {
  version: 1,
  effectiveFrom: '2026-11-01T00:00:00.000Z',
  createdAt: '2026-10-30T00:00:00.000Z',
  priceCents: 4500,
  bufferSec: 90,
  durationBasis: 'total',
  qualification: null,
  duplicateWindowHours: 72,
  duplicateScope: 'campaign',
  priceBands: [],
  overrides: [],
  withheldCallerId: 'non_billable',
};
const pilot: PilotTerms = {
  pilotId: 'pil-1',
  publisherIds: ['pub-a'],
  startsAt: new Date(START - HOUR).toISOString(),
  endsAt: new Date(START + HOUR).toISOString(),
  spendCapCents: 100_000,
  dailyCapCents: 20_000,
  maxBillableCalls: 10,
  timeZone: 'America/Chicago',
  createdAt: new Date(START - 5 * HOUR).toISOString(),
};

function input(overrides: Partial<RatingInput> = {}): RatingInput {
  return {
    call: { status: 'completed', from: '+15125550123', to: '+15125550101', totalSec: 150, talkSec: null, answeredBy: null, digits: null, fromState: 'TX', fromZip: '78701', tags: [] },
    startedAtMs: START,
    assignment: { accountId: 'acme', number: '+15125550101', campaignId: 'c1', publisherId: 'pub-a', subSource: null },
    campaign: { campaignId: 'c1', hours: null, geography: null },
    termsVersions: [terms],
    priorBilled: null,
    blocked: null,
    ...overrides,
  };
}

describe('pilotForCall', () => {
  it('matches the pilot whose window holds the start; outside every window, the latest-created one', () => {
    const later: PilotTerms = { ...pilot, pilotId: 'pil-2', startsAt: new Date(START + 2 * HOUR).toISOString(), endsAt: new Date(START + 3 * HOUR).toISOString(), createdAt: new Date(START - 4 * HOUR).toISOString() };
    expect(pilotForCall([pilot, later], 'pub-a', START)).toEqual({ pilot, inWindow: true });
    expect(pilotForCall([pilot, later], 'pub-a', START + 2.5 * HOUR)).toEqual({ pilot: later, inWindow: true });
    expect(pilotForCall([pilot, later], 'pub-a', START + 1.5 * HOUR)).toEqual({ pilot: later, inWindow: false });
    // The window is [startsAt, endsAt).
    expect(pilotForCall([pilot], 'pub-a', Date.parse(pilot.endsAt))?.inWindow).toBe(false);
    expect(pilotForCall([pilot], 'pub-a', Date.parse(pilot.startsAt))?.inWindow).toBe(true);
  });

  it('governs nothing for other publishers, for calls before the pilot was created, or without pilots', () => {
    expect(pilotForCall([pilot], 'pub-b', START)).toBeNull();
    expect(pilotForCall([pilot], 'pub-a', Date.parse(pilot.createdAt) - 1)).toBeNull();
    expect(pilotForCall(undefined, 'pub-a', START)).toBeNull();
    expect(pilotForCall([], 'pub-a', START)).toBeNull();
  });
});

describe('rating rules outside_window and over_cap', () => {
  it('a pilot call inside its window with room bills, and the rules say which pilot', () => {
    const d = rateCall(input({ pilot: { pilot, inWindow: true } }));
    expect(d.billable).toBe(true);
    expect(d.amountCents).toBe(4500);
    expect(d.rules.find((r) => r.rule === 'outside_window')).toMatchObject({ passed: true, inputs: { pilotId: 'pil-1' } });
    expect(d.rules.find((r) => r.rule === 'over_cap')).toMatchObject({ passed: true, inputs: { refusal: null, spendCapCents: 100_000 } });
  });

  it('outside the window: outside_window, not charged, and the cap is not evaluated', () => {
    const d = rateCall(input({ pilot: { pilot, inWindow: false } }));
    expect(d).toMatchObject({ billable: false, amountCents: 0, reasons: ['outside_window'] });
    expect(d.rules.some((r) => r.rule === 'over_cap')).toBe(false);
  });

  it('a refused counter: over_cap with the refusal, not charged', () => {
    for (const refusal of ['closed', 'spend_cap', 'daily_cap', 'max_calls'] as const) {
      const d = rateCall(input({ pilot: { pilot, inWindow: true }, capRefusal: refusal }));
      expect(d).toMatchObject({ billable: false, amountCents: 0, reasons: ['over_cap'] });
      expect(d.rules.find((r) => r.rule === 'over_cap')?.inputs.refusal).toBe(refusal);
    }
  });

  it('a call that fails on its merits lists its own reason first; no pilot rules for calls no pilot governs', () => {
    const short = rateCall(input({ call: { ...input().call, totalSec: 30 }, pilot: { pilot, inWindow: false } }));
    expect(short.reasons).toEqual(['below_buffer', 'outside_window']);
    const plain = rateCall(input());
    expect(plain.billable).toBe(true);
    expect(plain.rules.some((r) => r.rule === 'outside_window' || r.rule === 'over_cap')).toBe(false);
  });

  it('property: a pilot never makes a call billable that is not billable without it', () => {
    fc.assert(
      fc.property(
        fc.record({ totalSec: fc.integer({ min: 0, max: 400 }), inWindow: fc.boolean(), refusal: fc.constantFrom(null, 'closed', 'spend_cap', 'daily_cap', 'max_calls' as const) }),
        ({ totalSec, inWindow, refusal }) => {
          const call = { ...input().call, totalSec };
          const without = rateCall(input({ call }));
          const withPilot = rateCall(input({ call, pilot: { pilot, inWindow }, capRefusal: refusal }));
          if (withPilot.billable) expect(without.billable && inWindow && refusal === null).toBe(true);
          if (withPilot.billable) expect(withPilot.amountCents).toBe(without.amountCents);
        },
      ),
    );
  });
});

describe('daily cap day and refusals', () => {
  it('the day is the local date in the pilot zone', () => {
    // 2026-11-25 05:30 UTC is 2026-11-24 23:30 in Chicago.
    expect(pilotDay(pilot, Date.parse('2026-11-25T05:30:00Z'))).toBe('2026-11-24');
    expect(pilotDay(pilot, Date.parse('2026-11-25T06:30:00Z'))).toBe('2026-11-25');
  });

  it('capRefusal names the limit that the counters as they were would cross', () => {
    const charge = pilotCharge('acme', pilot, 4500, START);
    expect(charge.day).toEqual({ date: '2026-11-24', dailyCapCents: 20_000 });
    expect(capRefusal(charge, null, null)).toBe('closed');
    expect(capRefusal(charge, { open: false, spentCents: 0, billableCalls: 0 }, 0)).toBe('closed');
    expect(capRefusal(charge, { open: true, spentCents: 96_000, billableCalls: 3 }, 0)).toBe('spend_cap');
    expect(capRefusal(charge, { open: true, spentCents: 95_500, billableCalls: 3 }, 0)).toBeNull();
    expect(capRefusal(charge, { open: true, spentCents: 0, billableCalls: 10 }, 0)).toBe('max_calls');
    expect(capRefusal(charge, { open: true, spentCents: 0, billableCalls: 0 }, 15_600)).toBe('daily_cap');
    expect(capRefusal(charge, { open: true, spentCents: 0, billableCalls: 0 }, 15_500)).toBeNull();
  });
});
