/**
 * Routing (shared/domain/routing/order.ts, targets.ts): priority then weight, reproducible from the call id, each
 * skip with its reason, and the target predicates held to rating's own reading of hours and geography.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextEligible, planRoute, routeOrder } from '../../../shared/domain/routing/order';
import { capBuckets, checkTarget, geoMatchedBy, NO_FACTS, targetOpenAt } from '../../../shared/domain/routing/targets';
import { callerGeo, rateCall } from '../../../shared/domain/rating/rules';
import { WEEKDAYS } from '../../../shared/domain/kernel/zoned-time';
import { ASSIGNMENT, AT, HOUR, target, targetMap, TERMS } from '../../support/callflow-fixtures';

const TX = callerGeo({ from: '+15125550123', fromState: 'TX', fromZip: '78701' });

describe('routing order', () => {
  it('priority 1 before 2, whatever the weights', () => {
    const targets = targetMap(target('low', { priority: 2, weight: 100 }), target('high', { priority: 1, weight: 1 }));
    for (let i = 0; i < 50; i++) expect(routeOrder(['low', 'high'], targets, `twilio:CA${i}`)).toEqual(['high', 'low']);
  });

  it('reproducible from the call id: the same call always gets the same order', () => {
    const targets = targetMap(...['a', 'b', 'c', 'd'].map((id) => target(id)));
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (callId) => {
        expect(routeOrder(['a', 'b', 'c', 'd'], targets, callId)).toEqual(routeOrder(['d', 'c', 'b', 'a'], targets, callId));
      }),
    );
  });

  it('removing a target never reorders the others', () => {
    const targets = targetMap(...['a', 'b', 'c', 'd'].map((id, i) => target(id, { weight: i + 1 })));
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.constantFrom('a', 'b', 'c', 'd'), (callId, removed) => {
        const full = routeOrder(['a', 'b', 'c', 'd'], targets, callId).filter((id) => id !== removed);
        expect(routeOrder(['a', 'b', 'c', 'd'].filter((id) => id !== removed), targets, callId)).toEqual(full);
      }),
    );
  });

  it('weighted within a priority: weights 3 and 1 are tried first about 3 times in 4', () => {
    const targets = targetMap(target('heavy', { weight: 3 }), target('light', { weight: 1 }));
    let heavyFirst = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) if (routeOrder(['heavy', 'light'], targets, `twilio:CA${i.toString(16).padStart(32, '0')}`)[0] === 'heavy') heavyFirst++;
    expect(heavyFirst / n).toBeGreaterThan(0.73);
    expect(heavyFirst / n).toBeLessThan(0.77);
  });

  it('an unconfigured target goes last and is skipped as paused', () => {
    const plan = planRoute(['gone', 'a'], targetMap(target('a')), new Map(), TX, 'twilio:CA1', AT);
    expect(plan.map((s) => [s.targetId, s.status])).toEqual([['a', 'eligible'], ['gone', 'paused']]);
  });

  it('the next eligible target after a failed one, with the skips on the way', () => {
    const targets = targetMap(target('a', { priority: 1 }), target('b', { priority: 2, enabled: false }), target('c', { priority: 3 }));
    const plan = planRoute(['a', 'b', 'c'], targets, new Map(), TX, 'twilio:CA1', AT);
    const next = nextEligible(plan, 0);
    expect(next?.step.targetId).toBe('c');
    expect(next?.skipped.map((s) => [s.targetId, s.status])).toEqual([['b', 'paused']]);
    expect(nextEligible(plan, 2)).toBeNull();
  });
});

describe('skip reasons: closed, geo, capped, at_capacity', () => {
  it('closed outside its windows and on a holiday (its local date)', () => {
    const hours = { timeZone: 'America/Chicago', windows: [{ day: 'tue' as const, open: '09:00', close: '17:00' }], holidays: [] };
    expect(checkTarget(target('a', { hours }), NO_FACTS, TX, AT).eligible).toBe(true);
    expect(checkTarget(target('a', { hours }), NO_FACTS, TX, AT + 8 * HOUR)).toMatchObject({ skip: 'closed', inputs: { localTime: '18:00' } });
    expect(checkTarget(target('a', { hours: { ...hours, holidays: ['2026-11-24'] } }), NO_FACTS, TX, AT)).toMatchObject({ skip: 'closed', inputs: { holiday: true } });
  });

  it('out of its geography', () => {
    expect(checkTarget(target('a', { geography: { states: ['OK'], zipPrefixes: [], areaCodes: [] } }), NO_FACTS, TX, AT)).toMatchObject({ skip: 'geo' });
  });

  it('capped by its hourly or daily count; at capacity by its live leases', () => {
    const t = target('a', { hourlyCap: 3, dailyCap: 10, concurrencyCap: 2 });
    expect(checkTarget(t, { liveLeases: 1, callsThisHour: 2, callsToday: 9 }, TX, AT).eligible).toBe(true);
    expect(checkTarget(t, { liveLeases: 0, callsThisHour: 3, callsToday: 3 }, TX, AT)).toMatchObject({ skip: 'capped' });
    expect(checkTarget(t, { liveLeases: 0, callsThisHour: 0, callsToday: 10 }, TX, AT)).toMatchObject({ skip: 'capped' });
    expect(checkTarget(t, { liveLeases: 2, callsThisHour: 0, callsToday: 0 }, TX, AT)).toMatchObject({ skip: 'at_capacity' });
  });

  it('cap counters are the target’s local hour and day', () => {
    expect(capBuckets(target('a'), AT)).toEqual({ hour: '2026-11-24T10', day: '2026-11-24' });
    expect(capBuckets(target('a', { hours: null }), AT)).toEqual({ hour: '2026-11-24T16', day: '2026-11-24' });
  });
});

describe('property: a target reads hours and geography exactly as rating reads a campaign’s', () => {
  const windowArb = fc.record({ day: fc.constantFrom(...WEEKDAYS), open: fc.integer({ min: 0, max: 23 }), len: fc.integer({ min: 1, max: 24 }) });
  it('hours', () => {
    fc.assert(
      fc.property(fc.array(windowArb, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 14 * 24 * 60 }), fc.constantFrom('America/Chicago', 'Asia/Kolkata', 'UTC'), (ws, minute, timeZone) => {
        const windows = ws.map((w) => ({ day: w.day, open: `${String(w.open).padStart(2, '0')}:00`, close: w.open + w.len >= 24 ? '24:00' : `${String(w.open + w.len).padStart(2, '0')}:00` }));
        const atMs = AT + minute * 60_000;
        const rated = rateCall({
          call: { status: 'completed', from: '+15125550123', to: ASSIGNMENT.number, totalSec: 500, talkSec: null, answeredBy: null, digits: null, fromState: 'TX', fromZip: null, tags: [] },
          startedAtMs: atMs,
          assignment: ASSIGNMENT,
          campaign: { campaignId: 'roofing-tx', hours: { timeZone, windows }, geography: null },
          termsVersions: [TERMS],
          priorBilled: null,
          blocked: null,
        });
        expect(targetOpenAt({ timeZone, windows, holidays: [] }, atMs).open).toBe(rated.rules.find((r) => r.rule === 'outside_hours')?.passed);
      }),
    );
  });

  it('geography', () => {
    fc.assert(
      fc.property(
        fc.record({ states: fc.subarray(['TX', 'OK', 'NY']), zipPrefixes: fc.subarray(['787', '7870', '731']), areaCodes: fc.subarray(['512', '405', '212']) }),
        fc.constantFrom('+15125550123', '+14055550123', 'anonymous', '+442071838750'),
        fc.constantFrom('TX', 'OK', null),
        fc.constantFrom('78701', '73102', null),
        (geography, from, fromState, fromZip) => {
          const g = geography.states.length + geography.zipPrefixes.length + geography.areaCodes.length > 0 ? geography : null;
          const rated = rateCall({
            call: { status: 'completed', from, to: ASSIGNMENT.number, totalSec: 500, talkSec: null, answeredBy: null, digits: null, fromState, fromZip, tags: [] },
            startedAtMs: AT,
            assignment: ASSIGNMENT,
            campaign: { campaignId: 'roofing-tx', hours: null, geography: g },
            termsVersions: [TERMS],
            priorBilled: null,
            blocked: null,
          });
          expect(geoMatchedBy(g, callerGeo({ from, fromState, fromZip })) !== null).toBe(rated.rules.find((r) => r.rule === 'out_of_geo')?.passed);
        },
      ),
    );
  });
});
