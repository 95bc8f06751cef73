/**
 * The whole pure path on a planted world: a network forwards calls from three publishers and six sub-sources to one
 * line, its pixels arrive late, duplicated and out of order (as Ringba GET pixels through the real parameter
 * parser), some claims have no call, some calls no claim, durations are off by seconds and by minutes. Every call
 * must come out attributed to its planted publisher and sub-source, every match state exactly where planted, the
 * drift totals equal to the planted truth, and dispute proposals for the planted disputable disagreements only.
 * The pixels carry the network's start (a mapped `start` parameter): a late pixel cannot date the call by its arrival.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldClaims, networkCallerKey, parsePostback, postbackParams, type NetworkPostback } from '../../../shared/domain/networks/claims';
import { DISAGREEMENTS, disputeProposals, networkDrift } from '../../../shared/domain/networks/drift';
import { matchClaims, type BuyerLeg, type MatchState } from '../../../shared/domain/networks/matching';
import { effectiveFields } from '../../../shared/domain/networks/registration';
import { NetworkRegistrationSchema } from '../../../shared/domain/networks/registration-schema';

const LINE = '+15125550199';
const T0 = Date.parse('2026-11-24T15:00:00.000Z');
const PUBLISHERS = ['Acme Leads', 'Bright Roofs', 'Call Harbor'];
const SUB_SOURCES = ['fb-1', 'fb-2', 'google-1', 'google-2', 'native-1', 'email-1'];
const KEY = 'scenario-hash-key';
const callerKey = networkCallerKey(KEY);

const registration = NetworkRegistrationSchema.parse({
  kind: 'ringba',
  name: 'Ringba network',
  destinations: [LINE],
  fields: { durationSec: { param: 'duration', token: null }, startedAt: { param: 'start', token: null } },
  creditPolicy: { mode: 'auto_open', windowDays: 30 },
});
const mapping = effectiveFields(registration.kind, registration.fields);

/** What is planted for one call, and the state matching must find. */
const PLANTS = {
  agree: 'matched',
  off_by_seconds: 'matched',
  off_by_minutes: 'duration_gap',
  never_arrived: 'claimed_not_received',
  never_claimed: 'received_not_claimed',
  they_count: 'billable_disagreement',
  we_count: 'billable_disagreement',
  publisher_torn: 'attribution_conflict',
} as const satisfies Record<string, MatchState>;
type Plant = keyof typeof PLANTS;

const plantArb = fc.record({
  plant: fc.constantFrom(...(Object.keys(PLANTS) as Plant[])),
  publisher: fc.nat({ max: 2 }),
  subSource: fc.nat({ max: 5 }),
  durationSec: fc.integer({ min: 95, max: 900 }),
  skewSec: fc.integer({ min: 0, max: 90 }),
  redeliveries: fc.nat({ max: 2 }),
  lateSec: fc.integer({ min: 0, max: 6 * 3600 }),
});

interface World {
  readonly deliveries: { query: string; receivedAt: string }[];
  readonly legs: BuyerLeg[];
}

type Planted = { plant: Plant; publisher: number; subSource: number; durationSec: number; skewSec: number; redeliveries: number; lateSec: number };

function build(plants: readonly Planted[], order: number[]): World {
  const deliveries: { query: string; receivedAt: string }[] = [];
  const legs: BuyerLeg[] = [];
  plants.forEach((p, i) => {
    // One caller per call, calls ten minutes apart: nothing but the planted fact can decide a match.
    const caller = `+1512555${String(1000 + i).padStart(4, '0')}`;
    const startMs = T0 + i * 600_000;
    const publisher = PUBLISHERS[p.publisher]!;
    const subSource = SUB_SOURCES[p.subSource]!;
    const theirDuration = p.plant === 'off_by_seconds' ? p.durationSec + 7 : p.plant === 'off_by_minutes' ? p.durationSec + 180 : p.durationSec;
    if (p.plant !== 'never_claimed') {
      const revenue = p.plant === 'we_count' ? '0.00' : '25.00';
      const base = `call_id=NC${i}&caller=${encodeURIComponent(caller)}&sub_id=${encodeURIComponent(subSource)}&start=${new Date(startMs).toISOString()}`;
      const pub = (name: string) => `&publisher=${encodeURIComponent(name)}`;
      const incoming = { query: `${base}${pub(publisher)}&revenue=[Call:ConversionAmount]&event=incoming`, receivedAt: new Date(startMs + p.lateSec * 1000).toISOString() };
      const endName = p.plant === 'publisher_torn' ? PUBLISHERS[(p.publisher + 1) % 3]! : publisher;
      const completed = {
        query: `${base}${pub(endName)}&revenue=${revenue}&event=${p.plant === 'we_count' ? 'completed' : 'converted'}&duration=${theirDuration}`,
        receivedAt: new Date(startMs + theirDuration * 1000 + p.lateSec * 1000 + 2000).toISOString(),
      };
      deliveries.push(incoming, completed);
      for (let r = 0; r < p.redeliveries; r++) deliveries.push(completed);
    }
    if (p.plant !== 'never_arrived') {
      const billable = p.plant !== 'they_count';
      legs.push({
        callId: `twilio:CA${i}`,
        callerKey: callerKey(caller),
        destination: LINE,
        startedAt: new Date(startMs + p.skewSec * 1000).toISOString(),
        durationSec: p.durationSec,
        billable,
        chargeCents: billable ? 2500 : 0,
        // Every other call carries the network's id in a SIP header: both ways of matching are exercised.
        networkCallId: i % 2 === 0 ? `NC${i}` : null,
        numberPublisher: null,
      });
    }
  });
  const shuffled = order.length === deliveries.length ? order.map((k) => deliveries[k]!) : deliveries;
  return { deliveries: shuffled, legs };
}

