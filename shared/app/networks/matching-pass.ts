/**
 * The matching pass, run by the ledger writer: when a postback arrives (its claim is re-folded from every stored
 * postback of its network call) and when a call on one of a network's destinations is rated. Each run matches the
 * claims and legs around the instant (matching.ts `matchClaims`), stores each finding beside its claim and, as the
 * network attribution, on the call item (attribution.ts), and opens or proposes the disputes the network's credit
 * policy calls for on settled findings (drift.ts `disputeProposals`).
 *
 * - Postbacks are stored by content (a duplicate is a no-op) and the claim is the fold of all of them, so late,
 *   duplicated and re-ordered pixels give the same claim; the claim never touches the call item's own slots or
 *   rating, and the call's rating never touches the claim.
 * - Window: claims and legs within 3 × the start tolerance of the instant are read, findings within 2 × are
 *   written, so a pair near the edge is decided with its competitors in view. A rated leg that carries the network's
 *   call id also reads the claim of that id, wherever it starts; a claim whose leg carrying its id started outside
 *   its window is paired by the settle sweep (it reads two days), before the lone claim settles.
 * - Disputes are created once per network call (conditional create, id `network-dispute:<networkId>:<callId>`).
 *   `auto_open`: opened, and when our leg is charged, also a dispute on our charge through the dispute use case
 *   (shared/app/disputes; reason `other`, a deterministic note), refused quietly when our own publisher's policy
 *   refuses it. `propose`: recorded as proposed for the buyer. A pair's disputes are opened by the run that makes it;
 *   a lone side's by the settle sweep (`settleNetworks`) once settled (attribution.ts), so a claim delivered before
 *   its call is never disputed as a call that did not arrive.
 */
import { isSettled, legAttribution, settlesAt } from '../../domain/networks/attribution';
import { foldClaim, type NetworkClaim } from '../../domain/networks/claims';
import { disputeProposals, type DisputeProposal } from '../../domain/networks/drift';
import { matchClaims, type MatchFinding } from '../../domain/networks/matching';
import type { NetworkPostbackMessage } from '../../domain/networks/postback-message';
import { DomainError } from '../../domain/kernel/errors';
import type { CallStore, Log } from '../kernel/ports';
import type { AccountDirectory } from '../ledger/seal-accounts';
import { matchRange } from './drift-report';
import { legOf, legReadingOf, legsBetween } from './legs';
import type { NetworkRecord, NetworkStore } from './ports';

export interface MatchingPassDeps {
  readonly store: NetworkStore;
  readonly calls: Pick<CallStore, 'getCall' | 'listCalls'>;
  /** Opens a dispute on our charge of a call (the dispute use case); its id, or null when refused. Absent: none. */
  readonly openCallDispute?: (accountId: string, callId: string, note: string) => Promise<string | null>;
  readonly now: () => Date;
  readonly log: Log;
}

/** Stores the postbacks, re-folds each network call they touch, and matches around each claim. */
export async function ingestNetworkPostbacks(messages: readonly NetworkPostbackMessage[], deps: MatchingPassDeps): Promise<void> {
  const touched = new Map<string, NetworkPostbackMessage>();
  for (const m of messages) {
    await deps.store.putPostback(m.accountId, m.networkId, m.postback);
    touched.set(JSON.stringify([m.accountId, m.networkId, m.postback.networkCallId]), m);
  }
  for (const m of touched.values()) {
    const network = await deps.store.getNetwork(m.accountId, m.networkId);
    // A network deleted or never registered (a message from before): the postbacks stay stored, nothing is matched.
    if (network === null) continue;
    const postbacks = await deps.store.postbacksOf(m.accountId, m.networkId, m.postback.networkCallId);
    const claim = foldClaim(postbacks.length > 0 ? postbacks : [m.postback]);
    await deps.store.putClaim(m.accountId, m.networkId, claim);
    await matchAround(network, claim.startedAt, deps, { claim });
  }
}

/** After a call was rated: when it reached a network's destination, match around its start. */
export async function matchAfterRating(accountId: string, callId: string, deps: MatchingPassDeps): Promise<void> {
  const networks = await deps.store.listNetworks(accountId);
  if (networks.length === 0) return;
  const call = await deps.calls.getCall(callId, { consistent: true });
  if (call === null) return;
  for (const network of networks) {
    const leg = legOf(call, legReadingOf(network));
    if (leg !== null) await matchAround(network, leg.startedAt, deps, { leg });
  }
}

