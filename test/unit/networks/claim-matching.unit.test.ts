/**
 * Matching network claims to the buyer's own legs: by network call id first, else by caller, destination and start
 * within the tolerance, closest pairs first, one to one; each finding's state and the money at stake. Properties:
 * the pairs are a partial bijection, every claim and every leg of the network is in exactly one finding, and the
 * result does not depend on the order of the inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NetworkClaim } from '../../../shared/domain/networks/claims';
import { matchClaims, type BuyerLeg, type MatchFinding } from '../../../shared/domain/networks/matching';
import { DEFAULT_TOLERANCES } from '../../../shared/domain/networks/registration';

const LINE = '+15125550199';
const T0 = Date.parse('2026-11-24T16:00:00.000Z');
const at = (sec: number) => new Date(T0 + sec * 1000).toISOString();

const claim = (id: string, over: Partial<NetworkClaim> = {}): NetworkClaim => ({
  networkCallId: id,
  callerKey: 'caller-1',
  destination: LINE,
  startedAt: at(0),
  startSource: 'reported',
  durationSec: 120,
  publisher: 'P1',
  subSource: 's1',
  payoutCents: 2000,
  converted: true,
  counted: true,
  events: ['completed'],
  conflicts: [],
  firstReceivedAt: at(0),
  lastReceivedAt: at(130),
  deliveries: 1,
  ...over,
});

const leg = (callId: string, over: Partial<BuyerLeg> = {}): BuyerLeg => ({
  callId,
  callerKey: 'caller-1',
  destination: LINE,
  startedAt: at(20),
  durationSec: 115,
  billable: true,
  chargeCents: 2000,
  networkCallId: null,
  numberPublisher: null,
  ...over,
});

const match = (claims: NetworkClaim[], legs: BuyerLeg[], tolerances = DEFAULT_TOLERANCES) => matchClaims({ claims, legs, destinations: [LINE, '+15125550198'], tolerances });
const pairs = (findings: MatchFinding[]) => findings.filter((f) => f.matchedBy !== null).map((f) => [f.networkCallId, f.legCallId, f.matchedBy]);
const states = (findings: MatchFinding[]) => findings.map((f) => [f.state, f.networkCallId, f.legCallId]);

describe('matching claims to legs', () => {
  it('matches by the network call id whatever the times, before any caller and time match', () => {
    const f = match([claim('N1', { startedAt: at(-7200) }), claim('N2')], [leg('L-id', { networkCallId: 'N1', callerKey: 'other' }), leg('L-time')]);
    expect(pairs(f)).toEqual([
      ['N1', 'L-id', 'network_call_id'],
      ['N2', 'L-time', 'caller_and_start'],
    ]);
    expect(f.find((x) => x.networkCallId === 'N1')?.startDiffSec).toBe(7220);
  });

  it('takes the closest of several legs carrying one network id; the others are unclaimed', () => {
    const f = match([claim('N1')], [leg('L-far', { networkCallId: 'N1', startedAt: at(300) }), leg('L-near', { networkCallId: 'N1', startedAt: at(5) })]);
    expect(states(f)).toEqual([
      ['matched', 'N1', 'L-near'],
      ['received_not_claimed', null, 'L-far'],
    ]);
  });

  it('matches by caller, destination and start within the tolerance, the bound included', () => {
    expect(pairs(match([claim('N1')], [leg('L1', { startedAt: at(120) })]))).toEqual([['N1', 'L1', 'caller_and_start']]);
    expect(pairs(match([claim('N1')], [leg('L1', { startedAt: at(-120) })]))).toEqual([['N1', 'L1', 'caller_and_start']]);
    expect(states(match([claim('N1')], [leg('L1', { startedAt: at(121) })]))).toEqual([
      ['claimed_not_received', 'N1', null],
      ['received_not_claimed', null, 'L1'],
    ]);
    expect(pairs(match([claim('N1')], [leg('L1', { startedAt: at(121) })], { startToleranceSec: 300, durationGapToleranceSec: 15 }))).toHaveLength(1);
  });

  it('needs the same caller and the same destination (a claim without a destination takes any of the network’s)', () => {
    expect(pairs(match([claim('N1')], [leg('L1', { callerKey: 'caller-2' })]))).toEqual([]);
    expect(pairs(match([claim('N1')], [leg('L1', { destination: '+15125550198' })]))).toEqual([]);
    expect(pairs(match([claim('N1', { destination: null })], [leg('L1', { destination: '+15125550198' })]))).toEqual([['N1', 'L1', 'caller_and_start']]);
  });

  it('never matches a withheld caller by time, only by id', () => {
    expect(pairs(match([claim('N1', { callerKey: null })], [leg('L1', { callerKey: null })]))).toEqual([]);
    expect(pairs(match([claim('N1', { callerKey: null })], [leg('L1', { callerKey: null, networkCallId: 'N1' })]))).toEqual([['N1', 'L1', 'network_call_id']]);
  });

  it('does not match by time a leg that carries another network call’s id', () => {
    expect(states(match([claim('N1')], [leg('L1', { networkCallId: 'N9' })]))).toEqual([
      ['claimed_not_received', 'N1', null],
      ['received_not_claimed', null, 'L1'],
    ]);
  });

  it('leaves out legs on lines that are not the network’s', () => {
    expect(match([], [leg('L1', { destination: '+15125550100' })])).toEqual([]);
  });

  it('pairs the closest first, ties going to the smaller network id, then the smaller leg id', () => {
    const f = match([claim('N1', { startedAt: at(0) }), claim('N2', { startedAt: at(30) })], [leg('L1', { startedAt: at(25) }), leg('L2', { startedAt: at(100) })]);
    // N2–L1 is 5 s apart, the closest pair; N1 then takes L2 (100 s).
    expect(pairs(f).sort()).toEqual([
      ['N1', 'L2', 'caller_and_start'],
      ['N2', 'L1', 'caller_and_start'],
    ]);
    const tie = match([claim('N2', { startedAt: at(10) }), claim('N1', { startedAt: at(30) })], [leg('L1', { startedAt: at(20) })]);
    expect(pairs(tie)).toEqual([['N1', 'L1', 'caller_and_start']]);
    const legTie = match([claim('N1', { startedAt: at(20) })], [leg('L2', { startedAt: at(10) }), leg('L1', { startedAt: at(30) })]);
    expect(pairs(legTie)).toEqual([['N1', 'L1', 'caller_and_start']]);
  });

  it('makes two claims for one leg an attribution conflict on both, the losing claim naming the leg', () => {
    const f = match([claim('N1', { publisher: 'P1' }), claim('N2', { publisher: 'P2', startedAt: at(40), payoutCents: 3500 })], [leg('L1', { startedAt: at(30) })]);
    expect(f.map((x) => [x.state, x.networkCallId, x.legCallId, x.matchedBy, x.reasons, x.atStakeCents])).toEqual([
      ['attribution_conflict', 'N1', 'L1', null, ['two_claims_for_one_leg'], 2000],
      ['attribution_conflict', 'N2', 'L1', 'caller_and_start', ['two_claims_for_one_leg'], 3500],
    ]);
  });

  it('does not count as a conflict a claim that lost one leg and matched another', () => {
    const f = match([claim('N1', { startedAt: at(0) }), claim('N2', { startedAt: at(30) })], [leg('L1', { startedAt: at(28) }), leg('L2', { startedAt: at(90) })]);
    expect(f.every((x) => x.state === 'matched')).toBe(true);
  });

  it('makes a publisher other than the number’s, or postbacks that disagree, an attribution conflict', () => {
    const [wrong] = match([claim('N1', { publisher: 'P2' })], [leg('L1', { numberPublisher: 'P1' })]);
    expect([wrong?.state, wrong?.reasons]).toEqual(['attribution_conflict', ['publisher_differs']]);
    const [right] = match([claim('N1', { publisher: 'P1' })], [leg('L1', { numberPublisher: 'P1' })]);
    expect(right?.state).toBe('matched');
    const [torn] = match([claim('N1', { conflicts: ['publisher'] })], [leg('L1')]);
    expect([torn?.state, torn?.reasons, torn?.atStakeCents]).toEqual(['attribution_conflict', ['postbacks_disagree'], 2000]);
  });

  it('finds billable disagreements both ways, with the money at stake', () => {
    const [theyCount] = match([claim('N1', { counted: true, payoutCents: 4500 })], [leg('L1', { billable: false, chargeCents: 0 })]);
    expect([theyCount?.state, theyCount?.reasons, theyCount?.atStakeCents]).toEqual(['billable_disagreement', ['they_count_we_do_not'], 4500]);
    const [weCount] = match([claim('N1', { counted: false, converted: false, payoutCents: 0 })], [leg('L1', { billable: true, chargeCents: 2000 })]);
    expect([weCount?.state, weCount?.reasons, weCount?.theirCents, weCount?.atStakeCents]).toEqual(['billable_disagreement', ['we_count_they_do_not'], 0, 2000]);
    const [unknown] = match([claim('N1', { counted: null, payoutCents: null })], [leg('L1', { billable: false, chargeCents: 0 })]);
    expect(unknown?.state).toBe('matched');
  });

  it('finds duration gaps above the tolerance (claim − leg), at stake only what they bill above or below us', () => {
    const [gap] = match([claim('N1', { durationSec: 200 })], [leg('L1', { durationSec: 120 })]);
    expect([gap?.state, gap?.durationGapSec, gap?.atStakeCents]).toEqual(['duration_gap', 80, 0]);
    const [edge] = match([claim('N1', { durationSec: 135 })], [leg('L1', { durationSec: 120 })]);
    expect([edge?.state, edge?.durationGapSec]).toEqual(['matched', 15]);
    const [priced] = match([claim('N1', { durationSec: 60, payoutCents: 3500 })], [leg('L1', { durationSec: 130, chargeCents: 2000 })]);
    expect([priced?.state, priced?.durationGapSec, priced?.atStakeCents]).toEqual(['duration_gap', -70, 1500]);
    const [open] = match([claim('N1', { durationSec: 200 })], [leg('L1', { durationSec: null })]);
    expect([open?.state, open?.durationGapSec]).toEqual(['matched', null]);
  });

  it('gives one state per pair: conflict, then billable disagreement, then duration gap', () => {
    const [all] = match([claim('N1', { conflicts: ['caller'], durationSec: 900, counted: true })], [leg('L1', { billable: false, chargeCents: 0 })]);
    expect(all?.state).toBe('attribution_conflict');
    const [two] = match([claim('N1', { durationSec: 900, counted: true })], [leg('L1', { billable: false, chargeCents: 0 })]);
    expect(two?.state).toBe('billable_disagreement');
  });

  it('puts the claim’s publisher and sub-source on the finding; money of lone sides', () => {
    const f = match([claim('N1', { publisher: 'P7', subSource: 'x', startedAt: at(-5000), payoutCents: 900 })], [leg('L1', { chargeCents: 1200 })]);
    expect(f.map((x) => [x.state, x.publisher, x.subSource, x.atStakeCents])).toEqual([
      ['claimed_not_received', 'P7', 'x', 900],
      ['received_not_claimed', null, null, 1200],
    ]);
  });
});

describe('matching properties', () => {
  // Few callers and starts on a 10 s grid: many candidates per claim, and ties in closeness, which the tie-breaks must settle.
  const callers = ['c1', 'c2', null] as const;
  const claimArb = fc.record({
    callerKey: fc.constantFrom(...callers),
    destination: fc.constantFrom(LINE, '+15125550198', null),
    start: fc.integer({ min: 0, max: 40 }).map((t) => t * 10),
    durationSec: fc.option(fc.nat({ max: 600 }), { nil: null }),
    counted: fc.constantFrom(true, false, null),
    payoutCents: fc.option(fc.nat({ max: 5000 }), { nil: null }),
    publisher: fc.constantFrom('P1', 'P2', null),
  });
  const legArb = fc.record({
    callerKey: fc.constantFrom(...callers),
    destination: fc.constantFrom(LINE, '+15125550198', '+15125550100'),
    start: fc.integer({ min: 0, max: 40 }).map((t) => t * 10),
    durationSec: fc.option(fc.nat({ max: 600 }), { nil: null }),
    billable: fc.boolean(),
    networkRef: fc.option(fc.nat({ max: 9 }), { nil: null }),
    numberPublisher: fc.constantFrom('P1', 'P2', null),
  });
  const world = fc.tuple(fc.array(claimArb, { maxLength: 10 }), fc.array(legArb, { maxLength: 10 })).map(([cs, ls]) => ({
    claims: cs.map((c, i) => claim(`N${i}`, { ...c, startedAt: at(c.start) })),
    legs: ls.map((l, i) =>
      leg(`L${i}`, { ...l, startedAt: at(l.start), chargeCents: l.billable ? 2000 : 0, networkCallId: l.networkRef === null ? null : `N${l.networkRef}` }),
    ),
  }));
  const tolerances = { startToleranceSec: 120, durationGapToleranceSec: 15 };

  it('pairs each claim and each leg at most once (a partial bijection)', () => {
    fc.assert(
      fc.property(world, ({ claims, legs }) => {
        const paired = match(claims, legs, tolerances).filter((f) => f.matchedBy !== null);
        expect(new Set(paired.map((f) => f.networkCallId)).size).toBe(paired.length);
        expect(new Set(paired.map((f) => f.legCallId)).size).toBe(paired.length);
      }),
    );
  });

  it('accounts for every claim once and every leg of the network once', () => {
    fc.assert(
      fc.property(world, ({ claims, legs }) => {
        const f = match(claims, legs, tolerances);
        expect(f.map((x) => x.networkCallId).filter((x) => x !== null).sort()).toEqual(claims.map((c) => c.networkCallId).sort());
        const legSides = f.filter((x) => x.matchedBy !== null || x.state === 'received_not_claimed').map((x) => x.legCallId);
        expect(legSides.sort()).toEqual(legs.filter((l) => l.destination !== '+15125550100').map((l) => l.callId).sort());
      }),
    );
  });

  it('pairs by time only within the tolerance, same caller, same line', () => {
    fc.assert(
      fc.property(world, ({ claims, legs }) => {
        for (const f of match(claims, legs, tolerances).filter((x) => x.matchedBy === 'caller_and_start')) {
          const c = claims.find((x) => x.networkCallId === f.networkCallId)!;
          const l = legs.find((x) => x.callId === f.legCallId)!;
          expect(Math.abs(f.startDiffSec!)).toBeLessThanOrEqual(120);
          expect(c.callerKey).not.toBeNull();
          expect(c.callerKey).toBe(l.callerKey);
          if (c.destination !== null) expect(c.destination).toBe(l.destination);
        }
      }),
    );
  });

  it('does not depend on the order of claims or legs', () => {
    fc.assert(
      fc.property(
        world.chain(({ claims, legs }) =>
          fc.tuple(fc.constant({ claims, legs }), fc.shuffledSubarray(claims, { minLength: claims.length }), fc.shuffledSubarray(legs, { minLength: legs.length })),
        ),
        ([w, claims, legs]) => {
          expect(match(claims, legs, tolerances)).toEqual(match(w.claims, w.legs, tolerances));
        },
      ),
    );
  });
});
