/**
 * Compares what the read API says (calls and ledger entries) with the traffic generator's ground truth.
 * Pure: the demo and the end-to-end tests fetch, this judges. Messages name call ids, never caller numbers.
 */
import { REASON_CODES, type ReasonCode } from '../shared/domain/rating/decision';
import { summarise, type CallTruth, type PublisherSummary } from './traffic';

/** The played calls' start range, as `GET /v1/calls?from=&to=` reads it (calls are listed by start). */
export interface PlayedRange {
  readonly from: string;
  readonly to: string;
}

/**
 * The `GET /v1/ledger` range that holds every entry of the calls started in `played`. The ledger is ordered by
 * `effectiveAt`: a charge is effective at its call's start, but a reversal (a call charged before an earlier call of
 * its caller was rated, then re-rated `duplicate_caller`) is booked when it is written (entries.ts `reversalEntry`:
 * an issued statement does not change), i.e. after the traffic's window. So the range starts at the earliest start
 * and has no end: bounded by the calls' range, it would leave the reversal out and the reversed call would look
 * charged.
 */
export function ledgerRangeOf(played: PlayedRange): { readonly from: string } {
  return { from: played.from };
}

/** An item of `GET /v1/calls` / `GET /v1/calls/{callId}` (the fields the comparison reads). */
export interface ApiCall {
  readonly callId: string;
  readonly accountId: string;
  readonly campaignId: string | null;
  readonly publisherId: string | null;
  readonly subSource: string | null;
  readonly status: string | null;
  readonly durationSec: number | null;
  readonly billable: boolean;
  readonly amountCents: number;
  readonly reasons: readonly string[];
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly recording: object | null;
}

/** An entry of `GET /v1/ledger`. */
export interface ApiLedgerEntry {
  readonly entryId: string;
  readonly type: string;
  readonly amountCents: number;
  readonly callId: string;
  readonly publisherId: string;
  readonly campaignId: string;
}

export interface Reconciliation {
  /** Per publisher, from the API (spend from the ledger entries). */
  readonly actual: readonly PublisherSummary[];
  /** Per publisher, from the ground truth. */
  readonly expected: readonly PublisherSummary[];
  /** Human-readable differences; empty when the ledger matches the truth. */
  readonly differences: readonly string[];
  readonly ok: boolean;
}

export interface ReconcileOptions {
  /** Require a stored recording on every call the truth says was recorded. Default true. */
  readonly requireRecordings?: boolean;
}

const MAX_LISTED = 5;

function primaryReason(reasons: readonly string[]): ReasonCode | null {
  const first = reasons[0];
  if (first === undefined) return null;
  return (REASON_CODES as readonly string[]).includes(first) ? (first as ReasonCode) : null;
}

function listIds(ids: readonly string[]): string {
  return ids.slice(0, MAX_LISTED).join(', ') + (ids.length > MAX_LISTED ? `, … (${ids.length} in all)` : '');
}

/**
 * Calls in one caller cluster are all within the duplicate window of each other, so exactly one eligible call of
 * the cluster bills, but which one depends on the order the ledger processed them. A "billable ↔ duplicate_caller"
 * swap inside a cluster is therefore correct; the cluster's billed count is what must match.
 */
function swappable(a: ReasonCode | null, b: ReasonCode | null): boolean {
  const s = (r: ReasonCode | null) => r === null || r === 'duplicate_caller';
  return s(a) && s(b);
}

