import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callFactsFrom, callerGeo, rateCall, shouldRerateAfterCredit, type CampaignTargeting, type RatingInput } from '../../../shared/domain/rating/rules';
import { type CallFacts, REASON_CODES } from '../../../shared/domain/rating/decision';
import { contractPrices, type Geography, type HoursOfOperation, type HoursWindow, type TermsVersion } from '../../../shared/domain/terms/terms';
import type { CallStatus, CallStatusEvent } from '../../../shared/domain/calls/events';
import type { AssignedNumber } from '../../../shared/domain/catalog/types';

// Tuesday 2026-11-24 10:00 in Chicago (CST, UTC-6).
const START = Date.parse('2026-11-24T16:00:00.000Z');
const HOUR = 3_600_000;

const v1: TermsVersion = {
  version: 1,
  effectiveFrom: '2026-11-01T00:00:00.000Z',
  createdAt: '2026-10-30T00:00:00.000Z',
  priceCents: 1500,
  bufferSec: 90,
  durationBasis: 'total',
  qualification: null,
  duplicateWindowHours: 72,
  duplicateScope: 'campaign',
  priceBands: [],
  overrides: [],
  // Withheld callers may bill under these terms, so the other rules are seen alone (caller-identity tests cover that rule).
  withheldCallerId: 'billable',
};
const v2: TermsVersion = {
  ...v1,
  version: 2,
  effectiveFrom: '2026-11-20T00:00:00.000Z',
  createdAt: '2026-11-10T00:00:00.000Z',
  priceCents: 1800,
  priceBands: [
    { fromSec: 90, priceCents: 2000 },
    { fromSec: 120, priceCents: 3500 },
  ],
  overrides: [{ when: { kind: 'ivr', digits: '2' }, priceCents: 6000 }],
};
const weekdays: HoursWindow[] = (['mon', 'tue', 'wed', 'thu', 'fri'] as const).map((day) => ({ day, open: '08:00', close: '18:00' }));
const hours: HoursOfOperation = { timeZone: 'America/Chicago', windows: weekdays };
const campaign: CampaignTargeting = { campaignId: 'roofing-tx', hours, geography: { states: ['TX'], zipPrefixes: ['787'], areaCodes: ['512'] } };
const assignment: AssignedNumber = { accountId: 'acme', number: '+15125550101', campaignId: 'roofing-tx', publisherId: 'pub-a', subSource: 'google' };

const call: CallFacts = {
  status: 'completed',
  from: '+15125550123',
  to: '+15125550101',
  totalSec: 150,
  talkSec: 130,
  answeredBy: null,
  digits: null,
  fromState: 'TX',
  fromZip: '78701',
  tags: [],
};

function input(over: Partial<RatingInput> = {}, callOver: Partial<CallFacts> = {}): RatingInput {
  return {
    call: { ...call, ...callOver },
    startedAtMs: START,
    assignment,
    campaign,
    termsVersions: [v1, v2],
    priorBilled: null,
    blocked: null,
    ...over,
  };
}
const withTerms = (over: Partial<TermsVersion>) => ({ termsVersions: [v1, { ...v2, ...over }] });
const rule = (d: ReturnType<typeof rateCall>, name: string) => d.rules.find((r) => r.rule === name);

