/**
 * Keeping the daily aggregates (the arithmetic and its exactness argument are in
 * shared/domain/reports/aggregates.ts).
 *
 * The main table's stream says which call items changed (functions/aggregator.ts hands the changes here). A change
 * whose before and after images contribute the same (an event slot of a call not yet rated, a recording's key) is
 * skipped without a read. For every other call, `refreshCall` re-reads the call (strongly consistent) and the
 * contribution applied so far, recomputes the contribution from the CURRENT item, and applies the difference, in one
 * transaction conditional on the applied version it read; a lost race re-reads and tries again. Because the target is
 * always the current item, the order of the stream's records, a redelivered batch and a concurrent refresh (another
 * shard, or `rebuild`) cannot leave a cell wrong: each converges on the sum of the current contributions.
 *
 * A stream batch's calls are read first, then written together (`applyBatch`): each call's contribution plus each
 * cell ONCE, its deltas summed — the calls of one batch mostly share their day and sources, so a cell is updated once
 * per write rather than once per call. A call whose applied contribution moved on between its read and the write is
 * left out of it and refreshed on its own. The earliest record of the calls that could not be refreshed is reported
 * (`failedSequenceNumber`) so the stream resumes there (partial batch response). Refreshing an already refreshed call
 * again is free of writes.
 *
 * `rebuildCampaign` refreshes every call of a campaign and period (backfill after enabling the stream, or after an
 * account changed its time zone: cells are keyed by the local day the zone gave when the call was last refreshed).
 */
import type { ReportCall } from '../../domain/reports/analytics';
import { contributionDelta, contributionOf, sameContribution, type AggregateDelta, type CallContribution } from '../../domain/reports/aggregates';
import type { TermsVersion } from '../../domain/terms/terms';
import type { StoredCall } from '../kernel/ports';

export interface AppliedContribution {
  readonly version: number;
  /** null: the call no longer contributes (not rated, no campaign). */
  readonly contribution: CallContribution | null;
}

/** One call's pending application: what was read, what it should become, and the difference. */
export interface PendingApplication {
  readonly callId: string;
  readonly expected: AppliedContribution | null;
  readonly target: CallContribution | null;
  readonly deltas: readonly AggregateDelta[];
}

export interface AggregateStore {
  readApplied(callId: string): Promise<AppliedContribution | null>;
  /** Stores `target` as the applied contribution and adds the deltas to their cells, atomically; 'conflict' when the applied contribution is no longer `expected`. */
  apply(callId: string, expected: AppliedContribution | null, target: CallContribution | null, deltas: readonly AggregateDelta[]): Promise<'applied' | 'conflict'>;
  /**
   * Several calls' applications in one atomic write, the deltas of a cell summed into one update (at most
   * MAX_BATCH_ITEMS contributions and cells together). Per call 'applied', or 'conflict' for those whose applied
   * contribution moved on: those are left out and the others applied.
   */
  applyBatch(pending: readonly PendingApplication[]): Promise<readonly ('applied' | 'conflict')[]>;
}

/** Items one atomic write may hold (DynamoDB TransactWriteItems: 100). */
export const MAX_BATCH_ITEMS = 100;

/** The distinct cell items a set of applications touches (what one batched write updates). */
export function cellKeysOf(pending: readonly PendingApplication[]): Set<string> {
  const keys = new Set<string>();
  for (const p of pending) for (const d of p.deltas) keys.add(cellKeyOf(d));
  return keys;
}

export function cellKeyOf(d: AggregateDelta): string {
  return JSON.stringify([d.accountId, d.campaignId, d.kind, d.day, d.publisherId, d.subSource, d.part]);
}

/** The deltas of several applications summed per cell item (zero sums left out). */
export function mergeDeltas(pending: readonly PendingApplication[]): AggregateDelta[] {
  const merged = new Map<string, { delta: AggregateDelta; add: Record<string, number> }>();
  for (const p of pending) {
    for (const d of p.deltas) {
      const key = cellKeyOf(d);
      let m = merged.get(key);
      if (m === undefined) merged.set(key, (m = { delta: d, add: {} }));
      for (const [name, v] of Object.entries(d.add)) m.add[name] = (m.add[name] ?? 0) + v;
    }
  }
  const out: AggregateDelta[] = [];
  for (const { delta, add } of merged.values()) {
    const nonZero = Object.fromEntries(Object.entries(add).filter(([, v]) => v !== 0));
    if (Object.keys(nonZero).length > 0) out.push({ ...delta, add: nonZero });
  }
  return out;
}

