/**
 * The source scorecard: every source's calls, money and outcomes over a period, against the campaign's
 * cost ceiling, with a scale / hold / cut recommendation.
 *
 * Streaming: `createScorecard(...)` returns an accumulator; `add(call)` folds one ReportCall into its group's
 * counters and `result()` builds the rows. Memory is O(groups): nothing per call is kept, so a report can consume
 * a generator over millions of calls. Groups: `publisher` (publisherId) or `subSource` (publisherId and
 * sub-source together: a sub-source label belongs to its publisher; null = calls without one). Rows are sorted by
 * publisherId, then sub-source (null first), by code unit; the total row comes apart (`*`, `*`).
 *
 * Metrics (money integer cents; a per-unit cost is rounded to the cent, null when its denominator is 0):
 * - calls, connected, billable, billableRate (billable ÷ calls, 4 decimals), nonBillable;
 * - reasons: non-billable calls by PRIMARY (first) reason, every REASON_CODE present (0 when none), so the
 *   reasons add up to nonBillable; duplicates: calls with `duplicate_caller` among their reasons;
 * - disputes (calls disputed), spendCents (charged, reversed charges included), creditsCents (≤ 0), reversalsCents
 *   (≤ 0: charges taken back because an earlier call of the caller bills instead, duplicate-window.ts),
 *   netSpendCents = spend + credits + reversals (what the ledger says the source is owed);
 * - booked (outcome booked or closed: a closed customer was booked first), closed, revenueCents, marginCents
 *   (the outcomes' own figures, summed), netMarginCents = margin − net spend;
 * - costPerBillableCall = net ÷ billable, costPerBookedJob = net ÷ booked, costPerClosedCustomer = net ÷ closed;
 * - returnOnSpend = margin ÷ net spend (4 decimals; null when net spend ≤ 0): margin earned per unit spent,
 *   above 1 the source pays for itself;
 * - qaReviewed: calls with a QA verdict (shared/domain/qa/qa.ts), qaVerdicts: those calls by verdict (every verdict
 *   present, 0 when none), so they add up to qaReviewed. Only the verdict in force counts (one per call).
 * Booked and closed count every call of the source, billable or not: the source delivered the job either way,
 * and what the buyer paid for it is the source's spend.
 *
 * The scale / hold / cut rule is verdict.ts; the counters a row is built from (and their named form for the daily
 * aggregates) are source-counters.ts; the CSV rendering is scorecard-csv.ts.
 */
import type { CampaignEconomics, GroupBy, ReportCall } from './analytics';
import { costCeiling, floorCents, type CostCeiling } from './economics';
import { QA_VERDICTS, type QaVerdict } from '../qa/qa';
import { REASON_CODES, type ReasonCode } from '../rating/decision';
import { sourceFraudScore } from '../quality/source-score';
import { CALL_SIGNALS, type CallSignal } from '../rating/rules';
import { countCall, addNamedCounts, emptyCounters, mergeCounters, NEAR_BUFFER_BIN_SEC, NEAR_BUFFER_BINS_EACH_SIDE, type SourceCounters } from './source-counters';
import { DEFAULT_VERDICT_RULE, recommend, ruleStatement, type Recommendation, type VerdictRule } from './verdict';

const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places;
const perUnit = (cents: number, units: number): number | null => (units === 0 ? null : Math.round(cents / units));

// ---------------------------------------------------------------- rows

export type ReasonCounts = Readonly<Record<ReasonCode, number>>;