describe('rateCall, rule by rule', () => {
  it('bills under the version in force at the start, at the band price, and evaluates every rule in order', () => {
    const d = rateCall(input());
    expect(d).toMatchObject({ billable: true, amountCents: 3500, reasons: [], termsVersion: 2, campaignId: 'roofing-tx', publisherId: 'pub-a' });
    expect(d.price).toEqual({ billableSec: 150, source: { kind: 'band', fromSec: 120 } });
    // Every rule in the documented order; the two pilot rules only apply to calls a pilot governs (none here).
    expect(d.rules.map((r) => r.rule)).toEqual(REASON_CODES.filter((r) => r !== 'outside_window' && r !== 'over_cap'));
    const before = rateCall(input({ startedAtMs: Date.parse('2026-11-19T16:00:00.000Z') }));
    expect(before).toMatchObject({ billable: true, amountCents: 1500, termsVersion: 1 });
  });

  it('unknown_number: no assignment, a campaign mismatch, or no terms in force; nothing else evaluated', () => {
    for (const d of [
      rateCall(input({ assignment: null })),
      rateCall(input({ campaign: { ...campaign, campaignId: 'other' } })),
      rateCall(input({ startedAtMs: Date.parse('2026-10-31T16:00:00.000Z') })),
    ]) {
      expect(d).toMatchObject({ billable: false, amountCents: 0, reasons: ['unknown_number'], termsVersion: null, publisherId: null, price: null });
      expect(d.rules).toHaveLength(1);
    }
    expect(rateCall(input({ startedAtMs: Date.parse('2026-10-31T16:00:00.000Z') })).rules[0]!.inputs).toMatchObject({ campaignFound: true, termsVersion: null });
  });

  it('outside_hours in the campaign zone, [open, close)', () => {
    const at = (iso: string) => rateCall(input({ startedAtMs: Date.parse(iso) }));
    expect(at('2026-11-24T14:00:00.000Z').reasons).toEqual([]); // Tue 08:00 CST
    expect(at('2026-11-24T13:59:59.000Z').reasons).toEqual(['outside_hours']); // 07:59
    expect(at('2026-11-25T00:00:00.000Z').reasons).toEqual(['outside_hours']); // Tue 18:00
    expect(at('2026-11-28T16:00:00.000Z').reasons).toEqual(['outside_hours']); // Saturday
    expect(rule(at('2026-11-24T13:59:59.000Z'), 'outside_hours')!.inputs).toEqual({ timeZone: 'America/Chicago', localDay: 'tue', localTime: '07:59' });
    // Summer: 08:00 CDT is 13:00Z.
    const summer = rateCall(input({ startedAtMs: Date.parse('2026-07-07T13:00:00.000Z'), termsVersions: [{ ...v1, effectiveFrom: '2026-01-01T00:00:00.000Z' }] }));
    expect(summer.reasons).toEqual([]);
    expect(rateCall(input({ campaign: { ...campaign, hours: null }, startedAtMs: Date.parse('2026-11-28T16:00:00.000Z') })).reasons).toEqual([]);
  });

  it.each(['busy', 'no-answer', 'failed', 'canceled'] as const)('not_connected for %s, without a buffer verdict', (status) => {
    const d = rateCall(input({}, { status, totalSec: 0, talkSec: null }));
    expect(d.reasons).toEqual(['not_connected']);
    expect(rule(d, 'below_buffer')).toBeUndefined();
  });

  it.each(['machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'fax'])('machine_answered for %s', (answeredBy) => {
    expect(rateCall(input({}, { answeredBy })).reasons).toEqual(['machine_answered']);
  });

  it.each(['human', 'unknown'])('a %s answer passes', (answeredBy) => {
    expect(rateCall(input({}, { answeredBy })).billable).toBe(true);
  });

  it('below_buffer on the total basis and on the talk basis', () => {
    expect(rateCall(input({}, { totalSec: 89 })).reasons).toEqual(['below_buffer']);
    const talk = withTerms({ durationBasis: 'talk' });
    const d = rateCall(input(talk, { totalSec: 150, talkSec: 89 }));
    expect(d.reasons).toEqual(['below_buffer']);
    expect(rule(d, 'below_buffer')!.inputs).toEqual({ durationBasis: 'talk', billableSec: 89, totalSec: 150, talkSec: 89, bufferSec: 90 });
    expect(rateCall(input(talk, { totalSec: 150, talkSec: null })).reasons).toEqual(['below_buffer']);
    // The band follows the basis too: 100 s of talk in a 150 s call is the 90-119 s band.
    expect(rateCall(input(talk, { totalSec: 150, talkSec: 100 })).amountCents).toBe(2000);
  });

  it('not_qualified when the IVR answer is missing or not accepted', () => {
    const q = withTerms({ qualification: { acceptedDigits: ['1', '2'] } });
    expect(rateCall(input(q, { digits: '1' })).billable).toBe(true);
    expect(rateCall(input(q, { digits: '3' })).reasons).toEqual(['not_qualified']);
    const d = rateCall(input(q, { digits: null }));
    expect(d.reasons).toEqual(['not_qualified']);
    expect(rule(d, 'not_qualified')!.inputs).toEqual({ required: true, acceptedDigits: ['1', '2'], digits: null });
    expect(rateCall(input(q, { digits: '2' })).amountCents).toBe(6000);
  });

  it('out_of_geo: state, ZIP prefix or area code; the area code is derived from the number', () => {
    const geo = (geography: Geography | null, over: Partial<CallFacts>) => rateCall(input({ campaign: { ...campaign, geography } }, over));
    const anywhere = { fromState: null, fromZip: null };
    expect(geo({ states: ['TX'], zipPrefixes: [], areaCodes: [] }, { fromState: 'tx' }).billable).toBe(true);
    expect(geo({ states: [], zipPrefixes: ['787'], areaCodes: [] }, { fromState: null, fromZip: '78745' }).billable).toBe(true);
    const byArea = geo({ states: ['CA'], zipPrefixes: [], areaCodes: ['512'] }, anywhere);
    expect(byArea.billable).toBe(true);
    expect(rule(byArea, 'out_of_geo')!.inputs).toEqual({ callerState: null, callerZip: null, callerAreaCode: '512', matchedBy: 'area_code' });
    const out = geo({ states: ['CA'], zipPrefixes: ['900'], areaCodes: ['213'] }, { from: '+12125550123' });
    expect(out.reasons).toEqual(['out_of_geo']);
    expect(geo({ states: ['TX'], zipPrefixes: [], areaCodes: [] }, { ...anywhere, from: 'anonymous' }).reasons).toEqual(['out_of_geo']);
    expect(geo(null, { ...anywhere, from: 'anonymous' }).billable).toBe(true);
  });

  it('callerGeo never derives an area code outside the NANP', () => {
    expect(callerGeo({ from: '+442071838750', fromState: null, fromZip: null })).toEqual({ state: null, zip: null, areaCode: null });
    expect(callerGeo({ from: '(512) 555-0123', fromState: ' tx ', fromZip: '' })).toEqual({ state: 'TX', zip: null, areaCode: '512' });
  });

  it('duplicate_caller within the window, naming the scope and the prior call', () => {
    const d = rateCall(input({ priorBilled: { callId: 'twilio:CA0', billedStartMs: START - 71 * HOUR } }));
    expect(d.reasons).toEqual(['duplicate_caller']);
    expect(rule(d, 'duplicate_caller')!.inputs).toEqual({
      duplicateScope: 'campaign',
      duplicateWindowHours: 72,
      priorCallId: 'twilio:CA0',
      priorStartedAt: new Date(START - 71 * HOUR).toISOString(),
    });
    expect(rateCall(input({ priorBilled: { callId: 'twilio:CA0', billedStartMs: START - 72 * HOUR } })).billable).toBe(true);
  });

  it('blocked_caller names the block entry, never the number', () => {
    const d = rateCall(input({ blocked: { blockId: 'blk-1' } }));
    expect(d.reasons).toEqual(['blocked_caller']);
    expect(JSON.stringify(d)).not.toContain('5550123');
  });

  it('lists every failing rule in the documented order', () => {
    const d = rateCall(
      input(
        { startedAtMs: Date.parse('2026-11-28T16:00:00.000Z'), priorBilled: { callId: 'p', billedStartMs: Date.parse('2026-11-28T15:00:00.000Z') }, blocked: { blockId: 'b' } },
        { answeredBy: 'fax', totalSec: 10, fromState: 'CA', fromZip: '90001', from: '+12135550123' },
      ),
    );
    expect(d.reasons).toEqual(['outside_hours', 'machine_answered', 'below_buffer', 'out_of_geo', 'duplicate_caller', 'blocked_caller']);
  });

  it('re-rates after a full credit only when the credited call was the sole reason', () => {
    const dup = rateCall(input({ priorBilled: { callId: 'twilio:CA0', billedStartMs: START - HOUR } }));
    expect(shouldRerateAfterCredit(dup, 'twilio:CA0')).toBe(true);
    expect(shouldRerateAfterCredit(dup, 'twilio:CA9')).toBe(false);
    const dupAndShort = rateCall(input({ priorBilled: { callId: 'twilio:CA0', billedStartMs: START - HOUR } }, { totalSec: 10 }));
    expect(shouldRerateAfterCredit(dupAndShort, 'twilio:CA0')).toBe(false);
    expect(rateCall(input({ priorBilled: null })).billable).toBe(true);
  });

  it('builds facts from the terminal event plus gathered digits and talk time', () => {
    const terminal = {
      kind: 'call.status',
      status: 'completed',
      from: '+15125550123',
      to: '+15125550101',
      durationSec: 200,
      answeredBy: 'human',
      digits: null,
      fromState: 'TX',
      fromZip: '78701',
    } as unknown as CallStatusEvent;
    expect(callFactsFrom(terminal, { talkSec: 170, digits: '1', tags: ['vip'] })).toEqual({
      ...call,
      totalSec: 200,
      talkSec: 170,
      answeredBy: 'human',
      digits: '1',
      tags: ['vip'],
    });
  });
});

