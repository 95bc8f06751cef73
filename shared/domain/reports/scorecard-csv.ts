/**
 * `scorecardCsv` renders a scorecard result as RFC 4180 CSV: CRLF, a header line, fields quoted only when they hold
 * a comma, quote or line break (quotes doubled), a fixed column order (SCORECARD_CSV_COLUMNS), cents as integers,
 * empty for null. Rows in result order, the total last.
 */
import { QA_VERDICTS } from '../qa/qa';
import { REASON_CODES } from '../rating/decision';
import { CALL_SIGNALS } from '../rating/rules';
import type { ScorecardResult, SourceRow } from './scorecard';

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
