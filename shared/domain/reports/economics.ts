/**
 * The cost ceiling: what a qualified call is worth to the buyer, hence the most it should pay for one.
 *
 *   expected value of a qualified call  EV = avgCustomerMarginCents × closeRate
 *   maximum allowable price per call    P  = avgCustomerMarginCents × closeRate × targetShare  (= EV × targetShare)
 *
 * A qualified call is a billable one. Both figures are integer cents, FLOORED (a ceiling rounded up would allow
 * paying more than the stated share), after rounding away binary noise below a millionth of a cent, so
 * 100 × 0.29 is 29 and not 28. P is computed from the exact product, not from the floored EV.
 *
 * Close rate: the buyer enters one; once the period's outcomes are a big enough sample it is MEASURED instead,
 * as closed customers among billable calls ÷ billable calls, when there are at least 30 billable calls and 5
 * closed ones (fewer closes make the ratio swing by a fifth with a single customer). The result says which one
 * was used and carries both. Pure: no I/O; the zod schema of the input is in economics-schema.ts, so that
 * modules importing this one do not bundle full zod.
 */
import type { CampaignEconomics } from './analytics';

/** The smallest sample from which the close rate is measured rather than taken as entered. */
export const CLOSE_RATE_MIN_SAMPLE = { billableCalls: 30, closedCalls: 5 } as const;

/** What the close rate can be measured from: the period's billable calls and the closed customers among them. */
export interface CloseRateSample {
  readonly billableCalls: number;
  /** Billable calls whose outcome is `closed`. */
  readonly closedCalls: number;
}

export type CloseRateSource = 'entered' | 'measured';

export interface CostCeiling {
  /** The economics the figures were computed with (closeRate = the one used). */
  readonly economics: CampaignEconomics;
  readonly closeRateSource: CloseRateSource;
  readonly enteredCloseRate: number;
  /** null: the sample was below CLOSE_RATE_MIN_SAMPLE (or none was given). */
  readonly measuredCloseRate: number | null;
  readonly sample: CloseRateSample | null;
  /** Expected value of a qualified (billable) call, cents, floored. */
  readonly expectedValueCents: number;
  /** The most the buyer should pay per billable call, cents, floored. */
  readonly maxPricePerCallCents: number;
}

/** Floors cents after rounding away float noise below 1e-6 cent (so 28.999999999999996 counts as 29). */
export function floorCents(x: number): number {
  return Math.floor(Math.round(x * 1e6) / 1e6);
}

/** closed ÷ billable when the sample is big enough (CLOSE_RATE_MIN_SAMPLE), else null. */
export function measuredCloseRate(sample: CloseRateSample | null): number | null {
  if (sample === null) return null;
  if (sample.billableCalls < CLOSE_RATE_MIN_SAMPLE.billableCalls || sample.closedCalls < CLOSE_RATE_MIN_SAMPLE.closedCalls) return null;
  return Math.min(1, sample.closedCalls / sample.billableCalls);
}

/** The ceiling from the entered economics and, when there is enough of it, the measured close rate. */
export function costCeiling(entered: CampaignEconomics, sample: CloseRateSample | null = null): CostCeiling {
  const measured = measuredCloseRate(sample);
  const closeRate = measured ?? entered.closeRate;
  const ev = entered.avgCustomerMarginCents * closeRate;
  return {
    economics: { ...entered, closeRate },
    closeRateSource: measured === null ? 'entered' : 'measured',
    enteredCloseRate: entered.closeRate,
    measuredCloseRate: measured,
    sample,
    expectedValueCents: floorCents(ev),
    maxPricePerCallCents: floorCents(ev * entered.targetShare),
  };
}