/** Matches the network's claims and legs around `instant` and stores what changed sides. */
export async function matchAround(
  network: NetworkRecord,
  instant: string,
  deps: MatchingPassDeps,
  fresh: { readonly claim?: NetworkClaim; readonly leg?: ReturnType<typeof legOf> } = {},
): Promise<MatchFinding[]> {
  const tolMs = Math.max(network.tolerances.startToleranceSec, 1) * 1000;
  const at = Date.parse(instant);
  const iso = (ms: number) => new Date(ms).toISOString();
  const byId = fresh.leg?.networkCallId ?? null;
  const [stored, listed, named] = await Promise.all([
    deps.store.claimsBetween(network.accountId, network.networkId, iso(at - 3 * tolMs), iso(at + 3 * tolMs)),
    legsBetween(deps.calls, network.accountId, legReadingOf(network), iso(at - 3 * tolMs), iso(at + 3 * tolMs)),
    // The claim a fresh leg names by id, wherever its start is (it matches whatever the times say).
    byId === null ? null : deps.store.getClaim(network.accountId, network.networkId, byId),
  ]);
  // The index the reads go through is eventually consistent: the claim or leg that triggered the run is added as written.
  const claims = new Map(stored.map((s) => [s.claim.networkCallId, s.claim]));
  if (named !== null && !claims.has(named.claim.networkCallId)) claims.set(named.claim.networkCallId, named.claim);
  if (fresh.claim !== undefined) claims.set(fresh.claim.networkCallId, fresh.claim);
  const legs = new Map(listed.map((l) => [l.callId, l]));
  if (fresh.leg != null) legs.set(fresh.leg.callId, fresh.leg);
  const findings = matchClaims({ claims: [...claims.values()], legs: [...legs.values()], destinations: network.destinations, tolerances: network.tolerances });
  const near = findings.filter((f) => Math.abs(Date.parse(f.startedAt) - at) <= 2 * tolMs);
  await writeFindings(network, near, claims, deps);
  // Pairs are final at once; a lone side waits for the settle sweep (settleNetworks), whatever its dates say.
  await openDisputes(network, near.filter((f) => settlesAt(f, network.tolerances) === null), deps);
  return near;
}

/** How far back the settle sweep re-matches: a lone side settles an hour after its start (attribution.ts SETTLE_SEC). */
export const SETTLE_SWEEP_DAYS = 2;

export interface SettleSummary {
  readonly accounts: number;
  readonly networks: number;
  readonly findings: number;
  readonly failed: readonly string[];
}

/**
 * The settle sweep (functions/network-settle.ts, on a schedule): for every network of every account, re-matches the
 * last SETTLE_SWEEP_DAYS, stores each settled finding (a claim no call came for is now `claimed_not_received`, and the
 * reverse) and opens or proposes the disputes they call for. A network that fails is named; the others go on.
 */
export async function settleNetworks(deps: MatchingPassDeps & { readonly accounts: AccountDirectory }): Promise<SettleSummary> {
  const now = deps.now().getTime();
  const from = new Date(now - SETTLE_SWEEP_DAYS * 86_400_000).toISOString();
  const to = new Date(now + 1).toISOString();
  const accountIds = await deps.accounts.listAccountIds();
  const failed: string[] = [];
  let networks = 0;
  let count = 0;
  for (const accountId of accountIds) {
    for (const network of await deps.store.listNetworks(accountId)) {
      networks += 1;
      try {
        const { findings, claims } = await matchRange(network, from, to, deps);
        const settled = findings.filter((f) => isSettled(f, network.tolerances, now));
        await writeFindings(network, settled, claims, deps);
        await openDisputes(network, settled, deps);
        count += settled.length;
      } catch (err) {
        deps.log.error('network settle failed', { accountId, networkId: network.networkId, error: err instanceof Error ? err.message : String(err) });
        failed.push(`${accountId}/${network.networkId}`);
      }
    }
  }
  return { accounts: accountIds.length, networks, findings: count, failed };
}

async function writeFindings(network: NetworkRecord, findings: readonly MatchFinding[], claims: ReadonlyMap<string, NetworkClaim>, deps: MatchingPassDeps): Promise<void> {
  const now = deps.now().toISOString();
  for (const f of findings) {
    if (f.networkCallId !== null) {
      const { publisher: _p, subSource: _s, ...match } = f;
      await deps.store.setClaimMatch(network.accountId, network.networkId, f.networkCallId, { ...match, settlesAt: settlesAt(f, network.tolerances), matchedAt: now });
    }
    const claim = f.networkCallId === null ? null : (claims.get(f.networkCallId) ?? null);
    const attribution = legAttribution(network.networkId, f, network.tolerances, now, claim);
    if (attribution !== null && f.legCallId !== null) await deps.store.setCallNetwork(f.legCallId, attribution);
  }
}

function disputeNote(networkId: string, p: DisputeProposal): string {
  return `Network ${networkId}, network call ${p.networkCallId}: ${p.state}${p.reasons.length > 0 ? ` (${p.reasons.join(', ')})` : ''}; ${p.amountCents} cents in dispute.`;
}

/** The disputes the findings (each final) call for under the network's credit policy, each created once. */
async function openDisputes(network: NetworkRecord, settled: readonly MatchFinding[], deps: MatchingPassDeps): Promise<void> {
  const nowMs = deps.now().getTime();
  for (const p of disputeProposals(network.networkId, settled, network.creditPolicy, nowMs)) {
    const finding = settled.find((f) => f.networkCallId === p.networkCallId)!;
    let callDisputeId: string | null = null;
    if (p.action === 'open' && p.legCallId !== null && (finding.ourCents ?? 0) > 0 && deps.openCallDispute !== undefined) {
      try {
        callDisputeId = await deps.openCallDispute(network.accountId, p.legCallId, disputeNote(network.networkId, p));
      } catch (err) {
        // Our own publisher's credit policy refused it (window, reason, reversed charge): the network dispute stands alone.
        if (!(err instanceof DomainError)) throw err;
        deps.log.info('network dispute: no dispute on our charge', { networkId: network.networkId, callId: p.legCallId, reason: err.code });
      }
    }
    const created = await deps.store.putNetworkDispute(network.accountId, {
      ...p,
      networkId: network.networkId,
      status: p.action === 'open' ? 'open' : 'proposed',
      createdAt: new Date(nowMs).toISOString(),
      callDisputeId,
    });
    if (created === 'created') deps.log.info('network dispute recorded', { networkId: network.networkId, proposalId: p.proposalId, action: p.action, state: p.state });
  }
}
