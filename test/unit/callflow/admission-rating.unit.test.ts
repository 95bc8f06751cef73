/**
 * Admission before connect (shared/domain/routing/admission.ts): one decision, rule by rule, and the property that
 * admission and rating never disagree on the facts both know.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admit, highestReachablePrice, POST_CALL_SIGNALS, RATING_ONLY_RULES, type AdmissionInput } from '../../../shared/domain/routing/admission';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import { CALL_SIGNALS, rateCall, type CallSignal } from '../../../shared/domain/rating/rules';
import type { TermsVersion } from '../../../shared/domain/terms/terms';
import { WEEKDAYS } from '../../../shared/domain/kernel/zoned-time';
import { admissionInput, ASSIGNMENT, AT, HOUR, target, targetMap, TERMS } from '../../support/callflow-fixtures';

const pilot: PilotTerms = {
  pilotId: 'pil-1',
  publisherIds: ['pub-a'],
  startsAt: new Date(AT - HOUR).toISOString(),
  endsAt: new Date(AT + HOUR).toISOString(),
  spendCapCents: 100_000,
  dailyCapCents: null,
  maxBillableCalls: null,
  timeZone: 'America/Chicago',
  createdAt: new Date(AT - 5 * HOUR).toISOString(),
};

const ruleOf = (d: ReturnType<typeof admit>, rule: string) => d.rules.find((r) => r.rule === rule);

describe('admission: each rule refuses before connect, with its inputs', () => {
  it('routes a call every rule passes, in this call’s order, with no reservation outside a pilot', () => {
    const d = admit(admissionInput());
    expect(d.kind).toBe('route');
    if (d.kind !== 'route') return;
    expect(d.route?.map((s) => s.status)).toEqual(['eligible', 'eligible']);
    expect(d.reservation).toBeNull();
    expect(d.termsVersion).toBe(1);
    expect(d.rules.map((r) => r.rule)).toEqual([
      'unknown_number', 'outside_hours', 'not_qualified', 'out_of_geo', 'caller_id_withheld', 'duplicate_caller', 'blocked_caller', 'blocked_signal', 'campaign_capped', 'no_target',
    ]);
  });

  it('unknown number: nothing else is evaluated', () => {
    const d = admit(admissionInput({ assignment: null }));
    expect(d).toMatchObject({ kind: 'refuse', reason: 'unknown_number', route: null, campaignId: null });
    expect(d.rules).toHaveLength(1);
  });

  it('outside the campaign’s hours (Chicago, Tuesday 10:00, open only on Sundays)', () => {
    const d = admit(admissionInput({ campaign: { campaignId: 'roofing-tx', hours: { timeZone: 'America/Chicago', windows: [{ day: 'sun', open: '00:00', close: '24:00' }] }, geography: null } }));
    expect(d).toMatchObject({ kind: 'refuse', reason: 'outside_hours' });
    expect(ruleOf(d, 'outside_hours')?.inputs).toMatchObject({ localDay: 'tue', localTime: '10:00' });
  });

  it('out of the campaign’s geography', () => {
    const d = admit(admissionInput({ campaign: { campaignId: 'roofing-tx', hours: null, geography: { states: ['OK'], zipPrefixes: [], areaCodes: [] } } }));
    expect(d).toMatchObject({ kind: 'refuse', reason: 'out_of_geo' });
  });

  it('a blocked caller, named by its block id (never the number)', () => {
    const d = admit(admissionInput({ blocked: { blockId: 'blk_0123456789abcdef' } }));
    expect(d).toMatchObject({ kind: 'refuse', reason: 'blocked_caller' });
    expect(JSON.stringify(d)).not.toContain('5550123');
  });

  it('a DNC-listed caller when the account makes DNC calls non-billable; flagged only when it does not', () => {
    expect(admit(admissionInput({ quality: { signals: ['dnc_listed'], blockSignals: ['dnc_listed'] } }))).toMatchObject({ kind: 'refuse', reason: 'blocked_signal' });
    expect(admit(admissionInput({ quality: { signals: ['dnc_listed'], blockSignals: [] } })).kind).toBe('route');
  });

  it('a withheld caller id under non-billable terms; admitted under billable terms', () => {
    const withheld = { from: 'anonymous', to: ASSIGNMENT.number, fromState: null, fromZip: null, tags: [], digits: null };
    // Rating evaluates the rule from the caller identity and the terms' withheldCallerId; admission takes its verdict.
    const d = admit(admissionInput({ call: withheld }));
    expect(d).toMatchObject({ kind: 'refuse', reason: 'caller_id_withheld' });
    expect(ruleOf(d, 'caller_id_withheld')?.inputs).toEqual({ callerIdWithheld: true, withheldCallerId: 'non_billable' });
    // Placed where rating places it: right after out_of_geo.
    const names = d.rules.map((r) => r.rule);
    expect(names.indexOf('caller_id_withheld')).toBe(names.indexOf('out_of_geo') + 1);
    expect(admit(admissionInput({ call: withheld, termsVersions: [{ ...TERMS, withheldCallerId: 'billable' }] })).kind).toBe('route');
  });

  it('a duplicate caller is admitted and flagged (a repeat caller is a customer calling back)', () => {
    const d = admit(admissionInput({ priorBilled: { callId: 'twilio:CA0000', billedStartMs: AT - HOUR } }));
    expect(d.kind).toBe('route');
    expect(d.flags).toEqual(['duplicate_caller']);
  });

  it('the IVR answer: deferred at screen, refused at connect when the terms do not accept it', () => {
    const terms: TermsVersion = { ...TERMS, qualification: { acceptedDigits: ['1'] } };
    const screen = admit(admissionInput({ stage: 'screen', termsVersions: [terms] }));
    expect(screen.kind).toBe('route');
    expect(ruleOf(screen, 'not_qualified')).toBeUndefined();
    expect(admit(admissionInput({ termsVersions: [terms], call: { ...admissionInput().call, digits: '2' } }))).toMatchObject({ kind: 'refuse', reason: 'not_qualified' });
    expect(admit(admissionInput({ termsVersions: [terms], call: { ...admissionInput().call, digits: '1' } })).kind).toBe('route');
  });

  it('the pilot’s window, and its caps through the reservation’s refusal', () => {
    expect(admit(admissionInput({ pilot: { pilot, inWindow: false } }))).toMatchObject({ kind: 'refuse', reason: 'outside_window' });
    const inWindow = admit(admissionInput({ pilot: { pilot, inWindow: true } }));
    expect(inWindow).toMatchObject({ kind: 'route', reservation: { pilotId: 'pil-1', amountCents: 4500 } });
    const capped = admit(admissionInput({ pilot: { pilot, inWindow: true }, capRefusal: 'spend_cap' }));
    expect(capped).toMatchObject({ kind: 'refuse', reason: 'over_cap' });
    expect(ruleOf(capped, 'over_cap')?.inputs).toMatchObject({ refusal: 'spend_cap' });
  });

  it('no reservation is taken at screen: money is held only just before the line rings', () => {
    expect(admit(admissionInput({ stage: 'screen', pilot: { pilot, inWindow: true } }))).toMatchObject({ kind: 'route', reservation: null });
  });

  it('the campaign’s caps: concurrent, hourly and daily admitted calls', () => {
    const caps = { concurrentCalls: 5, hourlyCalls: 10, dailyCalls: 50 };
    expect(admit(admissionInput({ caps, counts: { active: 4, thisHour: 9, today: 49 } })).kind).toBe('route');
    for (const counts of [{ active: 5, thisHour: 0, today: 0 }, { active: 0, thisHour: 10, today: 0 }, { active: 0, thisHour: 0, today: 50 }]) {
      expect(admit(admissionInput({ caps, counts }))).toMatchObject({ kind: 'refuse', reason: 'campaign_capped' });
    }
  });

  it('no target: every target skipped, each with its reason in the route', () => {
    const targets = targetMap(
      target('t-a', { concurrencyCap: 1 }),
      target('t-b', { hours: { timeZone: 'America/Chicago', windows: [{ day: 'sun', open: '09:00', close: '17:00' }], holidays: [] } }),
    );
    const d = admit(admissionInput({ targets, targetFacts: new Map([['t-a', { liveLeases: 1, callsThisHour: 0, callsToday: 0 }]]) }));
    expect(d).toMatchObject({ kind: 'refuse', reason: 'no_target' });
    expect(new Set(d.route?.map((s) => s.status))).toEqual(new Set(['at_capacity', 'closed']));
    expect(ruleOf(d, 'no_target')?.inputs).toMatchObject({ eligible: 0, skipped: { at_capacity: 1, closed: 1 } });
  });
});

describe('the reservation holds the most the call can cost', () => {
  it('the highest band, or the override the IVR answer selects', () => {
    const banded: TermsVersion = { ...TERMS, priceCents: 2000, bufferSec: 90, priceBands: [{ fromSec: 120, priceCents: 3500 }], overrides: [{ when: { kind: 'ivr', digits: '2' }, priceCents: 1500 }] };
    expect(highestReachablePrice(banded, null, [])).toBe(3500);
    expect(highestReachablePrice(banded, '2', [])).toBe(1500);
    // A band starting at the buffer makes the base price unreachable.
    expect(highestReachablePrice({ ...TERMS, priceCents: 9000, priceBands: [{ fromSec: 90, priceCents: 100 }] }, null, [])).toBe(100);
  });

  it('property: every charge rating can make for the call fits in the reservation', () => {
    fc.assert(
      fc.property(termsArb(), fc.option(fc.constantFrom('1', '2', '3'), { nil: null }), fc.nat(4000), (terms, digits, sec) => {
        const reserved = highestReachablePrice(terms, digits, []);
        const rated = rateCall({
          call: { status: 'completed', from: '+15125550123', to: ASSIGNMENT.number, totalSec: sec, talkSec: sec, answeredBy: null, digits, fromState: 'TX', fromZip: null, tags: [] },
          startedAtMs: AT,
          assignment: ASSIGNMENT,
          campaign: { campaignId: 'roofing-tx', hours: null, geography: null },
          termsVersions: [terms],
          priorBilled: null,
          blocked: null,
        });
        expect(rated.amountCents).toBeLessThanOrEqual(reserved);
      }),
    );
  });
});

// ---------------------------------------------------------------- admission and rating never disagree

function termsArb(): fc.Arbitrary<TermsVersion> {
  return fc
    .record({
      priceCents: fc.integer({ min: 1, max: 10_000 }),
      bufferSec: fc.integer({ min: 0, max: 300 }),
      bandGaps: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 200 }), priceCents: fc.integer({ min: 1, max: 10_000 }) }), { maxLength: 3 }),
      qualify: fc.option(fc.subarray(['1', '2', '3'], { minLength: 1 }), { nil: null }),
      override: fc.option(fc.record({ digits: fc.constantFrom('1', '2', '3'), priceCents: fc.integer({ min: 1, max: 10_000 }) }), { nil: null }),
      duplicateWindowHours: fc.integer({ min: 0, max: 100 }),
    })
    .map((t) => {
      let from = t.bufferSec;
      const priceBands = t.bandGaps.map((b, i) => ({ fromSec: (from += b.gap + (i === 0 ? 0 : 1)), priceCents: b.priceCents }));
      return {
        ...TERMS,
        priceCents: t.priceCents,
        bufferSec: t.bufferSec,
        priceBands,
        qualification: t.qualify === null ? null : { acceptedDigits: t.qualify },
        overrides: t.override === null ? [] : [{ when: { kind: 'ivr', digits: t.override.digits }, priceCents: t.override.priceCents }],
        duplicateWindowHours: t.duplicateWindowHours,
      } as TermsVersion;
    });
}

const factsArb = fc.record({
  known: fc.boolean(),
  atOffsetMin: fc.integer({ min: -7 * 24 * 60, max: 7 * 24 * 60 }),
  from: fc.constantFrom('+15125550123', '+14055550123', '+12125550123', 'anonymous', '+442071838750'),
  fromState: fc.constantFrom('TX', 'OK', null),
  fromZip: fc.constantFrom('78701', '73102', null),
  digits: fc.constantFrom('1', '2', '3', null),
  hours: fc.option(fc.array(fc.record({ day: fc.constantFrom(...WEEKDAYS), open: fc.integer({ min: 0, max: 23 }), len: fc.integer({ min: 1, max: 24 }) }), { minLength: 1, maxLength: 4 }), { nil: null }),
  geography: fc.option(fc.record({ states: fc.subarray(['TX', 'OK']), zipPrefixes: fc.subarray(['787', '731']), areaCodes: fc.subarray(['512', '405']) }), { nil: null }),
  priorOffsetH: fc.option(fc.integer({ min: -200, max: 200 }), { nil: null }),
  blocked: fc.boolean(),
  signals: fc.subarray([...CALL_SIGNALS] as CallSignal[]),
  blockSignals: fc.subarray([...CALL_SIGNALS] as CallSignal[]),
  pilot: fc.constantFrom('none', 'in', 'out'),
  capRefusal: fc.constantFrom(null, 'spend_cap', 'daily_cap', 'max_calls', 'closed'),
  terms: termsArb(),
  // What only the end of the call says.
  status: fc.constantFrom('completed', 'busy', 'no-answer', 'failed', 'canceled'),
  totalSec: fc.nat(1000),
  talkSec: fc.option(fc.nat(1000), { nil: null }),
  answeredBy: fc.constantFrom(null, 'human', 'machine_start', 'fax'),
  postCallSignals: fc.subarray([...POST_CALL_SIGNALS]),
});

describe('property: admission and rating never disagree on the facts both know', () => {
  it('shared rules give the same verdict on the same inputs; a refused call never bills; an admitted one fails only on what the end of the call decides', () => {
    fc.assert(
      fc.property(factsArb, (f) => {
        const atMs = AT + f.atOffsetMin * 60_000;
        const geography = f.geography && f.geography.states.length + f.geography.zipPrefixes.length + f.geography.areaCodes.length > 0 ? f.geography : null;
        const hours = f.hours && {
          timeZone: 'America/Chicago',
          windows: f.hours.map((w) => ({ day: w.day, open: `${String(w.open).padStart(2, '0')}:00`, close: w.open + w.len >= 24 ? '24:00' : `${String(w.open + w.len).padStart(2, '0')}:00` })),
        };
        const pilotMatch = f.pilot === 'none' ? null : { pilot, inWindow: f.pilot === 'in' };
        const knownSignals = f.signals.filter((s) => !POST_CALL_SIGNALS.includes(s));
        const shared = {
          assignment: f.known ? ASSIGNMENT : null,
          campaign: { campaignId: 'roofing-tx', hours, geography },
          termsVersions: [f.terms],
          priorBilled: f.priorOffsetH === null ? null : { callId: 'twilio:CA0000', billedStartMs: atMs + f.priorOffsetH * HOUR },
          blocked: f.blocked ? { blockId: 'blk_0123456789abcdef' } : null,
          pilot: pilotMatch,
          capRefusal: f.capRefusal,
        } as const;
        const input: AdmissionInput = admissionInput({
          ...shared,
          call: { from: f.from, to: ASSIGNMENT.number, fromState: f.fromState, fromZip: f.fromZip, tags: [], digits: f.digits },
          atMs,
          quality: { signals: knownSignals, blockSignals: f.blockSignals },
          targets: targetMap(target('t-a', { hours: null })),
          route: ['t-a'],
        });
        const admission = admit(input);
        const rating = rateCall({
          ...shared,
          call: { status: f.status, from: f.from, to: ASSIGNMENT.number, totalSec: f.totalSec, talkSec: f.talkSec, answeredBy: f.answeredBy, digits: f.digits, fromState: f.fromState, fromZip: f.fromZip, tags: [] },
          startedAtMs: atMs,
          quality: { signals: [...knownSignals, ...f.postCallSignals], blockSignals: f.blockSignals },
        });

        // 1. Every rule both evaluate: the same verdict from the same inputs (blocked_signal on the signals both know).
        for (const r of admission.rules) {
          const mirror = rating.rules.find((x) => x.rule === r.rule);
          if (mirror === undefined || r.rule === 'blocked_signal') continue;
          expect({ rule: r.rule, passed: r.passed, inputs: r.inputs }).toEqual({ rule: mirror.rule, passed: mirror.passed, inputs: mirror.inputs });
        }
        // 2. A call refused on a rating rule would not have billed, whatever its end.
        if (admission.kind === 'refuse' && admission.reason !== 'campaign_capped' && admission.reason !== 'no_target') {
          expect(rating.billable).toBe(false);
          expect(rating.reasons).toContain(admission.reason);
        }
        // 3. An admitted call: rating fails only on what admission cannot know, and on the rules admission flags.
        if (admission.kind === 'route') {
          const allowed = new Set<string>([...RATING_ONLY_RULES, ...admission.flags]);
          const postCallBlocked = f.postCallSignals.some((s) => f.blockSignals.includes(s));
          if (postCallBlocked) allowed.add('blocked_signal');
          for (const reason of rating.reasons) expect(allowed.has(reason), `rating added ${reason}`).toBe(true);
          // And if it bills, the reservation held enough.
          if (rating.billable && admission.reservation !== null) expect(rating.amountCents).toBeLessThanOrEqual(admission.reservation.amountCents);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
