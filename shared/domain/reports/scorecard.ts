/**
 * The source scorecard (issue 5): every source's calls, money and outcomes over a period, against the campaign's
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
 * The ceiling (economics.ts): P = the campaign's maximum allowable price per billable call, with the close rate
 * measured from this period's outcomes when there are enough. The scorecard judges cost per BOOKED JOB, so P is
 * converted with the campaign's own conversion over the period:
 *
 *   ceilingPerBookedJob = floor(P × campaign billable calls ÷ campaign booked jobs)
 *
 * i.e. what a booked job would have cost had every billable call of the campaign been bought at P. Chosen over
 * "margin × targetShare × closed-per-booked" because it needs no second rate from the buyer and is exactly the
 * same figure when the close rate is measured (P × billable ÷ booked = margin × share × closed ÷ booked), and
 * because the conversion uses the whole campaign (the biggest sample there is), so each source is judged on how
 * its own booking rate and price compare with the campaign's rather than on its own noisy conversion.
 *
 * THE RULE (`DEFAULT_VERDICT_RULE`: 30 billable calls, 90 % confidence). For a group with n calls of which b
 * booked, the booking rate per call p = b ÷ n gets a Wilson score interval [pLow, pHigh] at the rule's
 * confidence (two-sided). Cost per booked job = (net spend ÷ n) ÷ p, so its interval is
 * [net ÷ (n × pHigh), net ÷ (n × pLow)] (bounds swap; unbounded when pLow = 0), rounded to the cent; the point
 * estimate inside it is costPerBookedJob. Then, on those cents:
 * - `insufficient_data` when the group has fewer billable calls than the rule's minimum (no verdict on a handful
 *   of calls), when the campaign has no economics, or no booked job in the period (no ceiling per booked job);
 * - `scale` when the PESSIMISTIC bound (the high cost) ≤ ceilingPerBookedJob: even on bad luck the source is
 *   within budget;
 * - `cut` when the OPTIMISTIC bound (the low cost) > ceilingPerBookedJob: even on good luck it is over;
 * - `hold` otherwise: the interval straddles the ceiling; more calls will tell.
 * The interval is over all the group's calls (not only the billable ones) so that p is a true proportion with
 * booked ≤ n while the point estimate stays net ÷ booked, the figure the row shows.
 *
 * `scorecardCsv` renders a result as RFC 4180 CSV: CRLF, a header line, fields quoted only when they hold a
 * comma, quote or line break (quotes doubled), a fixed column order (SCORECARD_CSV_COLUMNS), cents as integers,
 * empty for null. Rows in result order, the total last.
 */
import type { CampaignEconomics, GroupBy, ReportCall } from './analytics';
import { costCeiling, floorCents, type CostCeiling } from './economics';
import { QA_VERDICTS, type QaVerdict } from '../qa/qa';
import { REASON_CODES, type ReasonCode } from '../kernel/types';
import { sourceFraudScore } from '../quality/source-score';
import { CALL_SIGNALS, type CallSignal } from '../rating/rules';

// ---------------------------------------------------------------- the rule

export const CONFIDENCE_Z = { 0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96, 0.99: 2.5758 } as const;
export type ConfidenceLevel = 0.8 | 0.9 | 0.95 | 0.99;
export const CONFIDENCE_LEVELS: readonly ConfidenceLevel[] = [0.8, 0.9, 0.95, 0.99];

export interface VerdictRule {
  /** Fewer billable calls than this: no verdict. */
  readonly minBillableCalls: number;
  /** Two-sided confidence of the Wilson interval on the booking rate. */
  readonly confidence: ConfidenceLevel;
}

export const DEFAULT_VERDICT_RULE: VerdictRule = { minBillableCalls: 30, confidence: 0.9 };

/** The rule in words, returned with every result. */
export function ruleStatement(rule: VerdictRule): string {
  const pct = `${rule.confidence * 100}%`;
  return (
    `Cost per booked job (net spend ÷ booked) with a ${pct} Wilson interval on the booking rate per call, against the ceiling per booked job ` +
    `(max allowable price per billable call × campaign billable calls ÷ campaign booked jobs): scale when the pessimistic bound is at or below ` +
    `the ceiling, cut when the optimistic bound is above it, hold otherwise; no verdict below ${rule.minBillableCalls} billable calls.`
  );
}

export type Verdict = 'scale' | 'hold' | 'cut' | 'insufficient_data';

