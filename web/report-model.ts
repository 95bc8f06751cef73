/**
 * The view model of the booked-revenue report: everything the terminal table (report-terminal.ts) and
 * the self-contained HTML report (report-html.ts) show, already derived, so that both renderers only lay it out.
 * Pure: no I/O, no clock (generatedAt comes from the answer).
 *
 * Contract with the API (the lead makes the real engine answer this; the zod schemas in shared/app/reports/reports.ts
 * are its executable form and events/report.ts checks every answer against them):
 *
 *   GET /v1/reports/sources?campaignId=&from=&to=&groupBy=            → SourcesReport
 *   { campaignId, campaignName?, from, to, groupBy: 'publisher'|'subSource', generatedAt,
 *     ceiling: { maxPricePerCallCents, maxCostPerBookedJobCents, closeRateSource } | null,
 *     rows: [{ publisherId, subSource: string|null, calls, connected, billable, netSpendCents,
 *              booked (outcome booked or closed), closed, revenueCents,
 *              verdict: 'scale'|'hold'|'cut'|'insufficient_data', why }],
 *     spendByDay: [{ day: 'YYYY-MM-DD', spendCents, bookedCount }] }
 *
 *   GET /v1/reports/threshold?campaignId=&from=&to=&min=&max=&step=  → ThresholdReport
 *   { campaignId, from, to, currentBufferSec: int|null, recommendedBufferSec: int|null, rule,
 *     points: [{ bufferSec, billable, spendCents, bookedCaptured }] }   (ascending bufferSec)
 *
 * The answers carry sums only; rates, costs per billable call and per booked job, return on spend and the total row
 * are derived here, from integer cents (a quotient of cents is rounded half away from zero to whole cents).
 */
import type { SourceRow, SourcesReport, ThresholdReport, Verdict } from '../shared/app/reports/reports';

export type { Verdict };

export interface ReportCeiling {
  readonly maxPricePerCallCents: number;
  readonly maxCostPerBookedJobCents: number;
  /** How the close rate behind the ceiling was found (e.g. entered, measured). */
  readonly closeRateSource: string;
}

/** The sums and what follows from them: one scorecard group or the total. */
export interface ReportFigures {
  readonly calls: number;
  readonly connected: number;
  readonly billable: number;
  /** billable / calls, 0..1; null without calls. */
  readonly billableRate: number | null;
  readonly netSpendCents: number;
  readonly booked: number;
  readonly closed: number;
  readonly revenueCents: number;
  readonly costPerBillableCents: number | null;
  readonly costPerBookedJobCents: number | null;
  /** revenue / net spend; null when nothing was spent. */
  readonly returnOnSpend: number | null;
}

export interface ReportRow extends ReportFigures {
  /** `publisherId`, or `publisherId/subSource` when grouped by sub-source (`publisherId/(none)` without one). */
  readonly group: string;
  readonly verdict: Verdict;
  readonly why: string;
  /** "partial (3 call(s) came from sub-sources the publisher has not declared)"; null when the answer has none. */
  readonly disclosure: string | null;
}

export interface ThresholdPoint {
  readonly bufferSec: number;
  readonly billable: number;
  readonly spendCents: number;
  readonly bookedCaptured: number;
  readonly costPerBookedJobCents: number | null;
}

export interface DaySpend {
  /** YYYY-MM-DD */
  readonly day: string;
  readonly spendCents: number;
  readonly bookedCount: number;
}

/** "daily aggregates for 2025-03-01 to 2025-03-30 (30 days), 12 calls read one by one" (report-engine.ts). */
export function basisNote(b: SourcesReport['basis']): string {
  const calls = `${b.callsRead} call${b.callsRead === 1 ? '' : 's'} read one by one`;
  if (b.aggregatedDays === null) return calls;
  const d = b.aggregatedDays;
  return `daily aggregates for ${d.from} to ${d.to} (${d.count} day${d.count === 1 ? '' : 's'}), ${calls}`;
}

export interface ReportView {
  readonly title: string;
  readonly campaignId: string;
  readonly period: { readonly from: string; readonly to: string };
  readonly generatedAt: string;
  /** What the scorecard was computed from, in words (daily aggregates for whole days, calls for the rest). */
  readonly basis: string;
  readonly ceiling: ReportCeiling | null;
  readonly rows: readonly ReportRow[];
  readonly total: ReportFigures;
  readonly threshold: {
    readonly currentBufferSec: number | null;
    readonly recommendedBufferSec: number | null;
    readonly rule: string;
    readonly points: readonly ThresholdPoint[];
  };
  readonly spendByDay: readonly DaySpend[];
}

