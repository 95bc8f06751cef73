/**
 * The counted caps (shared/domain/routing/counters.ts) and admission's campaign_capped rule fed by them: the windows
 * are the local hour and day of the campaign's (or target's) zone; a count's condition lets a call already counted
 * through; and, over any arrival order of calls and their retries, admission with the optimistic count (admit, count,
 * on a refused count admit again with the counts as they were) never admits more calls than the cap, admits exactly
 * min(cap, calls), and explains every refusal with the true counts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admit, type AdmissionDecision, type CampaignCaps } from '../../../shared/domain/routing/admission';
import { applyCount, campaignCount, campaignHold, countHolds, EMPTY_WINDOWS, targetCount, WINDOW_RETENTION_MS, type WindowSets } from '../../../shared/domain/routing/counters';
import { capWindows } from '../../../shared/domain/routing/targets';
import { leaseConditionHolds } from '../../../shared/domain/routing/leases';
import { admissionInput, AT, target } from '../../support/callflow-fixtures';

const ruleOf = (d: AdmissionDecision, rule: string) => d.rules.find((r) => r.rule === rule);

describe('the windows of a counted cap', () => {
  it('are the local hour and day of the zone (UTC without one), across midnight and DST', () => {
    // 2026-11-24T16:00Z is 10:00 in Chicago.
    expect(capWindows('America/Chicago', AT)).toEqual({ hour: '2026-11-24T10', day: '2026-11-24' });
    expect(capWindows(null, AT)).toEqual({ hour: '2026-11-24T16', day: '2026-11-24' });
    // 03:30Z on the 25th is still the 24th in Chicago: the buyer's day, not UTC's.
    expect(capWindows('America/Chicago', Date.parse('2026-11-25T03:30:00Z'))).toEqual({ hour: '2026-11-24T21', day: '2026-11-24' });
    // Spring forward in Chicago (2026-03-08 02:00 → 03:00): 08:30Z is 03:30 local.
    expect(capWindows('America/Chicago', Date.parse('2026-03-08T08:30:00Z'))).toEqual({ hour: '2026-03-08T03', day: '2026-03-08' });
  });

  it('a campaign counts in its hours’ zone, a target in its own; no hourly or daily cap: nothing to count', () => {
    const caps = { hourlyCalls: 10, dailyCalls: null };
    const campaign = { campaignId: 'c1', hours: { timeZone: 'America/New_York' } };
    expect(campaignCount(campaign, caps, 'call-1', AT)).toEqual({
      owner: { kind: 'campaign', id: 'c1' }, day: '2026-11-24', hour: '2026-11-24T11', callId: 'call-1', hourCap: 10, dayCap: null, expiresAtMs: AT + WINDOW_RETENTION_MS,
    });
    expect(campaignCount({ campaignId: 'c1', hours: null }, caps, 'call-1', AT)?.hour).toBe('2026-11-24T16');
    expect(campaignCount(campaign, { hourlyCalls: null, dailyCalls: null }, 'call-1', AT)).toBeNull();
    expect(campaignCount(campaign, null, 'call-1', AT)).toBeNull();
    expect(targetCount(target('t1', { dailyCap: 3 }), 'call-1', AT)).toMatchObject({ owner: { kind: 'target', id: 't1' }, hour: '2026-11-24T10', dayCap: 3, hourCap: null });
    expect(targetCount(target('t1'), 'call-1', AT)).toBeNull();
  });
});

describe('the count’s condition', () => {
  const w = campaignCount({ campaignId: 'c1', hours: null }, { hourlyCalls: 2, dailyCalls: 3 }, 'me', AT)!;
  it('holds below every cap, fails at any cap, and always holds for a call already counted (its retry)', () => {
    expect(countHolds(w, EMPTY_WINDOWS)).toBe(true);
    expect(countHolds(w, { thisHour: ['a'], today: ['a', 'b'] })).toBe(true);
    expect(countHolds(w, { thisHour: ['a', 'b'], today: ['a', 'b'] })).toBe(false);
    expect(countHolds(w, { thisHour: ['a'], today: ['a', 'b', 'c'] })).toBe(false);
    expect(countHolds(w, { thisHour: ['a', 'me'], today: ['a', 'b', 'me'] })).toBe(true);
    expect(applyCount(w, { thisHour: ['a', 'me'], today: ['a', 'me'] })).toEqual({ thisHour: ['a', 'me'], today: ['a', 'me'] });
  });

  it('a campaign lease lasts as long as the call can (every ring, the time limit, a grace), and is taken like a target’s', () => {
    const hold = campaignHold('c1', 0, 'me', AT, { ringSec: 40, maxCallSec: 3600 });
    expect(hold.expiresAtMs).toBe(AT + (40 + 3600 + 60) * 1000);
    expect(leaseConditionHolds(hold, { slot: 0, holder: 'other', expiresAtMs: AT + 1 })).toBe(false);
    expect(leaseConditionHolds(hold, { slot: 0, holder: 'other', expiresAtMs: AT })).toBe(true);
    expect(leaseConditionHolds(hold, { slot: 0, holder: 'me', expiresAtMs: AT + 1 })).toBe(true);
  });
});

describe('admission explains campaign_capped with the counts', () => {
  it('refuses at the cap, naming the cap and the count that reached it', () => {
    const caps: CampaignCaps = { concurrentCalls: null, hourlyCalls: 3, dailyCalls: 20 };
    const d = admit(admissionInput({ stage: 'connect', caps, counts: { active: 0, thisHour: 3, today: 7 } }));
    expect(d).toMatchObject({ kind: 'refuse', reason: 'campaign_capped', route: null });
    expect(ruleOf(d, 'campaign_capped')).toEqual({ rule: 'campaign_capped', passed: false, inputs: { concurrentCalls: null, hourlyCalls: 3, dailyCalls: 20, active: 0, thisHour: 3, today: 7 } });
  });
});

/** One arrival: a new call, or a retry of the call that arrived `of` calls ago (its request again). */
type Arrival = { readonly kind: 'new' } | { readonly kind: 'retry'; readonly of: number };