describe('rateCall properties', () => {
  const arbCall = fc.record({
    status: fc.constantFrom<CallStatus>('completed', 'completed', 'completed', 'busy', 'no-answer', 'failed', 'canceled'),
    totalSec: fc.integer({ min: 0, max: 900 }),
    talkSec: fc.option(fc.integer({ min: 0, max: 900 })),
    answeredBy: fc.constantFrom(null, 'human', 'unknown', 'machine_start', 'fax'),
    digits: fc.constantFrom(null, '1', '2', '9'),
    fromState: fc.constantFrom(null, 'TX', 'CA', 'NY'),
    fromZip: fc.constantFrom(null, '78701', '90001', '10001'),
    from: fc.constantFrom('+15125550123', '+12125550123', '+13105550123', 'anonymous'),
  });
  const arbTerms = fc.record({
    bufferSec: fc.integer({ min: 0, max: 300 }),
    durationBasis: fc.constantFrom<'talk' | 'total'>('talk', 'total'),
    qualification: fc.option(fc.record({ acceptedDigits: fc.subarray(['1', '2', '3'], { minLength: 1 }) })),
  });
  const arbGeo = fc.option(
    fc.record({ states: fc.subarray(['TX', 'CA', 'NY']), zipPrefixes: fc.subarray(['787', '900', '1']), areaCodes: fc.subarray(['512', '212', '310']) }),
  );
  const arbWindows = fc.subarray(
    (['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const).flatMap((day) => [
      { day, open: '00:00', close: '09:00' },
      { day, open: '09:00', close: '17:00' },
      { day, open: '17:00', close: '24:00' },
    ]),
  );
  const arbStart = fc.integer({ min: 0, max: 14 * 24 * 60 }).map((m) => Date.parse('2026-11-20T00:00:00.000Z') + m * 60_000);
  const arbPrior = fc.option(fc.integer({ min: -100, max: 100 }));

  function rate(c: Partial<CallFacts>, terms: Partial<TermsVersion>, geography: Geography | null, windows: readonly HoursWindow[] | null, startedAtMs: number, priorH: number | null) {
    return rateCall({
      call: { ...call, ...c },
      startedAtMs,
      assignment,
      campaign: { campaignId: 'roofing-tx', geography, hours: windows === null ? null : { timeZone: 'America/Chicago', windows } },
      termsVersions: [v1, { ...v2, ...terms }],
      priorBilled: priorH === null ? null : { callId: 'p', billedStartMs: startedAtMs + priorH * HOUR },
      blocked: null,
    });
  }

  it('raising the buffer never makes a non-billable call billable', () => {
    fc.assert(
      fc.property(arbCall, arbTerms, arbGeo, arbStart, arbPrior, fc.integer({ min: 0, max: 600 }), (c, t, g, s, p, extra) => {
        if (!rate(c, t, g, weekdays, s, p).billable) expect(rate(c, { ...t, bufferSec: t.bufferSec + extra }, g, weekdays, s, p).billable).toBe(false);
      }),
    );
  });

  it('narrowing the geography never makes a non-billable call billable', () => {
    fc.assert(
      fc.property(arbCall, arbTerms, arbGeo, arbStart, fc.integer({ min: 0, max: 7 }), (c, t, g, s, drop) => {
        const narrower: Geography =
          g === null
            ? { states: ['NY'], zipPrefixes: [], areaCodes: [] }
            : { states: drop & 1 ? [] : g.states, zipPrefixes: drop & 2 ? [] : g.zipPrefixes.slice(1), areaCodes: drop & 4 ? [] : g.areaCodes.slice(1) };
        if (!rate(c, t, g, null, s, null).billable) expect(rate(c, t, narrower, null, s, null).billable).toBe(false);
      }),
    );
  });

  it('narrowing the hours never makes a non-billable call billable', () => {
    fc.assert(
      fc.property(arbCall, arbTerms, fc.option(arbWindows), arbStart, fc.nat(), (c, t, w, s, seed) => {
        const narrower = w === null ? weekdays : w.filter((_, i) => (seed >> i % 30) & 1);
        if (!rate(c, t, null, w, s, null).billable) expect(rate(c, t, null, narrower, s, null).billable).toBe(false);
      }),
    );
  });

  it('the amount is one of the contract prices when billable, 0 otherwise, and billable iff no reason', () => {
    fc.assert(
      fc.property(arbCall, arbTerms, arbGeo, fc.option(arbWindows), arbStart, arbPrior, (c, t, g, w, s, p) => {
        const d = rate(c, t, g, w, s, p);
        expect(d.billable).toBe(d.reasons.length === 0);
        if (d.billable) expect(contractPrices(s >= Date.parse(v2.effectiveFrom) ? { ...v2, ...t } : v1).has(d.amountCents)).toBe(true);
        else expect(d.amountCents).toBe(0);
        expect(d.reasons).toEqual(REASON_CODES.filter((r) => d.reasons.includes(r)));
      }),
    );
  });
});
