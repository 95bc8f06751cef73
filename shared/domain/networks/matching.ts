/**
 * The two-sided call record: each network claim (claims.ts) matched to at most one of the buyer's own legs, and
 * each pair (or lone side) given one state with the money at stake. Neither side is changed: rating runs on the
 * leg, publisher and sub-source come from the claim.
 *
 * Matching, one to one, independent of input order:
 * 1. By network call id: a leg that carries the network's id (SIP header, URL parameter) matches the claim with that
 *    id whatever the times say. Several legs with one id: the one starting closest to the claim (then the smallest
 *    leg call id); the others match nothing by id.
 * 2. Otherwise by caller, destination and start: same caller key (both known: a withheld caller names no one, so
 *    withheld calls match only by id), same destination (a claim without one matches any of the network's
 *    destinations), starts at most `startToleranceSec` apart, and the leg carries no network id of another call.
 *    Pairs are taken closest first (ties: smaller network call id, then smaller leg call id); each side once.
 * Only legs on the network's destinations take part.
 *
 * States (one per finding; a pair takes the first that holds, in this order):
 * - `attribution_conflict`: the claim's postbacks disagree on caller, destination, publisher or sub-source; or the
 *   leg's number names a network publisher other than the claim's; or another claim wanted the same leg (each
 *   losing claim is a finding of its own naming that leg, `matchedBy: null`). At stake: the claim's amount.
 * - `billable_disagreement`: the network counts (bills) the call and we do not, or the reverse. At stake: the
 *   difference between their amount and our charge.
 * - `duration_gap`: both durations known and more than `durationGapToleranceSec` apart. At stake: the difference
 *   between their amount and our charge (0 when the gap changes no money).
 * - `matched`: none of these. At stake: 0.
 * - `claimed_not_received`: a claim no leg matched. At stake: the claim's amount.
 * - `received_not_claimed`: a leg no claim matched. At stake: our charge.
 */
import type { NetworkClaim } from './claims';
import type { MatchingTolerances } from './registration';

/** The buyer's own leg, as matching needs it (the call store derives it from the folded call and its rating). */
export interface BuyerLeg {
  readonly callId: string;
  /** Keyed caller hash (claims.ts networkCallerKey); null when withheld. */
  readonly callerKey: string | null;
  /** E.164: the line the call reached. */
  readonly destination: string;
  readonly startedAt: string;
  /** The leg's own duration (rating's), null when it has not ended. */
  readonly durationSec: number | null;
  /** Our verdict. */
  readonly billable: boolean;
  /** What our rating charges (0 when not billable). */
  readonly chargeCents: number;
  /** The network's call id when the network passed it (SIP header or URL parameter). */
  readonly networkCallId: string | null;
  /** The network publisher the leg's number is dedicated to, when it is (null: the network's shared line). */
  readonly numberPublisher: string | null;
}

export const MATCH_STATES = [
  'matched',
  'claimed_not_received',
  'received_not_claimed',
  'duration_gap',
  'attribution_conflict',
  'billable_disagreement',
] as const;
export type MatchState = (typeof MATCH_STATES)[number];
export type Disagreement = Exclude<MatchState, 'matched'>;

export const MATCH_REASONS = [
  'postbacks_disagree',
  'publisher_differs',
  'two_claims_for_one_leg',
  'they_count_we_do_not',
  'we_count_they_do_not',
] as const;
export type MatchReason = (typeof MATCH_REASONS)[number];

export interface MatchFinding {
  readonly state: MatchState;
  readonly networkCallId: string | null;
  readonly legCallId: string | null;
  /** How the pair was made; null when the finding is one side alone (or a claim that lost its leg to another). */
  readonly matchedBy: 'network_call_id' | 'caller_and_start' | null;
  /** The leg's start when there is a leg, else the claim's: the instant the finding is dated by. */
  readonly startedAt: string;
  /** Leg start − claim start, seconds (null without both). */
  readonly startDiffSec: number | null;
  /** Claim duration − leg duration, seconds (null without both). */
  readonly durationGapSec: number | null;
  /** What the network bills for the call: its amount, 0 when it does not count the call, null when unknown. */
  readonly theirCents: number | null;
  readonly ourCents: number | null;
  readonly atStakeCents: number;
  readonly reasons: readonly MatchReason[];
  /** From the claim (null for a leg without one). */
  readonly publisher: string | null;
  readonly subSource: string | null;
}

