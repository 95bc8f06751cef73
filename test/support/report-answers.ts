/**
 * Complete report answers for tests that only care about a few fields: every field the documented answer carries
 * (shared/app/reports/reports.ts SourcesReportSchema / ThresholdReportSchema), zero or empty unless given.
 */
import { CALL_SIGNALS } from '../../shared/domain/rating/rules';
import { QA_VERDICTS } from '../../shared/domain/qa/qa';
import { REASON_CODES } from '../../shared/domain/rating/decision';

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** One scorecard row; `verdict` and `why` also fill its recommendation. */
export function sourceRow(r: { publisherId: string; verdict: string; why: string } & Record<string, unknown>): Record<string, unknown> {
  return {
    subSource: null,
    calls: 0,
    connected: 0,
    billable: 0,
    billableRate: null,
    nonBillable: 0,
    reasons: zeros(REASON_CODES),
    duplicates: 0,
    disputes: 0,
    spendCents: 0,
    creditsCents: 0,
    reversalsCents: 0,
    netSpendCents: 0,
    booked: 0,
    closed: 0,
    revenueCents: 0,
    marginCents: 0,
    netMarginCents: 0,
    costPerBillableCallCents: null,
    costPerBookedJobCents: null,
    costPerClosedCustomerCents: null,
    returnOnSpend: null,
    qaReviewed: 0,
    signals: zeros(CALL_SIGNALS),
    fraud: { score: 0, flagged: false, sufficient: false, contributions: [], nearBuffer: { share: 0, baselineShare: 0, ratio: 0 } },
    nearBufferHistogram: [],
    qaVerdicts: zeros(QA_VERDICTS),
    recommendation: { verdict: r.verdict, why: r.why, interval: null },
    ...r,
  };
}

/** The scorecard answer's fields around its rows (rule, total), for a fixture that gives the rest. */
export function sourcesAnswerExtras(rows: readonly Record<string, unknown>[]): Record<string, unknown> {
  return {
    rule: { minBillableCalls: 30, confidence: 0.9, statement: 'the verdict rule' },
    total: sourceRow({ publisherId: '*', verdict: 'insufficient_data', why: 'all sources', calls: rows.reduce((n, r) => n + Number(r.calls ?? 0), 0) }),
  };
}

/** A complete ceiling from the two figures a fixture cares about. */
export function ceiling(maxPricePerCallCents: number, maxCostPerBookedJobCents: number): Record<string, unknown> {
  return {
    maxPricePerCallCents,
    maxCostPerBookedJobCents,
    closeRateSource: 'measured',
    expectedValueCents: maxPricePerCallCents,
    economics: { avgCustomerMarginCents: 100_000, closeRate: 0.3, targetShare: 0.2 },
  };
}

/** One point of the buffer sweep. */
export function thresholdPoint(p: { bufferSec: number; billable: number; spendCents: number; bookedCaptured: number }): Record<string, unknown> {
  return { billableCalls: p.billable, bookedNotBilled: 0, spendNeverBookedCents: 0, costPerBookedJobCents: null, captureShare: null, coMovement: null, ...p };
}

/** The sweep answer's fields around its points. */
export function thresholdAnswerExtras(current: { bufferSec: number; billable: number; spendCents: number; bookedCaptured: number }): Record<string, unknown> {
  const { billable: _billable, ...row } = thresholdPoint(current) as { billable: number } & Record<string, unknown>;
  return {
    why: 'the recommendation, in words',
    totals: { calls: 0, couldBill: 0, bookedJobs: 0, bookedCouldBill: 0, bookedNeverBillable: 0, cells: 0 },
    coMovementNote: null,
    current: row,
  };
}
