/**
 * The report engine: the `ReportEngine` port of shared/app/reports/reports.ts, computed from the campaign's calls
 * and, for long periods, from the daily aggregates.
 *
 * Both reports fold the period into an accumulator: the scorecard (scorecard.ts, memory O(groups)) or the buffer
 * sweep (threshold-tuner.ts, memory O(candidates + day × source cells)). What they fold comes from two places:
 * - the calls, streamed from the per-campaign index page by page (campaign-calls.ts), never held together; each call
 *   carries its own credits (StoredCall.credits), so the ledger is not read;
 * - the daily aggregates (shared/domain/reports/aggregates.ts, kept from the main table's stream by the aggregator): one item
 *   per (local day, source) holding the sums of its calls' contributions, folded with `addCounts` / `addCell`, which
 *   give exactly what adding those calls gives.
 * The period [from, to) splits into whole local days of the account's zone and the edges around them
 * (`splitPeriod`). With basis `auto` (the default), a period with at least AGGREGATE_MIN_DAYS whole days reads those
 * days from the aggregates and the edges call by call; a shorter one reads calls only. `calls` forces calls,
 * `aggregates` forces the aggregates for any whole day. A sweep whose buffers (or the current one) pass the
 * aggregates' histogram (TUNER_HISTOGRAM_MAX_SEC) reads calls. Every answer says what it read (`basis`).
 *
 * Freshness: the aggregates trail the table by the stream's delay (about a second), as the index trails the table.
 *
 * The scorecard's days (`spendByDay`) and the tuner's co-movement days are local days in the account's zone. The
 * tuner's current buffer is the one of the terms in force at `to`. A campaign of another account, or none, is 404.
 */
import type { ReportCall } from '../../domain/reports/analytics';
import { dayNumber, localDay, splitPeriod, type AggregateKind } from '../../domain/reports/aggregates';
import { asCampaign } from '../../domain/catalog/config';
import { notFound } from '../kernel/errors';
import { createScorecard, type SourceRow } from '../../domain/reports/scorecard';
import { scorecardCsv } from '../../domain/reports/scorecard-csv';
import { termsInForce, type TermsVersion } from '../../domain/terms/terms';
import { createThresholdTuner, TUNER_HISTOGRAM_MAX_SEC } from '../../domain/reports/threshold-tuner';
import type { Campaign, Publisher } from '../../domain/catalog/types';
import type { CampaignItem } from '../../domain/catalog/config';
import type { ConfigStore } from '../kernel/ports';
import type { ReportBasis, ReportEngine, SourcesQuery, SourcesReport, SourceRow as SourceAnswerRow, ThresholdQuery, ThresholdReport } from './reports';

const DAY_MS = 86_400_000;

/** Periods with at least this many whole local days read those days from the daily aggregates (basis `auto`). */
export const AGGREGATE_MIN_DAYS = 7;

/** One aggregate item: a (local day, source) cell's summed counters. */
export interface AggregateCell {
  readonly day: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly counts: Readonly<Record<string, number>>;
}

export interface ReportEngineDeps {
  readonly config: Pick<ConfigStore, 'getAccount' | 'getPublisher'> & { readCampaign(accountId: string, campaignId: string): Promise<CampaignItem | null> };
  readonly calls: {
    streamCampaignCalls(
      accountId: string,
      campaignId: string,
      fromIso: string,
      toIso: string,
      context: { readonly termsVersions: readonly TermsVersion[] },
    ): AsyncIterable<ReportCall>;
  };
  /** The daily aggregates; absent: every report reads calls. */
  readonly aggregates?: {
    /** The campaign's cells of one kind for local days firstDay..lastDay inclusive. */
    readCells(accountId: string, campaignId: string, kind: AggregateKind, firstDay: string, lastDay: string): AsyncIterable<AggregateCell>;
  };
  readonly now: () => Date;
}

interface Plan {
  readonly days: { readonly first: string; readonly last: string; readonly count: number } | null;
  /** [fromIso, toIso) ranges read call by call. */
  readonly ranges: readonly (readonly [string, string])[];
}

function planOf(q: { from: string; to: string; basis?: ReportBasis }, timeZone: string, aggregatesUsable: boolean): Plan {
  const fromMs = Date.parse(q.from);
  const toMs = Date.parse(q.to);
  const all: Plan = { days: null, ranges: [[q.from, q.to]] };
  const basis = q.basis ?? 'auto';
  if (!aggregatesUsable || basis === 'calls') return all;
  const split = splitPeriod(fromMs, toMs, timeZone);
  if (split.days === null || (basis === 'auto' && split.days.count < AGGREGATE_MIN_DAYS)) return all;
  return { days: split.days, ranges: split.edges.map(([a, b]) => [new Date(a).toISOString(), new Date(b).toISOString()] as const) };
}

export function reportEngine(deps: ReportEngineDeps): ReportEngine {
  return {
    sources: (q: SourcesQuery) => sourcesReport(deps, q),
    threshold: (q: ThresholdQuery) => thresholdReport(deps, q),
  };
}