export function reconcile(
  truth: readonly CallTruth[],
  apiCalls: readonly ApiCall[],
  entries: readonly ApiLedgerEntry[],
  options: ReconcileOptions = {},
): Reconciliation {
  const requireRecordings = options.requireRecordings ?? true;
  const differences: string[] = [];
  const truthById = new Map(truth.map((t) => [t.callId, t]));
  const ours = apiCalls.filter((c) => truthById.has(c.callId));
  const apiById = new Map(ours.map((c) => [c.callId, c]));
  const ourEntries = entries.filter((e) => truthById.has(e.callId));

  const missing = truth.filter((t) => !apiById.has(t.callId)).map((t) => t.callId);
  if (missing.length > 0) differences.push(`${missing.length} call(s) not rated: ${listIds(missing)}`);

  const fieldDiffs = new Map<string, string[]>();
  const note = (what: string, callId: string) => fieldDiffs.set(what, [...(fieldDiffs.get(what) ?? []), callId]);
  const billedPerCluster = new Map<string, { expected: number; actual: number }>();
  for (const t of truth) {
    const c = apiById.get(t.callId);
    if (!c) continue;
    if (c.status !== t.status) note(`status (expected ${t.status})`, t.callId);
    if (c.publisherId !== t.publisherId) note('publisherId', t.callId);
    if (c.campaignId !== t.campaignId) note('campaignId', t.callId);
    if (c.subSource !== t.subSource) note('subSource', t.callId);
    if (c.durationSec !== t.durationSec) note('durationSec', t.callId);
    if (c.startedAt === null || Date.parse(c.startedAt) !== Date.parse(t.startedAt)) note('startedAt', t.callId);
    const reason = primaryReason(c.reasons);
    if (c.billable !== (reason === null)) note('billable disagrees with reasons', t.callId);
    if (reason !== t.reason && !swappable(reason, t.reason)) note(`reason (expected ${t.reason ?? 'billable'}, got ${reason ?? 'billable'})`, t.callId);
    if (c.amountCents !== (c.billable ? t.priceCents : 0)) note('amountCents', t.callId);
    if (requireRecordings && t.recording && c.recording === null) note('recording not stored', t.callId);
    const cluster = billedPerCluster.get(t.callerCluster) ?? { expected: 0, actual: 0 };
    if (t.billable) cluster.expected++;
    if (c.billable) cluster.actual++;
    billedPerCluster.set(t.callerCluster, cluster);
  }
  for (const [what, ids] of fieldDiffs) differences.push(`${ids.length} call(s) differ in ${what}: ${listIds(ids)}`);
  const badClusters = [...billedPerCluster].filter(([, n]) => n.expected !== n.actual);
  if (badClusters.length > 0)
    differences.push(
      `${badClusters.length} repeat caller(s) billed the wrong number of times: ` +
        badClusters.slice(0, MAX_LISTED).map(([id, n]) => `${id} expected ${n.expected}, billed ${n.actual}`).join('; '),
    );

  // The ledger: one net charge per billable call, at the call's amount, none for the rest. A call charged before an
  // earlier call of its caller arrived is reversed (shared/domain/rating/duplicate-window.ts): its charge and reversal net 0.
  const entriesByCall = new Map<string, ApiLedgerEntry[]>();
  for (const e of ourEntries) entriesByCall.set(e.callId, [...(entriesByCall.get(e.callId) ?? []), e]);
  const netOf = (callId: string) => (entriesByCall.get(callId) ?? []).reduce((s, e) => s + e.amountCents, 0);
  const doubled = [...entriesByCall].filter(([id]) => netOf(id) > truthById.get(id)!.priceCents).map(([id]) => id);
  if (doubled.length > 0) differences.push(`${doubled.length} call(s) net more than one charge: ${listIds(doubled)}`);
  const unbilled = ours.filter((c) => c.billable && netOf(c.callId) === 0).map((c) => c.callId);
  if (unbilled.length > 0) differences.push(`${unbilled.length} billable call(s) have no ledger entry: ${listIds(unbilled)}`);
  const stray = ours.filter((c) => !c.billable && netOf(c.callId) !== 0).map((c) => c.callId);
  if (stray.length > 0) differences.push(`${stray.length} ledger entr(ies) for calls that are not billable: ${listIds(stray)}`);
  const wrongAmount = ourEntries
    .filter((e) => !((e.type === 'charge' && e.amountCents === truthById.get(e.callId)!.priceCents) || (e.type === 'reversal' && e.amountCents === -truthById.get(e.callId)!.priceCents)))
    .map((e) => e.callId);
  if (wrongAmount.length > 0) differences.push(`${wrongAmount.length} ledger entr(ies) with the wrong type or amount: ${listIds(wrongAmount)}`);

  const expected = summarise(truth);
  const spendByPublisher = new Map<string, number>();
  for (const e of ourEntries) spendByPublisher.set(e.publisherId, (spendByPublisher.get(e.publisherId) ?? 0) + e.amountCents);
  const actual = summarise(
    ours.map((c) => ({
      publisherId: c.publisherId ?? '(unassigned)',
      billable: c.billable,
      amountCents: 0,
      reason: primaryReason(c.reasons),
      recording: c.recording,
    })),
  ).map((row) => ({ ...row, spendCents: spendByPublisher.get(row.publisherId) ?? 0 }));

  const columns = ['calls', 'billable', 'duplicates', 'belowBuffer', 'notConnected', 'unknownNumber', 'spendCents'] as const;
  const checked = requireRecordings ? [...columns, 'recordings' as const] : columns;
  for (const exp of expected) {
    const act = actual.find((r) => r.publisherId === exp.publisherId);
    for (const col of checked) {
      const got = act?.[col] ?? 0;
      if (got !== exp[col]) differences.push(`${exp.publisherId}: ${col} expected ${exp[col]}, ledger has ${got}`);
    }
  }
  for (const act of actual) {
    if (!expected.some((e) => e.publisherId === act.publisherId)) differences.push(`unexpected publisher in the ledger: ${act.publisherId}`);
  }

  return { actual, expected, differences, ok: differences.length === 0 };
}

