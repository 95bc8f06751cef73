/**
 * `GET /v1/reports/network-drift?networkId=&from=&to=`: the network's count against the buyer's, per local day (the
 * account's time zone) and per network publisher, from the same matching the writer runs (matching.ts), recomputed
 * at report time over the claims and legs of the period (plus the start tolerance on each side, so a pair across
 * the boundary is still a pair). A lone side that has not settled yet (attribution.ts `isSettled`) is counted as
 * `pending`, not as a disagreement. The answer also lists the disputes the drift opened or proposed (stored by the
 * matching pass) and what the credit policy calls for now (`proposals`, recomputed; nothing is written by a GET).
 */
import { SETTLE_SEC, isSettled } from '../../domain/networks/attribution';
import { disputeProposals, networkDrift, type DisputeProposal, type DriftReport } from '../../domain/networks/drift';
import type { NetworkClaim } from '../../domain/networks/claims';
import { matchClaims, type MatchFinding } from '../../domain/networks/matching';
import { invalidInput, notFound } from '../kernel/errors';
import type { ApiKeyRecord, CallStore, ConfigStore } from '../kernel/ports';
import { id, instant, type QueryOf } from '../kernel/query';
import { legReadingOf, legsBetween } from './legs';
import type { NetworkDispute, NetworkRecord, NetworkStore } from './ports';

export interface DriftDeps {
  readonly store: NetworkStore;
  readonly calls: Pick<CallStore, 'listCalls'>;
  readonly config: Pick<ConfigStore, 'getAccount'>;
  readonly now: () => Date;
}

/** A drift period is at most this long (the reads grow with it). */
export const MAX_DRIFT_DAYS = 92;
const DAY_MS = 86_400_000;

export interface NetworkDriftAnswer extends DriftReport {
  readonly networkId: string;
  readonly from: string;
  readonly to: string;
  /** Lone claims or legs still inside their settle window: not counted yet. */
  readonly pending: number;
  readonly disputes: readonly NetworkDispute[];
  readonly proposals: readonly DisputeProposal[];
}

/**
 * Every finding of the network whose start is in [from, to), matched over the period widened by the tolerance, and
 * the claims by id. Claims are read a settle window (attribution.ts SETTLE_SEC) further on each side: a leg that
 * carries a network call id matches its claim whatever the times say, and a claim further off than that would have
 * settled alone before its call.
 */
export async function matchRange(
  network: NetworkRecord,
  from: string,
  to: string,
  deps: Pick<DriftDeps, 'store' | 'calls'>,
): Promise<{ readonly findings: MatchFinding[]; readonly claims: ReadonlyMap<string, NetworkClaim> }> {
  const tolMs = network.tolerances.startToleranceSec * 1000;
  const iso = (ms: number) => new Date(ms).toISOString();
  const [fromMs, toMs] = [Date.parse(from), Date.parse(to)];
  const [stored, legs] = await Promise.all([
    deps.store.claimsBetween(network.accountId, network.networkId, iso(fromMs - tolMs - SETTLE_SEC * 1000), iso(toMs + tolMs + SETTLE_SEC * 1000)),
    legsBetween(deps.calls, network.accountId, legReadingOf(network), iso(fromMs - tolMs), iso(toMs + tolMs)),
  ]);
  const claims = new Map(stored.map((c) => [c.claim.networkCallId, c.claim]));
  const findings = matchClaims({ claims: [...claims.values()], legs, destinations: network.destinations, tolerances: network.tolerances });
  return { findings: findings.filter((f) => f.startedAt >= from && f.startedAt < to), claims };
}

/** The drift report's query: its rules parse it (NETWORK_ROUTES) before the use case runs. */
export const DRIFT_QUERY = { networkId: id.with({ required: true }), from: instant, to: instant };

export async function networkDriftReport(principal: ApiKeyRecord, q: QueryOf<typeof DRIFT_QUERY>, deps: DriftDeps): Promise<NetworkDriftAnswer> {
  const nowMs = deps.now().getTime();
  const to = q.to ?? new Date(nowMs).toISOString();
  const from = q.from ?? new Date(Date.parse(to) - 30 * DAY_MS).toISOString();
  if (from >= to) throw invalidInput('Invalid query parameters: to.', [{ field: 'to', message: 'must be after from' }]);
  if (Date.parse(to) - Date.parse(from) > MAX_DRIFT_DAYS * DAY_MS) {
    throw invalidInput('Invalid query parameters: to.', [{ field: 'to', message: `must be at most ${MAX_DRIFT_DAYS} days after from` }]);
  }
  const network = await deps.store.getNetwork(principal.accountId, q.networkId!);
  if (network === null) throw notFound('No such network.');
  const account = await deps.config.getAccount(principal.accountId);
  const { findings } = await matchRange(network, from, to, deps);
  const settled = findings.filter((f) => isSettled(f, network.tolerances, nowMs));
  const drift = networkDrift(settled, account?.timeZone ?? 'UTC');
  return {
    networkId: network.networkId,
    from,
    to,
    ...drift,
    pending: findings.length - settled.length,
    disputes: await deps.store.networkDisputes(principal.accountId, network.networkId, from, to),
    proposals: disputeProposals(network.networkId, settled, network.creditPolicy, nowMs),
  };
}