type CampaignRef = { readonly accountId: string; readonly campaignId: string };
type ReadCounter = { calls: number; items: number };
type DayTotals = Map<string, { spendCents: number; bookedCount: number }>;

async function campaignOf(deps: ReportEngineDeps, q: CampaignRef): Promise<Campaign> {
  const record = await deps.config.readCampaign(q.accountId, q.campaignId);
  if (record === null) throw notFound('No such campaign.');
  return asCampaign(record);
}

async function zoneOf(deps: ReportEngineDeps, accountId: string): Promise<string> {
  return (await deps.config.getAccount(accountId))?.timeZone ?? 'UTC';
}

async function* callsOf(deps: ReportEngineDeps, q: CampaignRef, plan: Plan, campaign: Campaign, counter: { calls: number }): AsyncGenerator<ReportCall> {
  for (const [from, to] of plan.ranges) {
    for await (const call of deps.calls.streamCampaignCalls(q.accountId, q.campaignId, from, to, { termsVersions: campaign.termsVersions })) {
      counter.calls += 1;
      yield call;
    }
  }
}

async function* cellsOf(deps: ReportEngineDeps, q: CampaignRef, plan: Plan, kind: AggregateKind, counter: { items: number }): AsyncGenerator<AggregateCell> {
  if (plan.days === null || deps.aggregates === undefined) return;
  for await (const cell of deps.aggregates.readCells(q.accountId, q.campaignId, kind, plan.days.first, plan.days.last)) {
    counter.items += 1;
    yield cell;
  }
}

function basisOf(plan: Plan, read: ReadCounter) {
  return {
    aggregatedDays: plan.days === null ? null : { from: plan.days.first, to: plan.days.last, count: plan.days.count },
    callsRead: read.calls,
    aggregateItemsRead: read.items,
  };
}

async function sourcesReport(deps: ReportEngineDeps, q: SourcesQuery) {
  const campaign = await campaignOf(deps, q);
  const timeZone = await zoneOf(deps, q.accountId);
  const plan = planOf(q, timeZone, deps.aggregates !== undefined);
  const read: ReadCounter = { calls: 0, items: 0 };
  const card = createScorecard({ groupBy: q.groupBy, economics: campaign.economics ?? null });
  const days = emptyDays(q.from, q.to, timeZone);
  await foldScorecardCalls(callsOf(deps, q, plan, campaign, read), card, days, timeZone);
  await foldScorecardCells(cellsOf(deps, q, plan, 'card', read), card, days);
  const result = card.result();
  const publishers = await publishersOf(deps, q.accountId, result.rows);
  const json = sourcesJson(q, campaign, result, publishers, days, deps.now(), basisOf(plan, read));
  return { json, csv: scorecardCsv(result) };
}

type Scorecard = ReturnType<typeof createScorecard>;
type ScorecardResult = ReturnType<Scorecard['result']>;

async function foldScorecardCalls(calls: AsyncIterable<ReportCall>, card: Scorecard, days: DayTotals, timeZone: string): Promise<void> {
  for await (const call of calls) {
    card.add(call);
    const day = days.get(localDay(call.startedAtMs, timeZone));
    if (day !== undefined) {
      day.spendCents += call.amountCents + (call.reversedChargesCents ?? 0) + call.creditsCents + (call.reversalsCents ?? 0);
      if (call.outcome !== null && call.outcome.status !== 'lost') day.bookedCount += 1;
    }
  }
}

async function foldScorecardCells(cells: AsyncIterable<AggregateCell>, card: Scorecard, days: DayTotals): Promise<void> {
  for await (const cell of cells) {
    card.addCounts(cell.publisherId, cell.subSource, cell.counts);
    const day = days.get(cell.day);
    if (day !== undefined) {
      day.spendCents += (cell.counts.sp ?? 0) + (cell.counts.cr ?? 0) + (cell.counts.rvs ?? 0);
      day.bookedCount += cell.counts.bk ?? 0;
    }
  }
}

/** The rows' publishers, each read once, in the rows' order. */
async function publishersOf(deps: ReportEngineDeps, accountId: string, rows: readonly SourceRow[]): Promise<Map<string, Publisher | null>> {
  const publishers = new Map<string, Publisher | null>();
  for (const r of rows) if (!publishers.has(r.publisherId)) publishers.set(r.publisherId, await deps.config.getPublisher(accountId, r.publisherId));
  return publishers;
}

function sourcesJson(
  q: SourcesQuery,
  campaign: Campaign,
  result: ScorecardResult,
  publishers: ReadonlyMap<string, Publisher | null>,
  days: DayTotals,
  now: Date,
  basis: ReturnType<typeof basisOf>,
): SourcesReport {
  // Typed by the answer's schema (reports.ts), which the OpenAPI document is generated from.
  const row = (r: SourceRow): SourceAnswerRow => ({
    ...r,
    // The response names sub-sources only when grouping by them (`*` is the scorecard's "all").
    subSource: q.groupBy === 'subSource' ? r.subSource : null,
    verdict: r.recommendation.verdict,
    why: r.recommendation.why,
    ...(r.publisherId === '*' ? {} : { disclosure: disclosureOf(publishers.get(r.publisherId) ?? null, r.signals.undisclosed_source) }),
  });
  return {
    campaignId: campaign.campaignId,
    campaignName: campaign.name,
    from: q.from,
    to: q.to,
    groupBy: q.groupBy,
    generatedAt: now.toISOString(),
    ceiling: ceilingOf(result),
    rule: result.rule,
    rows: result.rows.map(row),
    total: row(result.total),
    spendByDay: [...days.entries()].map(([day, d]) => ({ day, ...d })),
    basis,
  };
}