export interface CostInterval {
  readonly confidence: ConfidenceLevel;
  /** Wilson bounds of booked ÷ calls, 6 decimals. */
  readonly bookingRateLow: number;
  readonly bookingRateHigh: number;
  /** Optimistic cost per booked job, cents. */
  readonly lowCents: number;
  /** Pessimistic cost per booked job, cents; null = unbounded (no booking is within the interval). */
  readonly highCents: number | null;
}

export interface Recommendation {
  readonly verdict: Verdict;
  readonly why: string;
  /** null: the group has no calls. */
  readonly interval: CostInterval | null;
}

/** Wilson score interval of b successes in n trials at z (n > 0). */
export function wilsonInterval(b: number, n: number, z: number): { low: number; high: number } {
  const p = b / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: b === 0 ? 0 : Math.max(0, centre - half), high: b === n ? 1 : Math.min(1, centre + half) };
}

const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places;
const perUnit = (cents: number, units: number): number | null => (units === 0 ? null : Math.round(cents / units));
const money = (cents: number | null) => (cents === null ? 'n/a' : `$${(cents / 100).toFixed(2)}`);

/** The cost-per-booked-job interval of a group (n calls, b booked, net spend), or null without calls. */
export function costInterval(netSpendCents: number, calls: number, booked: number, confidence: ConfidenceLevel): CostInterval | null {
  if (calls === 0) return null;
  const { low, high } = wilsonInterval(booked, calls, CONFIDENCE_Z[confidence]);
  const net = Math.max(0, netSpendCents);
  return {
    confidence,
    bookingRateLow: round(low, 6),
    bookingRateHigh: round(high, 6),
    lowCents: net === 0 ? 0 : Math.round(net / (calls * high)),
    highCents: net === 0 ? 0 : low === 0 ? null : Math.round(net / (calls * low)),
  };
}

/** The verdict for one group (see the module header). `ceilingPerBookedJobCents` null: no ceiling. */
export function recommend(
  g: { readonly calls: number; readonly billable: number; readonly booked: number; readonly netSpendCents: number },
  ceilingPerBookedJobCents: number | null,
  hasEconomics: boolean,
  rule: VerdictRule,
): Recommendation {
  const interval = costInterval(g.netSpendCents, g.calls, g.booked, rule.confidence);
  const insufficient = (why: string): Recommendation => ({ verdict: 'insufficient_data', why, interval });
  if (g.billable < rule.minBillableCalls) return insufficient(`${g.billable} billable calls, fewer than the ${rule.minBillableCalls} needed for a verdict.`);
  if (!hasEconomics) return insufficient('The campaign has no economics, so there is no ceiling to judge against.');
  if (ceilingPerBookedJobCents === null || interval === null) return insufficient('No booked job in the campaign over the period, so there is no ceiling per booked job.');
  const pct = `${rule.confidence * 100}%`;
  const range = `${money(interval.lowCents)}–${interval.highCents === null ? 'unbounded' : money(interval.highCents)}`;
  const ceiling = money(ceilingPerBookedJobCents);
  if (interval.highCents !== null && interval.highCents <= ceilingPerBookedJobCents) {
    return { verdict: 'scale', why: `Cost per booked job ${range} (${pct}) is within the ceiling of ${ceiling} even at its pessimistic bound.`, interval };
  }
  if (interval.lowCents > ceilingPerBookedJobCents) {
    return { verdict: 'cut', why: `Cost per booked job ${range} (${pct}) is above the ceiling of ${ceiling} even at its optimistic bound.`, interval };
  }
  return { verdict: 'hold', why: `Cost per booked job ${range} (${pct}) straddles the ceiling of ${ceiling}; more calls will tell.`, interval };
}

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
   * The source's fraud score from its quality signals (quality-signals.ts `sourceFraudScore`: 0..100, noisy-OR of
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

// ---------------------------------------------------------------- accumulator

const REASON_INDEX: Readonly<Record<string, number>> = Object.fromEntries(REASON_CODES.map((c, i) => [c, i]));
const DUPLICATE: ReasonCode = 'duplicate_caller';
const SIGNAL_INDEX: Readonly<Record<string, number>> = Object.fromEntries(CALL_SIGNALS.map((sig, k) => [sig, k]));
const QA_INDEX: Readonly<Record<string, number>> = Object.fromEntries(QA_VERDICTS.map((v, i) => [v, i]));

