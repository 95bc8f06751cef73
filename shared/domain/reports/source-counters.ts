/**
 * The counters a scorecard row is built from, per group: one call folded in (`countCall`), two groups merged, and
 * the same counters as named numbers (`scorecardCountsOf`), which the daily aggregate items sum so that a scorecard
 * over aggregates equals one over the calls they came from. O(1) memory per group: nothing per call is kept.
 */
import type { ReportCall } from './analytics';
import { QA_VERDICTS } from '../qa/qa';
import { REASON_CODES, type ReasonCode } from '../rating/decision';
import { CALL_SIGNALS } from '../rating/rules';

// ---------------------------------------------------------------- accumulator

const REASON_INDEX: Readonly<Record<string, number>> = Object.fromEntries(REASON_CODES.map((c, i) => [c, i]));
const DUPLICATE: ReasonCode = 'duplicate_caller';
const SIGNAL_INDEX: Readonly<Record<string, number>> = Object.fromEntries(CALL_SIGNALS.map((sig, k) => [sig, k]));
const QA_INDEX: Readonly<Record<string, number>> = Object.fromEntries(QA_VERDICTS.map((v, i) => [v, i]));

/** One group's counters (a scorecard row before its derived figures). */
export interface SourceCounters {
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
 * The near-buffer histogram: calls that could bill (a price if billable) by billable seconds relative to
 * the buffer they were rated against, in bins of NEAR_BUFFER_BIN_SEC from −NEAR_BUFFER_BINS_EACH_SIDE bins to as
 * many from the buffer (the bin starting at 0 is the first that bills); calls further away are not binned.
 */
export const NEAR_BUFFER_BIN_SEC = 5;
export const NEAR_BUFFER_BINS_EACH_SIDE = 6;

export const emptyCounters = (): SourceCounters => ({
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

/** Folds one call into a group's counters. */
export function countCall(a: SourceCounters, c: ReportCall): void {
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

export function mergeCounters(into: SourceCounters, a: SourceCounters): void {
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
} as const satisfies Record<string, Exclude<keyof SourceCounters, 'reasons' | 'qaVerdicts' | 'signals'>>;

function namedCountsOf(a: SourceCounters): Record<string, number> {
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
  const a = emptyCounters();
  countCall(a, c);
  return namedCountsOf(a);
}

/** Adds named counters into an accumulator; a name it does not know (a counter of a later version) is skipped. */
export function addNamedCounts(a: SourceCounters, counts: Readonly<Record<string, number>>): void {
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