export interface SourceRow {
  /** `*` on the total row. */
  readonly publisherId: string;
  /** null: calls without a sub-source; `*` when grouped by publisher and on the total row. */
  readonly subSource: string | null;
  readonly calls: number;
  readonly connected: number;
  readonly billable: number;
  /** billable ÷ calls, 4 decimals; null without calls. */
  readonly billableRate: number | null;
  readonly nonBillable: number;
  /** Non-billable calls by primary reason. */
  readonly reasons: ReasonCounts;
  /** Calls with `duplicate_caller` among their reasons. */
  readonly duplicates: number;
  readonly disputes: number;
  readonly spendCents: number;
  /** ≤ 0. */
  readonly creditsCents: number;
  /** ≤ 0: reversed charges (duplicate-window.ts). */
  readonly reversalsCents: number;
  readonly netSpendCents: number;
  readonly booked: number;
  readonly closed: number;
  readonly revenueCents: number;
  readonly marginCents: number;
  readonly netMarginCents: number;
  readonly costPerBillableCallCents: number | null;
  readonly costPerBookedJobCents: number | null;
  readonly costPerClosedCustomerCents: number | null;
  /** margin ÷ net spend, 4 decimals; null when net spend ≤ 0. */
  readonly returnOnSpend: number | null;
  /** Calls with a QA verdict. */
  readonly qaReviewed: number;
  /** Calls flagged with each signal at rating (CALL_SIGNALS; a call may carry several). */
  readonly signals: Readonly<Record<CallSignal, number>>;
  /**
   * The source's fraud score from its quality signals (quality/source-score.ts `sourceFraudScore`: 0..100, noisy-OR of
   * the signals' shares; near-buffer against the account's share); `sufficient` false below its minimum of calls.
   */
  readonly fraud: {
    readonly score: number;
    readonly flagged: boolean;
    readonly sufficient: boolean;
    /** Each signal's part in the score (count, share, points it alone would score), as sourceFraudScore gives it. */
    readonly contributions: readonly { readonly signal: string; readonly count: number; readonly share: number; readonly points: number }[];
    /** The source's share of connected calls flagged near_buffer_hangup, the account's (the baseline), and their ratio. */
    readonly nearBuffer: { readonly share: number; readonly baselineShare: number; readonly ratio: number };
  };
  /**
   * Its calls that could bill by billable seconds around the buffer each was rated against (NEAR_BUFFER_BIN_SEC
   * bins, offsets in seconds from the buffer: the bin from 0 is the first that bills).
   */
  readonly nearBufferHistogram: readonly { readonly fromSec: number; readonly toSec: number; readonly count: number }[];
  /** Reviewed calls by verdict (every verdict present). */
  readonly qaVerdicts: Readonly<Record<QaVerdict, number>>;
  readonly recommendation: Recommendation;
}

export interface ScorecardResult {
  readonly groupBy: GroupBy;
  readonly rows: readonly SourceRow[];
  readonly total: SourceRow;
  /** null: the campaign has no economics. */
  readonly ceiling: CostCeiling | null;
  /** null: no economics, or no booked job in the period. */
  readonly ceilingPerBookedJobCents: number | null;
  readonly rule: VerdictRule & { readonly statement: string };
}

export interface ScorecardOptions {
  readonly groupBy: GroupBy;
  /** The campaign's entered economics; null when it has none (no ceiling, no verdicts). */
  readonly economics: CampaignEconomics | null;
  readonly rule?: VerdictRule;
}

export interface Scorecard {
  add(call: ReportCall): void;
  /**
   * Folds a group's counters as named numbers (`scorecardCountsOf`, summed: a daily aggregate item) into the group
   * of (publisherId, subSource); exactly as adding the calls they came from. Counts with no calls are ignored.
   */
  addCounts(publisherId: string, subSource: string | null, counts: Readonly<Record<string, number>>): void;
  addAll(calls: Iterable<ReportCall>): void;
  /** Number of groups so far (what memory is proportional to). */
  readonly groups: number;
  result(): ScorecardResult;
}