export interface AggregatorDeps {
  /** The call item, strongly consistent. */
  readonly calls: { getCall(callId: string): Promise<StoredCall | null> };
  readonly context: {
    /** The campaign's terms versions, fresh enough to hold `version` when it exists (null: no such campaign). */
    termsVersions(accountId: string, campaignId: string, version: number | null): Promise<readonly TermsVersion[] | null>;
    /** The account's time zone (UTC when unknown). */
    timeZone(accountId: string): Promise<string>;
  };
  /** The pure mapping of a stored call to what the reports see (campaign-calls.ts `reportCallOf`). */
  readonly reportCallOf: (call: StoredCall, termsVersions: readonly TermsVersion[]) => ReportCall | null;
  readonly store: AggregateStore;
}

/** A change of a call item from the stream; images parsed (null: the item did not exist before / after). */
export interface CallChange {
  readonly callId: string;
  readonly sequenceNumber: string;
  readonly before: StoredCall | null;
  readonly after: StoredCall | null;
}

export interface ChangesResult {
  /** Calls whose cells changed. */
  readonly applied: number;
  /** Calls refreshed that were already up to date. */
  readonly unchanged: number;
  /** Changes the reports cannot see (no read made). */
  readonly skipped: number;
  /** The earliest record of a call that could not be refreshed; null when all were. */
  readonly failedSequenceNumber: string | null;
  /** The calls that could not be refreshed, with why (for the log: call ids only, no personal data). */
  readonly failures: readonly { readonly callId: string; readonly error: unknown }[];
  /** Batched atomic writes made, and the items they wrote (contributions + cells), refreshes apart not counted. */
  readonly batches: number;
  readonly itemsWritten: number;
}

const MAX_ATTEMPTS = 8;

/** What a stored call contributes now (null: nothing: not rated, no campaign, unknown campaign). */
export async function contributionForCall(call: StoredCall | null, deps: Pick<AggregatorDeps, 'context' | 'reportCallOf'>): Promise<CallContribution | null> {
  const campaignId = call?.rating?.campaignId ?? null;
  if (call === null || call.rating === null || campaignId === null) return null;
  const terms = await deps.context.termsVersions(call.accountId, campaignId, call.rating.termsVersion);
  const reportCall = deps.reportCallOf(call, terms ?? []);
  if (reportCall === null) return null;
  return contributionOf(call.accountId, reportCall, await deps.context.timeZone(call.accountId));
}

/** Brings one call's cells up to date with its current item. */
export async function refreshCall(callId: string, deps: AggregatorDeps): Promise<'applied' | 'unchanged'> {
  for (let attempt = 1; ; attempt++) {
    const pending = await pendingFor(callId, deps);
    if (pending === null) return 'unchanged';
    const outcome = await deps.store.apply(pending.callId, pending.expected, pending.target, pending.deltas);
    if (outcome === 'applied') return 'applied';
    if (attempt >= MAX_ATTEMPTS) throw new Error(`the contribution of call ${callId} kept changing during ${MAX_ATTEMPTS} attempts`);
    await new Promise((r) => setTimeout(r, 5 * 2 ** attempt * Math.random()));
  }
}

/** Reads the call and what it has applied; the application that brings its cells up to date, or null when they are. */
async function pendingFor(callId: string, deps: AggregatorDeps): Promise<PendingApplication | null> {
  const [call, expected] = await Promise.all([deps.calls.getCall(callId), deps.store.readApplied(callId)]);
  const target = await contributionForCall(call, deps);
  const current = expected?.contribution ?? null;
  return sameContribution(current, target) ? null : { callId, expected, target, deltas: contributionDelta(current, target) };
}

