/**
 * What a match says about a call or a claim once it is stored: the network attribution of the buyer's leg (a
 * dimension on the call item, read by the call detail and the reports; never a ledger entry), the match of a claim,
 * and when a lone side is settled. Pure: instants are arguments.
 *
 * Decisions:
 * - Attribution is a dimension, not money. The ledger entry of a forwarded call names the publisher of the number
 *   it reached (the network: whom the buyer pays) and never changes; a claim that arrives late re-attributes the
 *   call by rewriting this dimension, and reports read the network's publisher and sub-source from it
 *   (`reportSource`). So a late, duplicated or re-ordered pixel never adds or edits an entry.
 * - Settling: a claim with no leg (or a leg with no claim) is only `claimed_not_received` (`received_not_claimed`)
 *   for good once the other side can no longer be on its way: after start + the start tolerance + SETTLE_SEC.
 *   Before that it is pending: shown with `settlesAt`, left out of drift and never disputed. A pair is settled at once.
 */
import type { NetworkClaim, NetworkEvent } from './claims';
import type { MatchFinding, MatchReason, MatchState } from './matching';
import type { MatchingTolerances } from './registration';

/** How long after start + start tolerance the other side of a lone finding may still arrive (a late pixel, a slow callback). */
export const SETTLE_SEC = 3_600;

/** The network side of a call item (`net`), written by the matching pass. */
export interface CallNetworkAttribution {
  readonly networkId: string;
  readonly networkCallId: string | null;
  readonly state: MatchState;
  readonly matchedBy: MatchFinding['matchedBy'];
  readonly reasons: readonly MatchReason[];
  /** The network's publisher and sub-source (the matched claim's; null when no claim matched). */
  readonly publisher: string | null;
  readonly subSource: string | null;
  readonly durationGapSec: number | null;
  readonly theirCents: number | null;
  readonly atStakeCents: number;
  /** The network's claim as matched (its own measurements; never the caller), null when no claim matched. */
  readonly claim: ClaimSummary | null;
  /** When a lone state becomes final (null for a pair). */
  readonly settlesAt: string | null;
  readonly matchedAt: string;
}

export interface ClaimSummary {
  readonly startedAt: string;
  readonly startSource: NetworkClaim['startSource'];
  readonly durationSec: number | null;
  readonly payoutCents: number | null;
  readonly counted: boolean | null;
  readonly events: readonly NetworkEvent[];
  readonly deliveries: number;
  readonly lastReceivedAt: string;
}

export function claimSummary(c: NetworkClaim): ClaimSummary {
  return {
    startedAt: c.startedAt,
    startSource: c.startSource,
    durationSec: c.durationSec,
    payoutCents: c.payoutCents,
    counted: c.counted,
    events: c.events,
    deliveries: c.deliveries,
    lastReceivedAt: c.lastReceivedAt,
  };
}

/** The instant a finding's state is final: now for a pair, start + tolerance + SETTLE_SEC for a lone side. */
export function settlesAt(f: MatchFinding, tolerances: MatchingTolerances): string | null {
  if (f.state !== 'claimed_not_received' && f.state !== 'received_not_claimed') return null;
  return new Date(Date.parse(f.startedAt) + (tolerances.startToleranceSec + SETTLE_SEC) * 1000).toISOString();
}

export function isSettled(f: MatchFinding, tolerances: MatchingTolerances, nowMs: number): boolean {
  const at = settlesAt(f, tolerances);
  return at === null || nowMs >= Date.parse(at);
}

/** The attribution a finding gives the leg it names (a claim that lost its leg to another claim gives none). */
export function legAttribution(networkId: string, f: MatchFinding, tolerances: MatchingTolerances, now: string, claim: NetworkClaim | null): CallNetworkAttribution | null {
  if (f.legCallId === null || (f.matchedBy === null && f.state !== 'received_not_claimed')) return null;
  return {
    networkId,
    networkCallId: f.networkCallId,
    state: f.state,
    matchedBy: f.matchedBy,
    reasons: f.reasons,
    publisher: f.publisher,
    subSource: f.subSource,
    durationGapSec: f.durationGapSec,
    theirCents: f.theirCents,
    atStakeCents: f.atStakeCents,
    claim: claim === null || f.matchedBy === null ? null : claimSummary(claim),
    settlesAt: settlesAt(f, tolerances),
    matchedAt: now,
  };
}

/**
 * The source a report counts a call under. A call the network's claim attributes counts under the network's
 * publisher, namespaced by the network (`<networkId>:<publisher>`: two networks, or a network and a direct
 * publisher, may use one name) and the claim's sub-source; any other call under its number's publisher.
 */
export function reportSource(
  numberSource: { readonly publisherId: string; readonly subSource: string | null },
  network: CallNetworkAttribution | null | undefined,
): { readonly publisherId: string; readonly subSource: string | null } {
  if (network == null || network.publisher === null) return numberSource;
  return { publisherId: `${network.networkId}:${network.publisher}`, subSource: network.subSource };
}
