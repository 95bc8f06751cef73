/**
 * The scorecard's recommendation for a source: scale, hold or cut, judged on cost per booked job against the
 * campaign's ceiling with a confidence interval, or no verdict on too little data.
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
 */

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