/** Code-unit order with null first (locale-independent, so the same everywhere). */
function compareKeys(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

export function createScorecard(options: ScorecardOptions): Scorecard {
  const rule = options.rule ?? DEFAULT_VERDICT_RULE;
  const groups = createGroupTable(options.groupBy === 'subSource');
  const add = (c: ReportCall): void => countCall(groups.countersOf(c.publisherId, c.subSource), c);
  return {
    add,
    addCounts(publisherId, subSource, counts) {
      if ((counts.n ?? 0) <= 0) return;
      addNamedCounts(groups.countersOf(publisherId, subSource), counts);
    },
    addAll(calls) {
      for (const c of calls) add(c);
    },
    get groups() {
      return groups.size;
    },
    result: () => scorecardResult(groups.sorted(), options, rule),
  };
}

interface Group {
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly counters: SourceCounters;
}

/** publisherId → sub-source (null, or '*' when grouped by publisher) → counters. */
function createGroupTable(bySub: boolean): { countersOf(publisherId: string, subSource: string | null): SourceCounters; readonly size: number; sorted(): Group[] } {
  const cells = new Map<string, Map<string | null, SourceCounters>>();
  let size = 0;
  // The last publisher is cached: calls come grouped by source.
  let lastPublisher: string | undefined;
  let lastSubs: Map<string | null, SourceCounters> | undefined;
  return {
    countersOf(publisherId, subSource) {
      let subs = publisherId === lastPublisher ? lastSubs : cells.get(publisherId);
      if (subs === undefined) cells.set(publisherId, (subs = new Map()));
      lastPublisher = publisherId;
      lastSubs = subs;
      const key = bySub ? subSource : '*';
      let a = subs.get(key);
      if (a === undefined) {
        subs.set(key, (a = emptyCounters()));
        size += 1;
      }
      return a;
    },
    get size() {
      return size;
    },
    /** Every group, by publisherId, then sub-source (compareKeys). */
    sorted() {
      const out: Group[] = [];
      for (const publisherId of [...cells.keys()].sort(compareKeys)) {
        const subs = cells.get(publisherId)!;
        for (const subSource of [...subs.keys()].sort(compareKeys)) out.push({ publisherId, subSource, counters: subs.get(subSource)! });
      }
      return out;
    },
  };
}

function scorecardResult(groups: readonly Group[], options: ScorecardOptions, rule: VerdictRule): ScorecardResult {
  const total = emptyCounters();
  for (const g of groups) mergeCounters(total, g.counters);
  const ceiling = options.economics === null ? null : costCeiling(options.economics, { billableCalls: total.billable, closedCalls: total.closedBillable });
  const ceilingPerBookedJobCents = ceiling === null || total.booked === 0 ? null : floorCents((ceiling.maxPricePerCallCents * total.billable) / total.booked);
  const judge: Judge = (g) => recommend(g, ceilingPerBookedJobCents, ceiling !== null, rule);
  const totalRow = rowOf('*', '*', total, judge);
  // The account's near-buffer share is the baseline each source's is compared with (quality/source-score.ts).
  const baseline = { nearBufferShare: totalRow.connected === 0 ? 0 : totalRow.signals.near_buffer_hangup / totalRow.connected };
  return {
    groupBy: options.groupBy,
    rows: groups.map((g) => withFraud(rowOf(g.publisherId, g.subSource, g.counters, judge), baseline)),
    total: withFraud(totalRow, baseline),
    ceiling,
    ceilingPerBookedJobCents,
    rule: { ...rule, statement: ruleStatement(rule) },
  };
}

type Judge = (g: { readonly calls: number; readonly billable: number; readonly booked: number; readonly netSpendCents: number }) => Recommendation;

/** A group's row from its counters: the derived figures (module header) and its recommendation. */
function rowOf(publisherId: string, subSource: string | null, a: SourceCounters, judge: Judge): Omit<SourceRow, 'fraud'> {
  const net = a.spend + a.credits + a.reversals;
  const reasons = Object.fromEntries(REASON_CODES.map((code, i) => [code, a.reasons[i]!])) as Record<ReasonCode, number>;
  return {
    publisherId,
    subSource,
    calls: a.calls,
    connected: a.connected,
    billable: a.billable,
    billableRate: a.calls === 0 ? null : round(a.billable / a.calls, 4),
    nonBillable: a.calls - a.billable,
    reasons,
    duplicates: a.duplicates,
    disputes: a.disputes,
    spendCents: a.spend,
    creditsCents: a.credits,
    reversalsCents: a.reversals,
    netSpendCents: net,
    booked: a.booked,
    closed: a.closed,
    revenueCents: a.revenue,
    marginCents: a.margin,
    netMarginCents: a.margin - net,
    costPerBillableCallCents: perUnit(net, a.billable),
    costPerBookedJobCents: perUnit(net, a.booked),
    costPerClosedCustomerCents: perUnit(net, a.closed),
    returnOnSpend: net <= 0 ? null : round(a.margin / net, 4),
    qaReviewed: a.qaReviewed,
    qaVerdicts: Object.fromEntries(QA_VERDICTS.map((v, i) => [v, a.qaVerdicts[i]!])) as Record<QaVerdict, number>,
    signals: Object.fromEntries(CALL_SIGNALS.map((s, i) => [s, a.signals[i]!])) as Record<CallSignal, number>,
    nearBufferHistogram: a.nearBuffer.map((count, i) => ({
      fromSec: (i - NEAR_BUFFER_BINS_EACH_SIDE) * NEAR_BUFFER_BIN_SEC,
      toSec: (i - NEAR_BUFFER_BINS_EACH_SIDE + 1) * NEAR_BUFFER_BIN_SEC,
      count,
    })),
    recommendation: judge({ calls: a.calls, billable: a.billable, booked: a.booked, netSpendCents: net }),
  };
}

/** The row with its source's fraud score (quality/source-score.ts) against the account's near-buffer baseline. */
function withFraud(r: Omit<SourceRow, 'fraud'>, baseline: { readonly nearBufferShare: number }): SourceRow {
  const f = sourceFraudScore(r.signals, { calls: r.calls, connected: r.connected }, baseline);
  return {
    ...r,
    fraud: {
      score: f.score,
      flagged: f.flagged,
      sufficient: f.sufficient,
      contributions: f.contributions.map((c) => ({ signal: c.signal, count: c.count, share: c.share, points: c.points })),
      nearBuffer: f.nearBuffer,
    },
  };
}

/** One pass over calls (an array or any iterable, e.g. a generator reading pages). */
export function buildScorecard(calls: Iterable<ReportCall>, options: ScorecardOptions): ScorecardResult {
  const s = createScorecard(options);
  s.addAll(calls);
  return s.result();
}
