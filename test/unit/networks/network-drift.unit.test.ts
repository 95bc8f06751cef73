/**
 * Drift per local day and publisher (calls, agreements, each disagreement with its money, the duration-gap
 * distribution) and the dispute proposals the disagreements call for: only inside the credit window, by policy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DISAGREEMENTS, DURATION_GAP_BUCKETS, disputeProposals, gapBucket, isDisputable, networkDrift } from '../../../shared/domain/networks/drift';
import { matchClaims, type MatchFinding } from '../../../shared/domain/networks/matching';
import type { NetworkClaim } from '../../../shared/domain/networks/claims';

const finding = (over: Partial<MatchFinding>): MatchFinding => ({
  state: 'matched',
  networkCallId: 'N1',
  legCallId: 'L1',
  matchedBy: 'caller_and_start',
  startedAt: '2026-11-24T16:00:00.000Z',
  startDiffSec: 10,
  durationGapSec: 0,
  theirCents: 2000,
  ourCents: 2000,
  atStakeCents: 0,
  reasons: [],
  publisher: 'P1',
  subSource: 's1',
  ...over,
});

describe('network drift', () => {
  it('rows by local day in the report’s zone, then publisher (unattributed last)', () => {
    const findings = [
      finding({ startedAt: '2026-11-25T05:30:00.000Z', publisher: 'P2' }),
      finding({ startedAt: '2026-11-25T06:30:00.000Z', publisher: 'P1' }),
      finding({ startedAt: '2026-11-24T20:00:00.000Z', publisher: null, state: 'received_not_claimed', networkCallId: null, durationGapSec: null, atStakeCents: 2000 }),
      finding({ startedAt: '2026-11-24T21:00:00.000Z', publisher: 'P1' }),
    ];
    const chicago = networkDrift(findings, 'America/Chicago');
    expect(chicago.rows.map((r) => [r.day, r.publisher, r.calls])).toEqual([
      ['2026-11-24', 'P1', 1],
      ['2026-11-24', 'P2', 1],
      ['2026-11-24', null, 1],
      ['2026-11-25', 'P1', 1],
    ]);
    const utc = networkDrift(findings, 'UTC');
    expect(utc.rows.map((r) => [r.day, r.publisher])).toEqual([
      ['2026-11-24', 'P1'],
      ['2026-11-24', null],
      ['2026-11-25', 'P1'],
      ['2026-11-25', 'P2'],
    ]);
  });

  it('reads the day across a clock change (US fall back)', () => {
    const r = networkDrift([finding({ startedAt: '2026-11-01T04:59:59.000Z' }), finding({ startedAt: '2026-11-01T05:00:00.000Z' }), finding({ startedAt: '2026-11-02T05:59:59.000Z' })], 'America/Chicago');
    expect(r.rows.map((x) => [x.day, x.calls])).toEqual([
      ['2026-10-31', 1],
      ['2026-11-01', 2],
    ]);
  });

  it('counts agreements and each disagreement with its money', () => {
    const r = networkDrift(
      [
        finding({}),
        finding({ state: 'duration_gap', durationGapSec: 80, atStakeCents: 0 }),
        finding({ state: 'billable_disagreement', atStakeCents: 4500 }),
        finding({ state: 'billable_disagreement', atStakeCents: 500 }),
        finding({ state: 'claimed_not_received', legCallId: null, durationGapSec: null, atStakeCents: 3000 }),
      ],
      'UTC',
    );
    const [row] = r.rows;
    expect(row).toMatchObject({ calls: 5, agreements: 1 });
    expect(row?.disagreements).toEqual({
      claimed_not_received: { calls: 1, atStakeCents: 3000 },
      received_not_claimed: { calls: 0, atStakeCents: 0 },
      duration_gap: { calls: 1, atStakeCents: 0 },
      attribution_conflict: { calls: 0, atStakeCents: 0 },
      billable_disagreement: { calls: 2, atStakeCents: 5000 },
    });
    expect(row?.durationGap.filter((b) => b.calls > 0)).toEqual([
      { bucket: '0', calls: 3 },
      { bucket: '61..300', calls: 1 },
    ]);
    expect(r.totals).toEqual({ calls: row?.calls, agreements: row?.agreements, disagreements: row?.disagreements, durationGap: row?.durationGap });
  });

  it('buckets the signed gap so that longer on either side reads apart', () => {
    expect([-400, -301, -300, -61, -60, -16, -15, -6, -5, -1, 0, 1, 5, 6, 15, 16, 60, 61, 300, 301].map(gapBucket)).toEqual([
      '<=-301', '<=-301', '-300..-61', '-300..-61', '-60..-16', '-60..-16', '-15..-6', '-15..-6', '-5..-1', '-5..-1',
      '0', '1..5', '1..5', '6..15', '6..15', '16..60', '16..60', '61..300', '61..300', '>=301',
    ]);
    expect(DURATION_GAP_BUCKETS).toHaveLength(11);
  });
});

describe('dispute proposals', () => {
  const start = Date.parse('2026-11-24T16:00:00.000Z');
  const policy = { mode: 'auto_open' as const, windowDays: 14 };
  const inWindow = start + 86_400_000;

  it('are for disagreements in which the network bills more than we owe, or names the wrong publisher', () => {
    expect(isDisputable(finding({}))).toBe(false);
    expect(isDisputable(finding({ state: 'claimed_not_received', legCallId: null, ourCents: null, theirCents: 3000 }))).toBe(true);
    expect(isDisputable(finding({ state: 'claimed_not_received', legCallId: null, ourCents: null, theirCents: null }))).toBe(false);
    expect(isDisputable(finding({ state: 'received_not_claimed', networkCallId: null, theirCents: null }))).toBe(false);
    expect(isDisputable(finding({ state: 'billable_disagreement', theirCents: 4500, ourCents: 0 }))).toBe(true);
    expect(isDisputable(finding({ state: 'billable_disagreement', theirCents: 0, ourCents: 2000 }))).toBe(false);
    expect(isDisputable(finding({ state: 'duration_gap', theirCents: 3500, ourCents: 2000 }))).toBe(true);
    expect(isDisputable(finding({ state: 'duration_gap', theirCents: 2000, ourCents: 2000 }))).toBe(false);
    expect(isDisputable(finding({ state: 'attribution_conflict', theirCents: 2000, ourCents: 2000 }))).toBe(true);
  });

  it('name the claim and the leg, the amount asked back and the deadline', () => {
    const proposals = disputeProposals(
      'rgb',
      [
        finding({ state: 'duration_gap', networkCallId: 'N2', legCallId: 'L2', theirCents: 3500, ourCents: 2000 }),
        finding({ state: 'claimed_not_received', networkCallId: 'N1', legCallId: null, ourCents: null, theirCents: 3000 }),
        finding({ state: 'attribution_conflict', networkCallId: 'N3', legCallId: 'L2', matchedBy: null, reasons: ['two_claims_for_one_leg'], theirCents: 2500, ourCents: null }),
        finding({ networkCallId: 'N4', legCallId: 'L4' }),
      ],
      policy,
      inWindow,
    );
    expect(proposals).toEqual([
      { proposalId: 'network-dispute:rgb:N1', action: 'open', state: 'claimed_not_received', reasons: [], networkCallId: 'N1', legCallId: null, amountCents: 3000, startedAt: '2026-11-24T16:00:00.000Z', deadline: '2026-12-08T16:00:00.000Z' },
      { proposalId: 'network-dispute:rgb:N2', action: 'open', state: 'duration_gap', reasons: [], networkCallId: 'N2', legCallId: 'L2', amountCents: 1500, startedAt: '2026-11-24T16:00:00.000Z', deadline: '2026-12-08T16:00:00.000Z' },
      { proposalId: 'network-dispute:rgb:N3', action: 'open', state: 'attribution_conflict', reasons: ['two_claims_for_one_leg'], networkCallId: 'N3', legCallId: 'L2', amountCents: 2500, startedAt: '2026-11-24T16:00:00.000Z', deadline: '2026-12-08T16:00:00.000Z' },
    ]);
  });

  it('follow the policy: open, propose, or nothing', () => {
    const f = [finding({ state: 'claimed_not_received', legCallId: null, ourCents: null, theirCents: 3000 })];
    expect(disputeProposals('rgb', f, { mode: 'propose', windowDays: 14 }, inWindow).map((p) => p.action)).toEqual(['propose']);
    expect(disputeProposals('rgb', f, { mode: 'off', windowDays: 14 }, inWindow)).toEqual([]);
  });

  it('stop when the window closes (the deadline itself is outside); a zero-day window allows none', () => {
    const f = [finding({ state: 'claimed_not_received', legCallId: null, ourCents: null, theirCents: 3000 })];
    expect(disputeProposals('rgb', f, policy, start + 14 * 86_400_000 - 1)).toHaveLength(1);
    expect(disputeProposals('rgb', f, policy, start + 14 * 86_400_000)).toEqual([]);
    expect(disputeProposals('rgb', f, { mode: 'auto_open', windowDays: 0 }, start)).toEqual([]);
  });
});

describe('drift and proposals properties', () => {
  const T0 = Date.parse('2026-11-24T00:00:00.000Z');
  const claimArb = fc.record({
    caller: fc.constantFrom('c1', 'c2', 'c3'),
    start: fc.integer({ min: 0, max: 3 * 86_400 }),
    durationSec: fc.option(fc.nat({ max: 900 }), { nil: null }),
    counted: fc.constantFrom(true, false, null),
    payoutCents: fc.option(fc.nat({ max: 5000 }), { nil: null }),
    publisher: fc.constantFrom('P1', 'P2', null),
  });
  const legArb = fc.record({ caller: fc.constantFrom('c1', 'c2', 'c3'), start: fc.integer({ min: 0, max: 3 * 86_400 }), durationSec: fc.nat({ max: 900 }), billable: fc.boolean() });
  const findingsArb = fc.tuple(fc.array(claimArb, { maxLength: 12 }), fc.array(legArb, { maxLength: 12 })).map(([cs, ls]) =>
    matchClaims({
      claims: cs.map(
        (c, i): NetworkClaim => ({
          networkCallId: `N${i}`,
          callerKey: c.caller,
          destination: null,
          startedAt: new Date(T0 + c.start * 1000).toISOString(),
          startSource: 'reported',
          durationSec: c.durationSec,
          publisher: c.publisher,
          subSource: null,
          payoutCents: c.payoutCents,
          converted: null,
          counted: c.counted,
          events: [],
          conflicts: [],
          firstReceivedAt: new Date(T0).toISOString(),
          lastReceivedAt: new Date(T0).toISOString(),
          deliveries: 1,
        }),
      ),
      legs: ls.map((l, i) => ({
        callId: `L${i}`,
        callerKey: l.caller,
        destination: '+15125550199',
        startedAt: new Date(T0 + l.start * 1000).toISOString(),
        durationSec: l.durationSec,
        billable: l.billable,
        chargeCents: l.billable ? 2000 : 0,
        networkCallId: null,
        numberPublisher: null,
      })),
      destinations: ['+15125550199'],
      tolerances: { startToleranceSec: 600, durationGapToleranceSec: 15 },
    }),
  );

  it('every row and the totals: calls = agreements + Σ disagreements; rows sum to the totals', () => {
    fc.assert(
      fc.property(findingsArb, fc.constantFrom('UTC', 'America/Chicago', 'Asia/Kolkata'), (findings, zone) => {
        const r = networkDrift(findings, zone);
        for (const row of [...r.rows, r.totals]) {
          expect(row.calls).toBe(row.agreements + DISAGREEMENTS.reduce((n, s) => n + row.disagreements[s].calls, 0));
        }
        expect(r.totals.calls).toBe(findings.length);
        for (const s of DISAGREEMENTS) {
          expect(r.rows.reduce((n, row) => n + row.disagreements[s].atStakeCents, 0)).toBe(r.totals.disagreements[s].atStakeCents);
        }
        expect(r.totals.durationGap.reduce((n, b) => n + b.calls, 0)).toBe(findings.filter((f) => f.durationGapSec !== null).length);
      }),
    );
  });

  it('never proposes outside the credit window, nor for a finding that is not disputable, and once per claim', () => {
    fc.assert(
      fc.property(findingsArb, fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 12 * 86_400 }), (findings, windowDays, nowSec) => {
        const now = T0 + nowSec * 1000;
        const proposals = disputeProposals('rgb', findings, { mode: 'propose', windowDays }, now);
        for (const p of proposals) {
          expect(now).toBeLessThan(Date.parse(p.startedAt) + windowDays * 86_400_000);
          expect(p.amountCents).toBeGreaterThanOrEqual(0);
        }
        expect(new Set(proposals.map((p) => p.proposalId)).size).toBe(proposals.length);
        const expected = findings.filter((f) => isDisputable(f) && now < Date.parse(f.startedAt) + windowDays * 86_400_000).map((f) => f.networkCallId).sort();
        expect(proposals.map((p) => p.networkCallId).sort()).toEqual(expected);
      }),
    );
  });
});
