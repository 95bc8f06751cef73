/**
 * Pilots, the pure part (shared/domain/pilots/pilots.ts, pilots-schema.ts): request schema and rules, overlap, the state
 * machine, progress and the monitor's decisions, notifications due, counter reconciliation, and the report.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFIG_LEAD_MS, campaignFromSeed } from '../../../shared/domain/catalog/config';
import type { CreditEntry, LedgerEntry } from '../../../shared/domain/ledger/entries';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import { PILOT_TRANSITIONS, canTransition, stateAfterClose, stateAfterReport, statesLeadingTo } from '../../../shared/domain/pilots/lifecycle';
import { notificationFor, thresholdsDue } from '../../../shared/domain/pilots/notifications';
import { PILOT_STATES, pilotIdFor, requestHash, type PilotRecord, type PilotRequest } from '../../../shared/domain/pilots/pilots';
import { capReached, enforcementDecision, minimumPriceCents, monitorDecision, pilotProgress, reconcileCounter } from '../../../shared/domain/pilots/progress';
import { buildPilotReport, reportCsv, type PilotCall } from '../../../shared/domain/pilots/report';
import { assertNoOverlap, validatePilotRequest, windowsOverlap } from '../../../shared/domain/pilots/validation';
import { CreatePilotSchema, IdempotencyKeySchema } from '../../../shared/domain/pilots/pilots-schema';
import { DomainError } from '../../../shared/domain/kernel/errors';
import type { Campaign, Publisher } from '../../../shared/domain/catalog/types';
import type { ChargeEntry } from '../../../shared/domain/ledger/entries';

const NOW = Date.parse('2031-05-10T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;

const campaign: Campaign = campaignFromSeed({
  accountId: 'acme',
  campaignId: 'roofing',
  name: 'Roofing',
  vertical: 'home-services',
  terms: { version: 1, priceCents: 3000, bufferSec: 60, duplicateWindowHours: 24 },
});
const publisher = (publisherId: string): Publisher => ({
  accountId: 'acme',
  publisherId,
  name: publisherId,
  trafficMethods: [],
  subSources: [],
  contact: null,
  creditPolicy: { disputeWindowDays: 30, allowedReasons: ['other'] },
});

function request(overrides: Partial<PilotRequest> = {}): PilotRequest {
  return {
    campaignId: 'roofing',
    publisherIds: ['pub-a'],
    vertical: 'home-services',
    geography: null,
    spendCapCents: 30_000,
    dailyCapCents: null,
    maxBillableCalls: null,
    startsAt: iso(NOW + 5 * MIN),
    endsAt: iso(NOW + 65 * MIN),
    notify: [],
    ...overrides,
  };
}

const ctx = (over: Partial<Parameters<typeof validatePilotRequest>[1]> = {}) => ({
  nowMs: NOW,
  campaign,
  publishers: new Map<string, Publisher | null>([
    ['pub-a', publisher('pub-a')],
    ['pub-b', publisher('pub-b')],
  ]),
  ...over,
});

function fieldsOf(fn: () => void): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ kind: 'refused', code: 'unprocessable', title: 'Unprocessable request' });
    return ((err as DomainError).errors ?? []).map((e) => e.field);
  }
  throw new Error('expected a 422');
}

function record(over: Partial<PilotRecord> = {}): PilotRecord {
  return {
    accountId: 'acme',
    pilotId: 'pilot-1',
    campaignId: 'roofing',
    publisherIds: ['pub-a', 'pub-b'],
    vertical: 'home-services',
    geography: null,
    startsAt: iso(NOW),
    endsAt: iso(NOW + 60 * MIN),
    spendCapCents: 10_000,
    dailyCapCents: null,
    maxBillableCalls: null,
    timeZone: 'America/Chicago',
    notify: [],
    createdAt: iso(NOW - 10 * MIN),
    createdBy: 'bot (admin)',
    clientKeyHash: 'k',
    requestHash: 'h',
    monitorSeconds: 60,
    settleSeconds: 600,
    state: 'active',
    executionArn: null,
    notified: [],
    closedAt: null,
    closedReason: null,
    report: null,
    failure: null,
    updatedAt: iso(NOW),
    ...over,
  };
}

describe('CreatePilotSchema', () => {
  const body = {
    campaignId: 'roofing',
    publisherIds: ['pub-a'],
    vertical: 'home-services',
    spendCapCents: 30000,
    startsAt: '2031-05-10T07:05:00-05:00',
    endsAt: '2031-05-10T08:05:00-05:00',
  };

  it('fills defaults and normalises instants to UTC', () => {
    const parsed = CreatePilotSchema.parse(body);
    expect(parsed).toEqual({
      ...body,
      geography: null,
      dailyCapCents: null,
      maxBillableCalls: null,
      notify: [],
      startsAt: '2031-05-10T12:05:00.000Z',
      endsAt: '2031-05-10T13:05:00.000Z',
    });
  });

  it('names every bad field: fractional cents, repeated publisher, unknown field, bad URL, URL with credentials', () => {
    const parsed = CreatePilotSchema.safeParse({
      ...body,
      spendCapCents: 12.5,
      publisherIds: ['pub-a', 'pub-a'],
      extra: 1,
      notify: ['ftp://x.example', 'https://user:pw@hooks.example.com/x'],
    });
    expect(parsed.success).toBe(false);
    const fields = parsed.error!.issues.map((i) => i.path.join('.'));
    expect(fields).toEqual(expect.arrayContaining(['spendCapCents', 'publisherIds', '', 'notify.0', 'notify.1']));
  });

  it('refuses an instant without offset and an empty publisher list', () => {
    expect(CreatePilotSchema.safeParse({ ...body, startsAt: '2031-05-10 07:05' }).success).toBe(false);
    expect(CreatePilotSchema.safeParse({ ...body, publisherIds: [] }).success).toBe(false);
  });

  it('Idempotency-Key: visible ASCII, 1-255', () => {
    expect(IdempotencyKeySchema.safeParse('order-42:retry').success).toBe(true);
    expect(IdempotencyKeySchema.safeParse('').success).toBe(false);
    expect(IdempotencyKeySchema.safeParse('has space').success).toBe(false);
    expect(IdempotencyKeySchema.safeParse('x'.repeat(256)).success).toBe(false);
  });
});

describe('validatePilotRequest (422)', () => {
  it('accepts a valid request', () => {
    expect(() => validatePilotRequest(request(), ctx())).not.toThrow();
  });

  it('cap ≤ 0, daily cap above the spend cap, max calls ≤ 0', () => {
    expect(fieldsOf(() => validatePilotRequest(request({ spendCapCents: 0 }), ctx()))).toEqual(['spendCapCents']);
    expect(fieldsOf(() => validatePilotRequest(request({ spendCapCents: -5 }), ctx()))).toEqual(['spendCapCents']);
    expect(fieldsOf(() => validatePilotRequest(request({ dailyCapCents: 30_001 }), ctx()))).toEqual(['dailyCapCents']);
    expect(fieldsOf(() => validatePilotRequest(request({ dailyCapCents: 0 }), ctx()))).toEqual(['dailyCapCents']);
    expect(fieldsOf(() => validatePilotRequest(request({ maxBillableCalls: 0 }), ctx()))).toEqual(['maxBillableCalls']);
  });

  it('window in the past, sooner than the config lead, ends before it starts, longer than a year', () => {
    expect(fieldsOf(() => validatePilotRequest(request({ startsAt: iso(NOW - 1) }), ctx()))).toEqual(['startsAt']);
    expect(fieldsOf(() => validatePilotRequest(request({ startsAt: iso(NOW + CONFIG_LEAD_MS - 1) }), ctx()))).toEqual(['startsAt']);
    expect(() => validatePilotRequest(request({ startsAt: iso(NOW + CONFIG_LEAD_MS) }), ctx())).not.toThrow();
    expect(fieldsOf(() => validatePilotRequest(request({ endsAt: iso(NOW + 5 * MIN) }), ctx()))).toEqual(['endsAt']);
    expect(fieldsOf(() => validatePilotRequest(request({ endsAt: iso(NOW + 5 * MIN + 366 * 86_400_000) }), ctx()))).toEqual(['endsAt']);
  });

  it('unknown campaign, wrong vertical, unknown publishers (each named by index)', () => {
    expect(fieldsOf(() => validatePilotRequest(request(), ctx({ campaign: null })))).toEqual(['campaignId']);
    expect(fieldsOf(() => validatePilotRequest(request({ vertical: 'legal' }), ctx()))).toEqual(['vertical']);
    expect(fieldsOf(() => validatePilotRequest(request({ publisherIds: ['pub-a', 'pub-x', 'pub-y'] }), ctx()))).toEqual(['publisherIds.1', 'publisherIds.2']);
  });

  it('reports every violation at once', () => {
    expect(fieldsOf(() => validatePilotRequest(request({ spendCapCents: 0, startsAt: iso(NOW - MIN), publisherIds: ['nope'] }), ctx()))).toEqual([
      'spendCapCents',
      'startsAt',
      'publisherIds.0',
    ]);
  });
});

describe('overlap (409)', () => {
  const terms = (over: Partial<PilotTerms>): PilotTerms => ({
    pilotId: 'pilot-x',
    publisherIds: ['pub-a'],
    startsAt: iso(NOW),
    endsAt: iso(NOW + 60 * MIN),
    spendCapCents: 1,
    dailyCapCents: null,
    maxBillableCalls: null,
    timeZone: 'UTC',
    createdAt: iso(NOW - MIN),
    ...over,
  });

  it('windows are half-open: touching windows do not overlap', () => {
    expect(windowsOverlap({ startsAt: iso(0), endsAt: iso(10) }, { startsAt: iso(10), endsAt: iso(20) })).toBe(false);
    expect(windowsOverlap({ startsAt: iso(0), endsAt: iso(11) }, { startsAt: iso(10), endsAt: iso(20) })).toBe(true);
  });

  it('refuses a pilot sharing a publisher over an overlapping window, naming the other pilot', () => {
    const existing = [terms({ pilotId: 'pilot-old', publisherIds: ['pub-a', 'pub-c'] })];
    expect(() => assertNoOverlap(existing, request({ publisherIds: ['pub-c'], startsAt: iso(NOW + 30 * MIN), endsAt: iso(NOW + 90 * MIN) }))).toThrow(expect.objectContaining({ kind: 'conflict', code: 'conflict', title: 'Conflict' }));
    expect(() => assertNoOverlap(existing, request({ publisherIds: ['pub-c'], startsAt: iso(NOW + 30 * MIN), endsAt: iso(NOW + 90 * MIN) }))).toThrow(/pilot-old.*pub-c/);
  });

  it('allows another publisher over the same window, and the same publisher after the window', () => {
    const existing = [terms({})];
    expect(() => assertNoOverlap(existing, request({ publisherIds: ['pub-b'], startsAt: iso(NOW), endsAt: iso(NOW + 60 * MIN) }))).not.toThrow();
    expect(() => assertNoOverlap(existing, request({ startsAt: iso(NOW + 60 * MIN), endsAt: iso(NOW + 90 * MIN) }))).not.toThrow();
    expect(() => assertNoOverlap(undefined, request())).not.toThrow();
  });

  it('property: overlap is symmetric and equals "some instant lies in both windows"', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 20 }), (s1, l1, s2, l2) => {
        const a = { startsAt: iso(s1), endsAt: iso(s1 + l1) };
        const b = { startsAt: iso(s2), endsAt: iso(s2 + l2) };
        let common = false;
        for (let t = 0; t < 80; t++) if (t >= s1 && t < s1 + l1 && t >= s2 && t < s2 + l2) common = true;
        expect(windowsOverlap(a, b)).toBe(common);
        expect(windowsOverlap(b, a)).toBe(common);
      }),
    );
  });
});

describe('ids and idempotency', () => {
  it('the pilot id depends on account and key only; the request hash on the meaning of the request', () => {
    expect(pilotIdFor('acme', 'k1')).toBe(pilotIdFor('acme', 'k1'));
    expect(pilotIdFor('acme', 'k1')).not.toBe(pilotIdFor('acme', 'k2'));
    expect(pilotIdFor('acme', 'k1')).not.toBe(pilotIdFor('other', 'k1'));
    expect(pilotIdFor('acme', 'k1')).toMatch(/^pilot-[0-9a-f]{24}$/);
    const r = request();
    const reordered = Object.fromEntries(Object.entries(r).reverse()) as unknown as PilotRequest;
    expect(requestHash(reordered)).toBe(requestHash(r));
    expect(requestHash({ ...r, startsAt: '2031-05-10T07:05:00-05:00' })).toBe(requestHash({ ...r, startsAt: '2031-05-10T12:05:00.000Z' }));
    expect(requestHash({ ...r, spendCapCents: r.spendCapCents + 1 })).not.toBe(requestHash(r));
  });
});

describe('state machine', () => {
  it('closed and stopped are terminal; every state can be reached', () => {
    expect(PILOT_TRANSITIONS.closed).toEqual([]);
    expect(PILOT_TRANSITIONS.stopped).toEqual([]);
    for (const s of PILOT_STATES) if (s !== 'scheduled') expect(statesLeadingTo(s).length, s).toBeGreaterThan(0);
  });

  it('the documented path and refusals', () => {
    expect(canTransition('scheduled', 'active')).toBe(true);
    expect(canTransition('active', 'capped')).toBe(true);
    expect(canTransition('capped', 'closed')).toBe(true);
    expect(canTransition('ended', 'closed')).toBe(true);
    expect(canTransition('active', 'closed')).toBe(false);
    expect(canTransition('closed', 'active')).toBe(false);
    expect(canTransition('stopped', 'closed')).toBe(false);
    expect(canTransition('capped', 'stopped')).toBe(false);
    expect(stateAfterClose('cap')).toBe('capped');
    expect(stateAfterClose('window')).toBe('ended');
    expect(stateAfterClose('stopped')).toBe('stopped');
    expect(stateAfterReport('stopped')).toBe('stopped');
    expect(stateAfterReport('capped')).toBe('closed');
  });

  it('property: no path leaves a terminal state', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PILOT_STATES), { maxLength: 12 }), (targets) => {
        let s: (typeof PILOT_STATES)[number] = 'scheduled';
        let terminal = false;
        for (const t of targets) {
          if (canTransition(s, t)) {
            expect(terminal).toBe(false);
            s = t;
          }
          if (s === 'closed' || s === 'stopped') terminal = true;
        }
      }),
    );
  });
});

describe('progress, monitor and enforcement decisions', () => {
  const open = { open: true, spentCents: 0, billableCalls: 0 };

  it('progress: spend, remainder, percent (floor), calls left, time left', () => {
    const p = record({ maxBillableCalls: 10 });
    const g = pilotProgress(p, { spentCents: 4_999, billableCalls: 3 }, NOW + 15 * MIN);
    expect(g).toEqual({
      spentCents: 4_999,
      remainingCents: 5_001,
      percentOfCap: 49,
      billableCalls: 3,
      remainingCalls: 7,
      window: 'open',
      timeLeftSec: 45 * 60,
      secondsToStart: 0,
    });
    expect(pilotProgress(p, open, NOW - MIN)).toMatchObject({ window: 'before', timeLeftSec: 3600, secondsToStart: 60 });
    expect(pilotProgress(p, open, NOW + 61 * MIN)).toMatchObject({ window: 'after', timeLeftSec: 0 });
  });

  it('the minimum price of the terms in force (base, bands, overrides)', () => {
    expect(minimumPriceCents(campaign, NOW)).toBe(3000);
    const banded = { termsVersions: [{ ...campaign.termsVersions[0]!, priceBands: [{ fromSec: 120, priceCents: 4500 }], overrides: [{ when: { kind: 'ivr' as const, digits: '1' }, priceCents: 2000 }] }] };
    expect(minimumPriceCents(banded, NOW)).toBe(2000);
    expect(minimumPriceCents({ termsVersions: [] }, NOW)).toBeNull();
  });

  it('cap reached: spent the cap, the remainder pays for no call, or the call limit', () => {
    const p = record({ spendCapCents: 10_000 });
    expect(capReached(p, { spentCents: 9_000, billableCalls: 3 }, 3000)).toBe(true);
    expect(capReached(p, { spentCents: 7_000, billableCalls: 3 }, 3000)).toBe(false);
    expect(capReached(p, { spentCents: 10_000, billableCalls: 3 }, null)).toBe(true);
    expect(capReached(p, { spentCents: 9_999, billableCalls: 3 }, null)).toBe(false);
    expect(capReached(record({ maxBillableCalls: 3 }), { spentCents: 0, billableCalls: 3 }, 1)).toBe(true);
  });

  it('monitor: closed counter first, then cap, then window end', () => {
    const p = record();
    expect(monitorDecision(p, { ...open, open: false }, NOW, 3000)).toBe('closed');
    expect(monitorDecision(p, { ...open, spentCents: 10_000 }, NOW + 120 * MIN, 3000)).toBe('cap');
    expect(monitorDecision(p, open, NOW + 60 * MIN, 3000)).toBe('window');
    expect(monitorDecision(p, open, NOW + 60 * MIN - 1, 3000)).toBe('continue');
  });

  it('enforcer: closes for the window only after the settle time', () => {
    const p = record({ settleSeconds: 600 });
    expect(enforcementDecision(p, open, NOW + 65 * MIN, 3000)).toBe('keep');
    expect(enforcementDecision(p, open, NOW + 70 * MIN, 3000)).toBe('close_window');
    expect(enforcementDecision(p, { ...open, spentCents: 9_500 }, NOW + MIN, 3000)).toBe('close_cap');
    expect(enforcementDecision(p, { ...open, open: false }, NOW, 3000)).toBe('closed');
  });
});

describe('notifications due', () => {
  it('50/80/100 % once each, whichever are crossed at a check', () => {
    expect(thresholdsDue(49, [])).toEqual([]);
    expect(thresholdsDue(50, [])).toEqual(['threshold:50']);
    expect(thresholdsDue(85, ['threshold:50'])).toEqual(['threshold:80']);
    expect(thresholdsDue(100, [])).toEqual(['threshold:50', 'threshold:80', 'threshold:100']);
    expect(thresholdsDue(130, ['threshold:50', 'threshold:80', 'threshold:100'])).toEqual([]);
  });

  it('bodies carry ids and figures, never call data', () => {
    const p = record();
    const counter = { spentCents: 8_000, billableCalls: 4, closedReason: 'cap' as const };
    expect(notificationFor('threshold:80', p, 'active', counter, iso(NOW))).toEqual({
      event: 'pilot.threshold',
      threshold: 80,
      accountId: 'acme',
      pilotId: 'pilot-1',
      campaignId: 'roofing',
      state: 'active',
      spentCents: 8_000,
      spendCapCents: 10_000,
      percentOfCap: 80,
      billableCalls: 4,
      at: iso(NOW),
    });
    expect(notificationFor('closed', p, 'capped', counter, iso(NOW))).toMatchObject({ event: 'pilot.closed', closedReason: 'cap' });
    expect(notificationFor('activated', p, 'active', counter, iso(NOW)).event).toBe('pilot.activated');
    expect(notificationFor('report_ready', p, 'closed', counter, iso(NOW)).event).toBe('pilot.report_ready');
  });
});

describe('counter reconciliation', () => {
  it('raises the counter to the ledger, never lowers it', () => {
    expect(reconcileCounter({ spentCents: 6000, billableCalls: 2 }, { spentCents: 6000, billableCalls: 2 })).toEqual({ action: 'none' });
    expect(reconcileCounter({ spentCents: 3000, billableCalls: 1 }, { spentCents: 6000, billableCalls: 2 })).toEqual({ action: 'raise', spentCents: 6000, billableCalls: 2 });
    expect(reconcileCounter({ spentCents: 9000, billableCalls: 3 }, { spentCents: 6000, billableCalls: 2 })).toEqual({ action: 'drift', counterAheadCents: 3000 });
  });
});

// ---------------------------------------------------------------- the report

function charge(callId: string, publisherId: string, subSource: string | null, amountCents: number, pilotId: string | null = 'pilot-1'): ChargeEntry {
  return {
    entryId: `charge:${callId}`,
    type: 'charge',
    amountCents,
    currency: 'USD',
    callId,
    accountId: 'acme',
    publisherId,
    subSource,
    campaignId: 'roofing',
    termsVersion: 1,
    effectiveAt: iso(NOW + MIN),
    createdAt: iso(NOW + 2 * MIN),
    ...(pilotId === null ? {} : { pilotId }),
  };
}

function credit(of: ChargeEntry, amountCents: number): CreditEntry {
  const { type: _t, ...rest } = of;
  return { ...rest, entryId: `credit:${of.callId}`, type: 'credit', amountCents, disputeId: `dispute:${of.callId}`, correctsEntryId: of.entryId };
}

function call(callId: string, publisherId: string, subSource: string | null, billable: boolean, reasons: PilotCall['reasons'] = [], startedAtMs = NOW + MIN): PilotCall {
  return { callId, campaignId: 'roofing', publisherId, subSource, startedAt: iso(startedAtMs), billable, reasons };
}

describe('buildPilotReport', () => {
  const pilot = record({ state: 'capped' });
  const c1 = charge('c1', 'pub-a', 'google', 3000);
  const c2 = charge('c2', 'pub-a', null, 3000);
  const c3 = charge('c3', 'pub-b', 'fb', 3000);
  const calls = [
    call('c1', 'pub-a', 'google', true),
    call('c2', 'pub-a', null, true),
    { ...call('c3', 'pub-b', 'fb', true), signals: ['robocall_suspect'] },
    call('n1', 'pub-a', 'google', false, ['below_buffer']),
    call('n2', 'pub-a', 'google', false, ['duplicate_caller']),
    { ...call('n3', 'pub-b', 'fb', false, ['over_cap']), signals: ['robocall_suspect', 'consent_missing'] },
    call('n4', 'pub-b', 'fb', false, ['outside_hours', 'below_buffer']),
    // Not the pilot's: another publisher, another campaign, before and after the window.
    call('x1', 'pub-z', null, false, ['below_buffer']),
    { ...call('x2', 'pub-a', null, true), campaignId: 'other' },
    call('x3', 'pub-a', null, false, ['outside_window'], NOW - 1),
    call('x4', 'pub-a', null, false, ['outside_window'], NOW + 60 * MIN),
  ];
  const entries: LedgerEntry[] = [c1, c2, c3, credit(c1, -1000), charge('x2', 'pub-a', null, 3000, null), charge('y', 'pub-a', null, 3000, 'pilot-other')];
  const report = buildPilotReport({
    pilot,
    calls,
    entries,
    counter: { spentCents: 9000, billableCalls: 3, closedAt: iso(NOW + 30 * MIN), closedReason: 'cap' },
    state: 'closed',
    generatedAt: iso(NOW + 31 * MIN),
  });

  it('totals: calls in scope, billable, spend from the ledger, credits, cost per billable call', () => {
    expect(report.totals).toEqual({
      publisherId: '*',
      subSource: '*',
      calls: 7,
      billableCalls: 3,
      nonBillableCalls: 4,
      reasons: { outside_hours: 1, below_buffer: 1, duplicate_caller: 1, over_cap: 1 },
      // The signals flagged at rating, per source like the reasons.
      signals: { robocall_suspect: 2, consent_missing: 1 },
      duplicates: 1,
      spendCents: 9000,
      creditsCents: -1000,
      reversalsCents: 0,
      netCents: 8000,
      costPerBillableCallCents: 2667,
    });
    expect(report.ledgerMatchesCounter).toBe(true);
    expect(report).toMatchObject({ state: 'closed', closedReason: 'cap', pilotId: 'pilot-1', counter: { spentCents: 9000, billableCalls: 3 } });
  });

  it('per publisher and per sub-source, sorted, with null sub-source first', () => {
    expect(report.publishers.map((p) => [p.publisherId, p.calls, p.spendCents, p.subSources.map((s) => s.subSource)])).toEqual([
      ['pub-a', 4, 6000, [null, 'google']],
      ['pub-b', 3, 3000, ['fb']],
    ]);
    const google = report.publishers[0]!.subSources[1]!;
    expect(google).toMatchObject({ calls: 3, billableCalls: 1, duplicates: 1, spendCents: 3000, creditsCents: -1000, netCents: 2000, costPerBillableCallCents: 2000 });
  });

  it('a publisher with no calls still gets its row; mismatched counter is flagged', () => {
    const r = buildPilotReport({
      pilot: record({ publisherIds: ['pub-a', 'pub-quiet'] }),
      calls: [],
      entries: [c1],
      counter: { spentCents: 6000, billableCalls: 2, closedAt: null, closedReason: null },
      state: 'ended',
      generatedAt: iso(NOW),
    });
    expect(r.publishers.map((p) => [p.publisherId, p.calls, p.costPerBillableCallCents])).toEqual([
      ['pub-a', 0, null],
      ['pub-quiet', 0, null],
    ]);
    expect(r.ledgerMatchesCounter).toBe(false);
  });

  it('CSV: header, sub-source lines then the publisher line, the total last; sums agree with the JSON', () => {
    const csv = reportCsv(report);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]!.split(',').slice(0, 11)).toEqual([
      'publisherId', 'subSource', 'calls', 'billableCalls', 'nonBillableCalls', 'duplicates', 'spendCents', 'creditsCents', 'reversalsCents', 'netCents', 'costPerBillableCallCents',
    ]);
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 3).join(','))).toEqual([
      'pub-a,,1',
      'pub-a,google,3',
      'pub-a,*,4',
      'pub-b,fb,3',
      'pub-b,*,3',
      '*,*,7',
    ]);
    expect(lines.at(-1)!.split(',').slice(6, 11)).toEqual(['9000', '-1000', '0', '8000', '2667']);
    const header = lines[0]!.split(',');
    expect(lines.at(-1)!.split(',')[header.indexOf('reason_over_cap')]).toBe('1');
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  it('property: publisher rows add up to the totals, and spend equals the pilot charges in the ledger', () => {
    const pubs = ['pub-a', 'pub-b'];
    const subs = [null, 's1', 's2'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ pub: fc.constantFrom(...pubs), sub: fc.constantFrom(...subs), billable: fc.boolean(), price: fc.integer({ min: 1, max: 9000 }), credit: fc.integer({ min: 0, max: 1 }) }), { maxLength: 40 }),
        (rows) => {
          const cs: PilotCall[] = [];
          const es: LedgerEntry[] = [];
          rows.forEach((r, i) => {
            cs.push(call(`c${i}`, r.pub, r.sub, r.billable, r.billable ? [] : ['below_buffer']));
            if (r.billable) {
              const ch = charge(`c${i}`, r.pub, r.sub, r.price);
              es.push(ch);
              if (r.credit) es.push(credit(ch, -Math.ceil(r.price / 2)));
            }
          });
          const rep = buildPilotReport({ pilot: record(), calls: cs, entries: es, counter: { spentCents: 0, billableCalls: 0, closedAt: null, closedReason: null }, state: 'closed', generatedAt: iso(NOW) });
          const sum = (k: 'calls' | 'billableCalls' | 'spendCents' | 'creditsCents') => rep.publishers.reduce((a, p) => a + p[k], 0);
          expect(sum('calls')).toBe(rep.totals.calls);
          expect(sum('billableCalls')).toBe(rep.totals.billableCalls);
          expect(sum('spendCents')).toBe(rep.totals.spendCents);
          expect(sum('creditsCents')).toBe(rep.totals.creditsCents);
          for (const p of rep.publishers) expect(p.subSources.reduce((a, s) => a + s.spendCents, 0)).toBe(p.spendCents);
          expect(rep.totals.spendCents).toBe(es.filter((e) => e.type === 'charge').reduce((a, e) => a + e.amountCents, 0));
        },
      ),
    );
  });
});