interface Acc {
  calls: number;
  connected: number;
  billable: number;
  reasons: number[];
  duplicates: number;
  disputes: number;
  spend: number;
  credits: number;
  reversals: number;
  booked: number;
  closed: number;
  closedBillable: number;
  revenue: number;
  margin: number;
  qaReviewed: number;
  qaVerdicts: number[];
  signals: number[];
  /** Calls that could bill by billable seconds around their own buffer (NEAR_BUFFER_BINS). */
  nearBuffer: number[];
}

/**
 * The near-buffer histogram (issue 6): calls that could bill (a price if billable) by billable seconds relative to
 * the buffer they were rated against, in bins of NEAR_BUFFER_BIN_SEC from −NEAR_BUFFER_BINS_EACH_SIDE bins to as
 * many from the buffer (the bin starting at 0 is the first that bills); calls further away are not binned.
 */
export const NEAR_BUFFER_BIN_SEC = 5;
export const NEAR_BUFFER_BINS_EACH_SIDE = 6;

const emptyAcc = (): Acc => ({
  calls: 0,
  connected: 0,
  billable: 0,
  reasons: REASON_CODES.map(() => 0),
  duplicates: 0,
  disputes: 0,
  spend: 0,
  credits: 0,
  reversals: 0,
  booked: 0,
  closed: 0,
  closedBillable: 0,
  revenue: 0,
  margin: 0,
  qaReviewed: 0,
  qaVerdicts: QA_VERDICTS.map(() => 0),
  signals: CALL_SIGNALS.map(() => 0),
  nearBuffer: new Array<number>(2 * NEAR_BUFFER_BINS_EACH_SIDE).fill(0),
});

function addCall(a: Acc, c: ReportCall): void {
  a.calls += 1;
  if (c.connected) a.connected += 1;
  if (c.billable) a.billable += 1;
  else {
    const i = c.reasons.length === 0 ? undefined : REASON_INDEX[c.reasons[0]!];
    if (i !== undefined) a.reasons[i]! += 1;
  }
  if (c.reasons.length > 0 && c.reasons.includes(DUPLICATE)) a.duplicates += 1;
  if (c.disputed) a.disputes += 1;
  a.spend += c.amountCents + (c.reversedChargesCents ?? 0);
  a.credits += c.creditsCents;
  a.reversals += c.reversalsCents ?? 0;
  const o = c.outcome;
  if (o !== null) {
    if (o.status !== 'lost') a.booked += 1;
    if (o.status === 'closed') {
      a.closed += 1;
      if (c.billable) a.closedBillable += 1;
    }
    a.revenue += o.revenueCents;
    a.margin += o.marginCents;
  }
  const v = c.qa == null ? undefined : QA_INDEX[c.qa.verdict];
  if (v !== undefined) {
    a.qaReviewed += 1;
    a.qaVerdicts[v]! += 1;
  }
  for (const s of c.signals ?? []) {
    const i = SIGNAL_INDEX[s];
    if (i !== undefined) a.signals[i]! += 1;
  }
  if (c.priceIfBillableCents !== null && c.bufferSec != null) {
    const bin = Math.floor((Math.floor(c.billableSec) - c.bufferSec) / NEAR_BUFFER_BIN_SEC) + NEAR_BUFFER_BINS_EACH_SIDE;
    if (bin >= 0 && bin < a.nearBuffer.length) a.nearBuffer[bin]! += 1;
  }
}

function merge(into: Acc, a: Acc): void {
  into.calls += a.calls;
  into.connected += a.connected;
  into.billable += a.billable;
  for (let i = 0; i < a.reasons.length; i++) into.reasons[i]! += a.reasons[i]!;
  into.duplicates += a.duplicates;
  into.disputes += a.disputes;
  into.spend += a.spend;
  into.credits += a.credits;
  into.reversals += a.reversals;
  into.booked += a.booked;
  into.closed += a.closed;
  into.closedBillable += a.closedBillable;
  into.revenue += a.revenue;
  into.margin += a.margin;
  into.qaReviewed += a.qaReviewed;
  for (let i = 0; i < a.qaVerdicts.length; i++) into.qaVerdicts[i]! += a.qaVerdicts[i]!;
  for (let i = 0; i < a.signals.length; i++) into.signals[i]! += a.signals[i]!;
  for (let i = 0; i < a.nearBuffer.length; i++) into.nearBuffer[i]! += a.nearBuffer[i]!;
}

// ---------------------------------------------------------------- counts (daily aggregates)