/** Sequence numbers are decimal strings of up to 40 digits: compare as numbers. */
function compareSequence(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** Applies a batch of stream changes (see the module header); refreshes up to `concurrency` calls at once. */
export async function aggregateCallChanges(changes: readonly CallChange[], deps: AggregatorDeps, concurrency = 4): Promise<ChangesResult> {
  const { toRefresh, skipped } = await callsToRefresh(changes, deps);
  const tally: Tally = { applied: 0, unchanged: 0, failedSequenceNumber: null, failures: [] };
  const fail = (callId: string, error: unknown) => {
    const sequenceNumber = toRefresh.get(callId)!;
    // The stream retries from the earliest failure.
    if (tally.failedSequenceNumber === null || compareSequence(sequenceNumber, tally.failedSequenceNumber) < 0) tally.failedSequenceNumber = sequenceNumber;
    tally.failures.push({ callId, error });
  };
  const pending = await readPending([...toRefresh.keys()], tally, fail, deps, concurrency);
  const { batches, itemsWritten } = await applyPending(pending, tally, fail, deps);
  return { applied: tally.applied, unchanged: tally.unchanged, skipped, failedSequenceNumber: tally.failedSequenceNumber, failures: tally.failures, batches, itemsWritten };
}

/** What a batch has done so far: calls applied or found unchanged, and the failures (the earliest one's sequence number). */
interface Tally {
  applied: number;
  unchanged: number;
  failedSequenceNumber: string | null;
  readonly failures: { callId: string; error: unknown }[];
}

type Fail = (callId: string, error: unknown) => void;

/** The earliest record per call that may have changed what it contributes; the other records are skipped. */
async function callsToRefresh(changes: readonly CallChange[], deps: AggregatorDeps): Promise<{ toRefresh: Map<string, string>; skipped: number }> {
  const toRefresh = new Map<string, string>();
  let skipped = 0;
  for (const change of changes) {
    if (toRefresh.has(change.callId)) continue;
    if ((change.before?.rating ?? null) === null && (change.after?.rating ?? null) === null) {
      skipped += 1;
      continue;
    }
    const [before, after] = await Promise.all([contributionForCall(change.before, deps), contributionForCall(change.after, deps)]);
    if (sameContribution(before, after)) skipped += 1;
    else toRefresh.set(change.callId, change.sequenceNumber);
  }
  return { toRefresh, skipped };
}

/** 1. Reads each call and what it has applied, `concurrency` at a time; keeps the calls whose contribution moved. */
async function readPending(callIds: string[], tally: Tally, fail: Fail, deps: AggregatorDeps, concurrency: number): Promise<PendingApplication[]> {
  const pending: PendingApplication[] = [];
  const queue = [...callIds];
  const reader = async () => {
    for (let callId = queue.shift(); callId !== undefined; callId = queue.shift()) {
      try {
        const p = await pendingFor(callId, deps);
        if (p === null) tally.unchanged += 1;
        else pending.push(p);
      } catch (error) {
        fail(callId, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, reader));
  return pending;
}

/**
 * 2. Applies them in as few atomic writes as fit: calls of a batch mostly share their cells (same day and sources), so
 *    a cell is updated once per write instead of once per call. A call whose applied contribution moved on since
 *    it was read (a concurrent refresh) is refreshed on its own instead.
 */
async function applyPending(pending: readonly PendingApplication[], tally: Tally, fail: Fail, deps: AggregatorDeps): Promise<{ batches: number; itemsWritten: number }> {
  let batches = 0;
  let itemsWritten = 0;
  for (const chunk of chunksOf(pending)) {
    let results: readonly ('applied' | 'conflict')[];
    try {
      results = await deps.store.applyBatch(chunk);
    } catch (error) {
      for (const p of chunk) fail(p.callId, error);
      continue;
    }
    const written = chunk.filter((_, i) => results[i] === 'applied');
    if (written.length > 0) {
      batches += 1;
      itemsWritten += written.length + mergeDeltas(written).length;
    }
    for (let i = 0; i < chunk.length; i++) {
      const callId = chunk[i]!.callId;
      if (results[i] === 'applied') {
        tally.applied += 1;
        continue;
      }
      try {
        if ((await refreshCall(callId, deps)) === 'applied') tally.applied += 1;
        else tally.unchanged += 1;
      } catch (error) {
        fail(callId, error);
      }
    }
  }
  return { batches, itemsWritten };
}

/** Groups applications into writes of at most MAX_BATCH_ITEMS items (contributions plus distinct cells). */
function chunksOf(pending: readonly PendingApplication[]): PendingApplication[][] {
  const chunks: PendingApplication[][] = [];
  let chunk: PendingApplication[] = [];
  let cells = new Set<string>();
  for (const p of pending) {
    const added = p.deltas.map(cellKeyOf).filter((k) => !cells.has(k));
    if (chunk.length > 0 && chunk.length + 1 + cells.size + new Set(added).size > MAX_BATCH_ITEMS) {
      chunks.push(chunk);
      chunk = [];
      cells = new Set();
    }
    chunk.push(p);
    for (const d of p.deltas) cells.add(cellKeyOf(d));
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Refreshes every call of a stream of callIds (a backfill); returns how many changed their cells. */
export async function rebuildCalls(callIds: AsyncIterable<string>, deps: AggregatorDeps): Promise<{ refreshed: number; applied: number }> {
  let refreshed = 0;
  let applied = 0;
  for await (const callId of callIds) {
    refreshed += 1;
    if ((await refreshCall(callId, deps)) === 'applied') applied += 1;
  }
  return { refreshed, applied };
}