function ceilingOf(result: ScorecardResult): SourcesReport['ceiling'] {
  return result.ceiling === null || result.ceilingPerBookedJobCents === null
    ? null
    : {
        maxPricePerCallCents: result.ceiling.maxPricePerCallCents,
        maxCostPerBookedJobCents: result.ceilingPerBookedJobCents,
        closeRateSource: result.ceiling.closeRateSource,
        expectedValueCents: result.ceiling.expectedValueCents,
        economics: result.ceiling.economics,
      };
}

async function thresholdReport(deps: ReportEngineDeps, q: ThresholdQuery): Promise<ThresholdReport> {
  const campaign = await campaignOf(deps, q);
  const timeZone = await zoneOf(deps, q.accountId);
  const current = termsInForce(campaign.termsVersions, Date.parse(q.to) - 1);
  const currentBufferSec = current?.bufferSec ?? 0;
  // The aggregates' histogram stops at TUNER_HISTOGRAM_MAX_SEC: a sweep past it reads calls.
  const histogramCovers = q.max <= TUNER_HISTOGRAM_MAX_SEC && currentBufferSec <= TUNER_HISTOGRAM_MAX_SEC;
  const plan = planOf(q, timeZone, deps.aggregates !== undefined && histogramCovers);
  const read: ReadCounter = { calls: 0, items: 0 };
  const dayOf = (ms: number) => dayNumber(localDay(ms, timeZone));
  const tuner = createThresholdTuner({ min: q.min, max: q.max, step: q.step, currentBufferSec, dayOf });
  for await (const call of callsOf(deps, q, plan, campaign, read)) tuner.add(call);
  for await (const cell of cellsOf(deps, q, plan, 'tune', read)) {
    tuner.addCell({ publisherId: cell.publisherId, subSource: cell.subSource, day: dayNumber(cell.day), counts: cell.counts });
  }
  const tuning = tuner.result();
  return {
    campaignId: campaign.campaignId,
    from: q.from,
    to: q.to,
    currentBufferSec: current?.bufferSec ?? null,
    recommendedBufferSec: tuning.recommended?.bufferSec ?? null,
    rule: tuning.rule.statement,
    why: tuning.why,
    totals: tuning.totals,
    coMovementNote: tuning.coMovementNote,
    current: tuning.current,
    points: tuning.rows.map((r) => ({ ...r, billable: r.billableCalls })),
    basis: basisOf(plan, read),
  };
}

/**
 * A source's disclosure status (source transparency): publishers must declare their traffic methods and
 * sub-sources. `undeclared`: no traffic method declared (or no such publisher any more); `partial`: methods declared
 * but no sub-source list, or calls came from sub-sources the publisher did not declare (`undisclosed_source`);
 * `disclosed` otherwise.
 */
export function disclosureOf(publisher: Pick<Publisher, 'trafficMethods' | 'subSources'> | null, undisclosedCalls: number) {
  const trafficMethods = publisher?.trafficMethods ?? [];
  const declaredSubSources = publisher?.subSources ?? [];
  const status: 'disclosed' | 'partial' | 'undeclared' =
    trafficMethods.length === 0 ? 'undeclared' : declaredSubSources.length === 0 || undisclosedCalls > 0 ? 'partial' : 'disclosed';
  const why =
    status === 'undeclared'
      ? 'The publisher has declared no traffic method.'
      : undisclosedCalls > 0
        ? `${undisclosedCalls} call(s) came from sub-sources the publisher has not declared.`
        : declaredSubSources.length === 0
          ? 'The publisher has declared no sub-sources.'
          : 'Traffic methods and sub-sources declared; every call from a declared sub-source.';
  return { status, why, trafficMethods, declaredSubSources, undisclosedCalls };
}

/** Every local day touched by [from, to), oldest first, with zero totals. */
function emptyDays(from: string, to: string, timeZone: string): Map<string, { spendCents: number; bookedCount: number }> {
  const days = new Map<string, { spendCents: number; bookedCount: number }>();
  const endMs = Date.parse(to);
  // Stepping by 6 h never skips a local day, whatever the zone's offsets and DST.
  for (let t = Date.parse(from); t < endMs; t += DAY_MS / 4) days.set(localDay(t, timeZone), { spendCents: 0, bookedCount: 0 });
  days.set(localDay(endMs - 1, timeZone), days.get(localDay(endMs - 1, timeZone)) ?? { spendCents: 0, bookedCount: 0 });
  return days;
}