/**
 * The scalar counters by their short names: the attribute names of the daily aggregate items (aggregates.ts), so
 * short on purpose. Reasons, QA verdicts and signals are `r_<reason>`, `q_<verdict>` and `g_<signal>`; the near-buffer
 * histogram's bins `nb<bin>`.
 */
const SCALAR_COUNTERS = {
  n: 'calls',
  cn: 'connected',
  b: 'billable',
  dup: 'duplicates',
  dsp: 'disputes',
  sp: 'spend',
  cr: 'credits',
  rvs: 'reversals',
  bk: 'booked',
  cl: 'closed',
  clb: 'closedBillable',
  rv: 'revenue',
  mg: 'margin',
  qa: 'qaReviewed',
} as const satisfies Record<string, Exclude<keyof Acc, 'reasons' | 'qaVerdicts' | 'signals'>>;

function countsOfAcc(a: Acc): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, field] of Object.entries(SCALAR_COUNTERS)) if (a[field] !== 0) out[name] = a[field];
  REASON_CODES.forEach((code, i) => {
    if (a.reasons[i] !== 0) out[`r_${code}`] = a.reasons[i]!;
  });
  QA_VERDICTS.forEach((v, i) => {
    if (a.qaVerdicts[i] !== 0) out[`q_${v}`] = a.qaVerdicts[i]!;
  });
  CALL_SIGNALS.forEach((sig, i) => {
    if (a.signals[i] !== 0) out[`g_${sig}`] = a.signals[i]!;
  });
  a.nearBuffer.forEach((n, i) => {
    if (n !== 0) out[`nb${i}`] = n;
  });
  return out;
}

/** One call's scorecard counters as named numbers, only those that are not 0 (a call always has `n: 1`). */
export function scorecardCountsOf(c: ReportCall): Record<string, number> {
  const a = emptyAcc();
  addCall(a, c);
  return countsOfAcc(a);
}

/** Adds named counters into an accumulator; a name it does not know (a counter of a later version) is skipped. */
function addCountsTo(a: Acc, counts: Readonly<Record<string, number>>): void {
  for (const [name, v] of Object.entries(counts)) {
    const field = (SCALAR_COUNTERS as Record<string, (typeof SCALAR_COUNTERS)[keyof typeof SCALAR_COUNTERS]>)[name];
    if (field !== undefined) {
      a[field] += v;
      continue;
    }
    if (name.startsWith('nb')) {
      const bin = Number(name.slice(2));
      if (Number.isInteger(bin) && bin >= 0 && bin < a.nearBuffer.length) a.nearBuffer[bin]! += v;
      continue;
    }
    const [table, index] =
      name.startsWith('r_') ? [a.reasons, REASON_INDEX[name.slice(2)]] : name.startsWith('q_') ? [a.qaVerdicts, QA_INDEX[name.slice(2)]] : name.startsWith('g_') ? [a.signals, SIGNAL_INDEX[name.slice(2)]] : [undefined, undefined];
    if (table !== undefined && index !== undefined) table[index]! += v;
  }
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
  const bySub = options.groupBy === 'subSource';
  // publisherId → sub-source (null, or '*' when grouped by publisher) → counters
  const cells = new Map<string, Map<string | null, Acc>>();
  let groups = 0;
  let lastPublisher: string | undefined;
  let lastSubs: Map<string | null, Acc> | undefined;

  const accOf = (publisherId: string, subSource: string | null): Acc => {
    let subs = publisherId === lastPublisher ? lastSubs : cells.get(publisherId);
    if (subs === undefined) cells.set(publisherId, (subs = new Map()));
    lastPublisher = publisherId;
    lastSubs = subs;
    const key = bySub ? subSource : '*';
    let a = subs.get(key);
    if (a === undefined) {
      subs.set(key, (a = emptyAcc()));
      groups += 1;
    }
    return a;
  };
  const add = (c: ReportCall): void => addCall(accOf(c.publisherId, c.subSource), c);
  const addCounts = (publisherId: string, subSource: string | null, counts: Readonly<Record<string, number>>): void => {
    if ((counts.n ?? 0) <= 0) return;
    addCountsTo(accOf(publisherId, subSource), counts);
  };

  const result = (): ScorecardResult => {
    const entries: { publisherId: string; subSource: string | null; acc: Acc }[] = [];
    const total = emptyAcc();
    for (const publisherId of [...cells.keys()].sort(compareKeys)) {
      const subs = cells.get(publisherId)!;
      for (const subSource of [...subs.keys()].sort(compareKeys)) {
        const acc = subs.get(subSource)!;
        merge(total, acc);
        entries.push({ publisherId, subSource, acc });
      }
    }
    const ceiling = options.economics === null ? null : costCeiling(options.economics, { billableCalls: total.billable, closedCalls: total.closedBillable });
    const ceilingPerBookedJobCents = ceiling === null || total.booked === 0 ? null : floorCents((ceiling.maxPricePerCallCents * total.billable) / total.booked);
    const row = (publisherId: string, subSource: string | null, a: Acc): Omit<SourceRow, 'fraud'> => {
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
        recommendation: recommend({ calls: a.calls, billable: a.billable, booked: a.booked, netSpendCents: net }, ceilingPerBookedJobCents, ceiling !== null, rule),
      };
    };
    const totalRow = row('*', '*', total);
    // The account's near-buffer share is the baseline each source's is compared with (quality-signals.ts).
    const baseline = { nearBufferShare: totalRow.connected === 0 ? 0 : totalRow.signals.near_buffer_hangup / totalRow.connected };
    const scored = (r: Omit<SourceRow, 'fraud'>): SourceRow => {
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
    };
    return {
      groupBy: options.groupBy,
      rows: entries.map((e) => scored(row(e.publisherId, e.subSource, e.acc))),
      total: scored(totalRow),
      ceiling,
      ceilingPerBookedJobCents,
      rule: { ...rule, statement: ruleStatement(rule) },
    };
  };

  return {
    add,
    addCounts,
    addAll(calls) {
      for (const c of calls) add(c);
    },
    get groups() {
      return groups;
    },
    result,
  };
}