/** a / b in whole units, rounded half away from zero; null when b is 0. Integers in, integer out (no float money). */
export function divRound(a: number, b: number): number | null {
  if (b === 0) return null;
  const sign = Math.sign(a) * Math.sign(b);
  const x = Math.abs(a);
  const y = Math.abs(b);
  const q = Math.floor(x / y);
  const r = x - q * y;
  return sign * (2 * r >= y ? q + 1 : q) || 0;
}

type Sums = Pick<ReportFigures, 'calls' | 'connected' | 'billable' | 'netSpendCents' | 'booked' | 'closed' | 'revenueCents'>;

/** The derived figures of a set of sums. */
export function figures(s: Sums): ReportFigures {
  return {
    calls: s.calls,
    connected: s.connected,
    billable: s.billable,
    billableRate: s.calls === 0 ? null : s.billable / s.calls,
    netSpendCents: s.netSpendCents,
    booked: s.booked,
    closed: s.closed,
    revenueCents: s.revenueCents,
    costPerBillableCents: divRound(s.netSpendCents, s.billable),
    costPerBookedJobCents: divRound(s.netSpendCents, s.booked),
    returnOnSpend: s.netSpendCents === 0 ? null : s.revenueCents / s.netSpendCents,
  };
}

/** The total row: the sums of the rows (a partition of the campaign's calls), derived again. */
export function totalOf(rows: readonly Sums[]): ReportFigures {
  const sum = (k: keyof Sums) => rows.reduce((acc, r) => acc + r[k], 0);
  return figures({
    calls: sum('calls'),
    connected: sum('connected'),
    billable: sum('billable'),
    netSpendCents: sum('netSpendCents'),
    booked: sum('booked'),
    closed: sum('closed'),
    revenueCents: sum('revenueCents'),
  });
}

export function groupLabel(row: Pick<SourceRow, 'publisherId' | 'subSource'>, groupBy: SourcesReport['groupBy']): string {
  return groupBy === 'subSource' ? `${row.publisherId}/${row.subSource ?? '(none)'}` : row.publisherId;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function dayMs(day: string): number | null {
  const m = DAY.exec(day);
  return m === null ? null : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

/** Days sorted and merged (a day listed twice is summed), gaps between the first and the last filled with zeros. */
export function continuousDays(days: readonly DaySpend[]): DaySpend[] {
  const byMs = new Map<number, { spendCents: number; bookedCount: number }>();
  for (const d of days) {
    const ms = dayMs(d.day);
    if (ms === null) continue;
    const prev = byMs.get(ms) ?? { spendCents: 0, bookedCount: 0 };
    byMs.set(ms, { spendCents: prev.spendCents + d.spendCents, bookedCount: prev.bookedCount + d.bookedCount });
  }
  if (byMs.size === 0) return [];
  const first = Math.min(...byMs.keys());
  const last = Math.max(...byMs.keys());
  const out: DaySpend[] = [];
  for (let ms = first; ms <= last; ms += 86_400_000) {
    const v = byMs.get(ms) ?? { spendCents: 0, bookedCount: 0 };
    out.push({ day: new Date(ms).toISOString().slice(0, 10), ...v });
  }
  return out;
}

/** The view of the two API answers (already checked against their schemas). `spendByDay` defaults to the sources'. */
export function viewFromApi(sources: SourcesReport, threshold: ThresholdReport, spendByDay: readonly DaySpend[] = sources.spendByDay): ReportView {
  const rows: ReportRow[] = sources.rows.map((r) => ({
    group: groupLabel(r, sources.groupBy),
    ...figures(r),
    verdict: r.verdict,
    why: r.why,
    disclosure: r.disclosure === undefined ? null : `${r.disclosure.status} (${r.disclosure.why.replace(/\.$/, '')})`,
  }));
  return {
    title: `Booked revenue by source: ${sources.campaignName ?? sources.campaignId}`,
    campaignId: sources.campaignId,
    period: { from: sources.from, to: sources.to },
    generatedAt: sources.generatedAt,
    basis: basisNote(sources.basis),
    ceiling: sources.ceiling,
    rows,
    total: totalOf(sources.rows),
    threshold: {
      currentBufferSec: threshold.currentBufferSec,
      recommendedBufferSec: threshold.recommendedBufferSec,
      rule: threshold.rule,
      points: [...threshold.points]
        .sort((a, b) => a.bufferSec - b.bufferSec)
        .map((p) => ({ ...p, costPerBookedJobCents: divRound(p.spendCents, p.bookedCaptured) })),
    },
    spendByDay: continuousDays(spendByDay),
  };
}