describe('a network scenario end to end (pure)', () => {
  it('finds every planted state where planted and nowhere else; drift and disputes equal the planted truth', () => {
    fc.assert(
      fc.property(
        fc.array(plantArb, { minLength: 1, maxLength: 24 }).chain((plants) => {
          const n = build(plants, []).deliveries.length;
          const indices = Array.from({ length: n }, (_, k) => k);
          return fc.tuple(fc.constant(plants), fc.shuffledSubarray(indices, { minLength: n, maxLength: n }));
        }),
        ([plants, order]) => {
          const world = build(plants, order);
          const postbacks: NetworkPostback[] = world.deliveries.map((d) => {
            const params = postbackParams({ query: d.query, contentType: null, body: '' });
            if (!params.ok) throw new Error('params');
            const r = parsePostback(mapping, params.params, { receivedAt: d.receivedAt, callerKey });
            if (!r.ok) throw new Error(JSON.stringify(r.errors));
            return r.postback;
          });
          const claims = foldClaims(postbacks);
          const findings = matchClaims({ claims, legs: world.legs, destinations: registration.destinations, tolerances: registration.tolerances });

          const byCall = new Map<number, (typeof findings)[number]>();
          for (const f of findings) byCall.set(Number((f.networkCallId ?? f.legCallId!).replace(/^(NC|twilio:CA)/, '')), f);
          expect(byCall.size).toBe(plants.length);
          plants.forEach((p, i) => {
            const f = byCall.get(i)!;
            expect([i, p.plant, f.state]).toEqual([i, p.plant, PLANTS[p.plant]]);
            if (p.plant !== 'never_claimed') {
              expect(f.subSource).toBe(SUB_SOURCES[p.subSource]);
              // A torn publisher keeps the smaller of the two names; every other call its planted publisher.
              if (p.plant !== 'publisher_torn') expect(f.publisher).toBe(PUBLISHERS[p.publisher]);
            }
          });

          const drift = networkDrift(findings, 'America/Chicago');
          const planted = (state: MatchState) => plants.filter((p) => PLANTS[p.plant] === state).length;
          expect(drift.totals.agreements).toBe(planted('matched'));
          for (const s of DISAGREEMENTS) expect([s, drift.totals.disagreements[s].calls]).toEqual([s, planted(s)]);
          const money = (plant: Plant, cents: number) => plants.filter((p) => p.plant === plant).length * cents;
          expect(drift.totals.disagreements.claimed_not_received.atStakeCents).toBe(money('never_arrived', 2500));
          expect(drift.totals.disagreements.received_not_claimed.atStakeCents).toBe(money('never_claimed', 2500));
          expect(drift.totals.disagreements.billable_disagreement.atStakeCents).toBe(money('they_count', 2500) + money('we_count', 2500));
          expect(drift.totals.disagreements.duration_gap.atStakeCents).toBe(0);

          const now = T0 + 86_400_000;
          const proposals = disputeProposals('ringba-main', findings, registration.creditPolicy, now);
          const disputable: Plant[] = ['never_arrived', 'they_count', 'publisher_torn'];
          expect(proposals.map((p) => p.networkCallId).sort()).toEqual(
            plants.flatMap((p, i) => (disputable.includes(p.plant) ? [`NC${i}`] : [])).sort(),
          );
          expect(proposals.every((p) => p.action === 'open')).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});