/** One pass over calls (an array or any iterable, e.g. a generator reading pages). */
export function buildScorecard(calls: Iterable<ReportCall>, options: ScorecardOptions): ScorecardResult {
  const s = createScorecard(options);
  s.addAll(calls);
  return s.result();
}

// ---------------------------------------------------------------- CSV

export const SCORECARD_CSV_COLUMNS = [
  'publisherId',
  'subSource',
  'calls',
  'connected',
  'billable',
  'billableRate',
  'nonBillable',
  ...REASON_CODES.map((r) => `reason_${r}` as const),
  'duplicates',
  'disputes',
  'spendCents',
  'creditsCents',
  'reversalsCents',
  'netSpendCents',
  'booked',
  'closed',
  'revenueCents',
  'marginCents',
  'netMarginCents',
  'costPerBillableCallCents',
  'costPerBookedJobCents',
  'costPerClosedCustomerCents',
  'returnOnSpend',
  'qaReviewed',
  ...QA_VERDICTS.map((v) => `qa_${v}` as const),
  ...CALL_SIGNALS.map((s) => `signal_${s}` as const),
  'fraudScore',
  'maxPricePerCallCents',
  'ceilingPerBookedJobCents',
  'verdict',
  'costPerBookedJobLowCents',
  'costPerBookedJobHighCents',
  'why',
] as const;

/** One RFC 4180 field: quoted only when it holds a comma, a quote or a line break; null → empty. */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function scorecardCsv(result: ScorecardResult): string {
  const maxPrice = result.ceiling?.maxPricePerCallCents ?? null;
  const line = (r: SourceRow): string =>
    [
      r.publisherId,
      r.subSource,
      r.calls,
      r.connected,
      r.billable,
      r.billableRate,
      r.nonBillable,
      ...REASON_CODES.map((code) => r.reasons[code]),
      r.duplicates,
      r.disputes,
      r.spendCents,
      r.creditsCents,
      r.reversalsCents,
      r.netSpendCents,
      r.booked,
      r.closed,
      r.revenueCents,
      r.marginCents,
      r.netMarginCents,
      r.costPerBillableCallCents,
      r.costPerBookedJobCents,
      r.costPerClosedCustomerCents,
      r.returnOnSpend,
      r.qaReviewed,
      ...QA_VERDICTS.map((v) => r.qaVerdicts[v]),
      ...CALL_SIGNALS.map((s) => r.signals[s]),
      r.fraud.score,
      maxPrice,
      result.ceilingPerBookedJobCents,
      r.recommendation.verdict,
      r.recommendation.interval?.lowCents ?? null,
      r.recommendation.interval?.highCents ?? null,
      r.recommendation.why,
    ]
      .map(csvField)
      .join(',');
  const lines = [SCORECARD_CSV_COLUMNS.join(','), ...result.rows.map(line), line(result.total)];
  return `${lines.join('\r\n')}\r\n`;
}