describe('property: admission with the optimistic count never admits more than the cap', () => {
  it('over any arrival order of calls and retries, against the reference semantics of the count', () => {
    fc.assert(
      fc.property(
        fc.record({ hourly: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }), daily: fc.option(fc.integer({ min: 1, max: 8 }), { nil: null }) }),
        fc.array(fc.oneof(fc.constant<Arrival>({ kind: 'new' }), fc.nat(10).map((of): Arrival => ({ kind: 'retry', of }))), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(3), { minLength: 30, maxLength: 30 }),
        (cap, arrivals, hourOf) => {
          const caps: CampaignCaps = { concurrentCalls: null, hourlyCalls: cap.hourly, dailyCalls: cap.daily };
          // The store: the day's set and each hour's (the reference semantics the adapter spells).
          let today: string[] = [];
          const hours = new Map<string, string[]>();
          const admitted = new Map<string, boolean>();
          const calls: string[] = [];
          // A retry is its call's request again moments later: the same instant, the same hour.
          const firstAt = new Map<string, number>();
          arrivals.forEach((a, i) => {
            let callId: string;
            if (a.kind === 'new' || calls.length === 0) {
              callId = `call-${calls.length}`;
              calls.push(callId);
              firstAt.set(callId, AT + (hourOf[i] ?? 0) * 3_600_000);
            } else callId = calls[calls.length - 1 - (a.of % calls.length)]!;
            const atMs = firstAt.get(callId)!;
            const input = admissionInput({ stage: 'connect', callId, atMs, caps });
            // 1. Admit with what is known (nothing), 2. the one conditional write, 3. refused: admit again with the true counts.
            let d = admit({ ...input, counts: { active: 0, thisHour: 0, today: 0 } });
            const w = campaignCount({ campaignId: 'roofing-tx', hours: null }, caps, callId, atMs);
            if (d.kind === 'route' && w !== null) {
              const sets: WindowSets = { thisHour: hours.get(w.hour) ?? [], today };
              if (countHolds(w, sets)) {
                const after = applyCount(w, sets);
                hours.set(w.hour, [...after.thisHour]);
                today = [...after.today];
              } else {
                d = admit({ ...input, counts: { active: 0, thisHour: sets.thisHour.length, today: sets.today.length } });
                expect(d).toMatchObject({ kind: 'refuse', reason: 'campaign_capped' });
                const explained = ruleOf(d, 'campaign_capped')!.inputs as { thisHour: number; today: number };
                expect((cap.hourly !== null && explained.thisHour >= cap.hourly) || (cap.daily !== null && explained.today >= cap.daily)).toBe(true);
              }
            }
            // A retry gets the answer its call got first (its count already stands, or the cap still refuses it in that hour).
            if (admitted.get(callId) === true) expect(d.kind).toBe('route');
            if (d.kind === 'route') admitted.set(callId, true);
            else if (!admitted.has(callId)) admitted.set(callId, false);
          });
          const inCount = [...admitted.values()].filter(Boolean).length;
          // Never more than the cap: the day's, and each hour's.
          if (cap.daily !== null) expect(inCount).toBeLessThanOrEqual(cap.daily);
          for (const set of hours.values()) if (cap.hourly !== null) expect(set.length).toBeLessThanOrEqual(cap.hourly);
          // No double count: every admitted call once in the day's set, and only admitted calls.
          if (cap.daily !== null) expect([...today].sort()).toEqual([...admitted.entries()].filter(([, v]) => v).map(([k]) => k).sort());
          // Exactly the cap when enough distinct calls came in one window (hourly only, a single hour).
          if (cap.daily === null && cap.hourly !== null && new Set(firstAt.values()).size === 1) expect(inCount).toBe(Math.min(cap.hourly, calls.length));
          // Against a daily cap alone: exactly min(cap, calls), whatever the hours.
          if (cap.daily !== null && cap.hourly === null) expect(inCount).toBe(Math.min(cap.daily, calls.length));
        },
      ),
      { numRuns: 300 },
    );
  });
});