function ms(iso: string): number {
  return Date.parse(iso);
}

function theirCents(claim: NetworkClaim): number | null {
  if (claim.counted === false) return 0;
  return claim.payoutCents;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function pairFinding(claim: NetworkClaim, leg: BuyerLeg, matchedBy: 'network_call_id' | 'caller_and_start', contested: boolean, tolerances: MatchingTolerances): MatchFinding {
  const their = theirCents(claim);
  const our = leg.chargeCents;
  const durationGapSec = claim.durationSec !== null && leg.durationSec !== null ? claim.durationSec - leg.durationSec : null;
  const reasons: MatchReason[] = [];
  if (claim.conflicts.length > 0) reasons.push('postbacks_disagree');
  if (leg.numberPublisher !== null && claim.publisher !== null && leg.numberPublisher !== claim.publisher) reasons.push('publisher_differs');
  if (contested) reasons.push('two_claims_for_one_leg');
  const base = {
    networkCallId: claim.networkCallId,
    legCallId: leg.callId,
    matchedBy,
    startedAt: leg.startedAt,
    startDiffSec: Math.round((ms(leg.startedAt) - ms(claim.startedAt)) / 1000),
    durationGapSec,
    theirCents: their,
    ourCents: our,
    publisher: claim.publisher,
    subSource: claim.subSource,
  };
  const difference = Math.abs((their ?? 0) - our);
  if (reasons.length > 0) return { ...base, state: 'attribution_conflict', reasons, atStakeCents: their ?? our };
  if (claim.counted !== null && claim.counted !== leg.billable) {
    return { ...base, state: 'billable_disagreement', reasons: [claim.counted ? 'they_count_we_do_not' : 'we_count_they_do_not'], atStakeCents: difference };
  }
  if (durationGapSec !== null && Math.abs(durationGapSec) > tolerances.durationGapToleranceSec) {
    return { ...base, state: 'duration_gap', reasons: [], atStakeCents: their === null ? 0 : difference };
  }
  return { ...base, state: 'matched', reasons: [], atStakeCents: 0 };
}

function claimAlone(claim: NetworkClaim, contestedLeg: BuyerLeg | null): MatchFinding {
  const their = theirCents(claim);
  return {
    state: contestedLeg === null ? 'claimed_not_received' : 'attribution_conflict',
    networkCallId: claim.networkCallId,
    legCallId: contestedLeg?.callId ?? null,
    matchedBy: null,
    startedAt: claim.startedAt,
    startDiffSec: contestedLeg === null ? null : Math.round((ms(contestedLeg.startedAt) - ms(claim.startedAt)) / 1000),
    durationGapSec: null,
    theirCents: their,
    ourCents: null,
    atStakeCents: their ?? 0,
    reasons: contestedLeg === null ? [] : ['two_claims_for_one_leg'],
    publisher: claim.publisher,
    subSource: claim.subSource,
  };
}

function legAlone(leg: BuyerLeg): MatchFinding {
  return {
    state: 'received_not_claimed',
    networkCallId: null,
    legCallId: leg.callId,
    matchedBy: null,
    startedAt: leg.startedAt,
    startDiffSec: null,
    durationGapSec: null,
    theirCents: null,
    ourCents: leg.chargeCents,
    atStakeCents: leg.chargeCents,
    reasons: [],
    publisher: null,
    subSource: null,
  };
}

interface Candidate {
  readonly claim: NetworkClaim;
  readonly leg: BuyerLeg;
  readonly diffMs: number;
}

function byCloseness(a: Candidate, b: Candidate): number {
  return a.diffMs - b.diffMs || cmp(a.claim.networkCallId, b.claim.networkCallId) || cmp(a.leg.callId, b.leg.callId);
}

export interface MatchInput {
  /** One claim per network call id (claims.ts foldClaims). */
  readonly claims: readonly NetworkClaim[];
  readonly legs: readonly BuyerLeg[];
  /** The network's destinations (registration): legs elsewhere are not the network's. */
  readonly destinations: readonly string[];
  readonly tolerances: MatchingTolerances;
}

/** Every claim and every leg of the network in exactly one finding (a losing claim names the leg it lost), sorted by start, claim, leg. */
export function matchClaims(input: MatchInput): MatchFinding[] {
  const destinations = new Set(input.destinations);
  const legs = input.legs.filter((l) => destinations.has(l.destination)).sort((a, b) => cmp(a.callId, b.callId));
  const claims = [...input.claims].sort((a, b) => cmp(a.networkCallId, b.networkCallId));
  const toleranceMs = input.tolerances.startToleranceSec * 1000;
  const pairs = new Map<string, { claim: NetworkClaim; leg: BuyerLeg; by: 'network_call_id' | 'caller_and_start' }>();
  const takenLegs = new Set<string>();

  // 1. By network call id.
  const legsById = new Map<string, BuyerLeg[]>();
  for (const leg of legs) {
    if (leg.networkCallId === null) continue;
    legsById.set(leg.networkCallId, [...(legsById.get(leg.networkCallId) ?? []), leg]);
  }
  for (const claim of claims) {
    const same = (legsById.get(claim.networkCallId) ?? [])
      .map((leg) => ({ claim, leg, diffMs: Math.abs(ms(leg.startedAt) - ms(claim.startedAt)) }))
      .sort(byCloseness);
    const best = same[0];
    if (best === undefined) continue;
    pairs.set(claim.networkCallId, { claim, leg: best.leg, by: 'network_call_id' });
    takenLegs.add(best.leg.callId);
  }

  // 2. By caller, destination and start, closest pairs first.
  const candidates: Candidate[] = [];
  for (const claim of claims) {
    if (pairs.has(claim.networkCallId) || claim.callerKey === null) continue;
    for (const leg of legs) {
      if (takenLegs.has(leg.callId) || leg.networkCallId !== null || leg.callerKey !== claim.callerKey) continue;
      if (claim.destination !== null && claim.destination !== leg.destination) continue;
      const diffMs = Math.abs(ms(leg.startedAt) - ms(claim.startedAt));
      if (diffMs <= toleranceMs) candidates.push({ claim, leg, diffMs });
    }
  }
  candidates.sort(byCloseness);
  const contested = new Map<string, BuyerLeg>();
  for (const c of candidates) {
    if (pairs.has(c.claim.networkCallId)) continue;
    if (takenLegs.has(c.leg.callId)) {
      // The claim's closest free candidate went to a closer claim: remember the first (closest) it lost.
      if (!contested.has(c.claim.networkCallId)) contested.set(c.claim.networkCallId, c.leg);
      continue;
    }
    pairs.set(c.claim.networkCallId, { claim: c.claim, leg: c.leg, by: 'caller_and_start' });
    takenLegs.add(c.leg.callId);
  }
  // A claim that found another leg after losing one is not in conflict.
  for (const id of [...contested.keys()]) if (pairs.has(id)) contested.delete(id);
  const contestedLegs = new Set([...contested.values()].map((l) => l.callId));

  const findings: MatchFinding[] = [];
  for (const claim of claims) {
    const pair = pairs.get(claim.networkCallId);
    if (pair !== undefined) findings.push(pairFinding(claim, pair.leg, pair.by, contestedLegs.has(pair.leg.callId), input.tolerances));
    else findings.push(claimAlone(claim, contested.get(claim.networkCallId) ?? null));
  }
  for (const leg of legs) if (!takenLegs.has(leg.callId)) findings.push(legAlone(leg));
  return findings.sort(
    (a, b) => cmp(a.startedAt, b.startedAt) || cmp(a.networkCallId ?? '', b.networkCallId ?? '') || cmp(a.legCallId ?? '', b.legCallId ?? '') || cmp(a.state, b.state),
  );
}
