/**
 * The reports API (booked revenue by source): `GET /v1/reports/sources` (the source scorecard, JSON or CSV
 * by content negotiation on `Accept`) and `GET /v1/reports/threshold` (the buffer sweep of the threshold tuner).
 *
 * This module owns the HTTP side only: query parsing with defaults and precise 400s, content negotiation, the route
 * table functions/api.ts mounts (`REPORT_ROUTES`), their OpenAPI entries, and the JSON contract of both answers
 * (`SourcesReportSchema`, `ThresholdReportSchema`), which `npm run report` (events/report.ts) validates and maps
 * to its view model (web/report-model.ts). The computation is a port, `ReportEngine`, so that the scorecard, the
 * tuner and the reader of campaign calls plug in without the routes changing; until they do, functions/api.ts
 * mounts `pendingReportEngine`, which answers 501.
 *
 * Query parameters are parsed by hand with shared/app/kernel/query.ts like every other route (unknown ones are named in
 * the 400); the zod schemas here describe responses only (OpenAPI, and the CLI's check of what it received).
 */
import type { DomainError } from '../../domain/kernel/errors';
import { route, type Route } from '../kernel/route';
import * as z from 'zod';
import type { FieldError } from '../../domain/kernel/problems';
import { invalidInput, notAcceptable, notImplemented } from '../kernel/errors';
import type { GroupBy } from '../../domain/reports/analytics';
import { CampaignEconomicsSchema } from '../../domain/reports/economics-schema';
import { QA_VERDICTS } from '../../domain/qa/qa';
import { CALL_SIGNALS } from '../../domain/rating/rules';
import type { DeepReadonly, SameShape } from '../../domain/kernel/schema-shape';
import type { SourceRow as ScorecardSourceRow } from '../../domain/reports/scorecard';
import type { ThresholdRow, ThresholdTuning } from '../../domain/reports/threshold-tuner';
import { REASON_CODES } from '../../domain/rating/decision';
import type { ApiKeyRecord } from '../kernel/ports';
import { clampInstant } from '../../domain/kernel/input';
import { id, instant, oneOf, parseQuery, wholeNumber, type QueryParams, type Rule } from '../kernel/query';

// ------------------------------------------------------------------ queries

const DAY_MS = 86_400_000;
/** Default period: the 30 days before `to` (default: now). */
export const DEFAULT_PERIOD_DAYS = 30;
/** The longest period one request may cover. */
export const MAX_PERIOD_DAYS = 366;
/** Buffer sweep defaults and limits (seconds). */
export const THRESHOLD_DEFAULTS = { min: 0, max: 600, step: 5 } as const;
export const MAX_BUFFER_SEC = 3600;
export const MAX_THRESHOLD_POINTS = 721;

/**
 * Where a report's figures come from (report-engine.ts): `auto` (the default) answers the whole local days of a
 * period of at least AGGREGATE_MIN_DAYS of them from the daily aggregates and the rest call by call; `calls` reads
 * every call; `aggregates` uses the aggregates for every whole day whatever the period.
 */
export type ReportBasis = 'auto' | 'calls' | 'aggregates';
export const REPORT_BASES: readonly ReportBasis[] = ['auto', 'calls', 'aggregates'];

interface Period {
  readonly accountId: string;
  readonly campaignId: string;
  /** ISO instants, `from` inclusive, `to` exclusive. */
  readonly from: string;
  readonly to: string;
  /** Absent: auto. */
  readonly basis?: ReportBasis;
}

const basis: Rule<ReportBasis> = oneOf(REPORT_BASES, `must be one of ${REPORT_BASES.join(', ')}`);

export interface SourcesQuery extends Period {
  readonly groupBy: GroupBy;
}

export interface ThresholdQuery extends Period {
  /** Buffers swept: min, min + step, … up to max (inclusive when max − min is a multiple of step). */
  readonly min: number;
  readonly max: number;
  readonly step: number;
}

const groupBy: Rule<GroupBy> = oneOf(['publisher', 'subSource']);
const bufferSec = wholeNumber(0, MAX_BUFFER_SEC);

/** The query of `GET /v1/reports/sources`. */
export const SOURCES_QUERY = { campaignId: id.with({ required: true }), from: instant, to: instant, groupBy, basis };
/** The query of `GET /v1/reports/threshold`. */
export const THRESHOLD_QUERY = { campaignId: id.with({ required: true }), from: instant, to: instant, min: bufferSec, max: bufferSec, step: wholeNumber(1, MAX_BUFFER_SEC), basis };

function badQuery(errors: readonly FieldError[]): DomainError {
  return invalidInput(`Invalid query parameters: ${errors.map((e) => e.field).join(', ')}.`, errors);
}

/** from/to with their defaults: to = now, from = to − 30 days; at most MAX_PERIOD_DAYS apart, from before to. */
function period(q: { from?: string; to?: string }, now: Date): { from: string; to: string } {
  const toMs = q.to === undefined ? now.getTime() : Date.parse(q.to);
  // The default start never falls before the first instant keys can hold (input.ts).
  const fromMs = q.from === undefined ? clampInstant(toMs - DEFAULT_PERIOD_DAYS * DAY_MS) : Date.parse(q.from);
  if (fromMs >= toMs) throw badQuery([{ field: q.from === undefined ? 'to' : 'from', message: `must be before to (default: now)` }]);
  if (toMs - fromMs > MAX_PERIOD_DAYS * DAY_MS) throw badQuery([{ field: 'from', message: `must be at most ${MAX_PERIOD_DAYS} days before to` }]);
  return { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() };
}

/** `?campaignId=&from=&to=&groupBy=publisher|subSource`; campaignId required. */
export function parseSourcesQuery(accountId: string, params: QueryParams, now: Date): SourcesQuery {
  const q = parseQuery(SOURCES_QUERY, params);
  return { accountId, campaignId: q.campaignId!, ...period(q, now), groupBy: q.groupBy ?? 'publisher', basis: q.basis ?? 'auto' };
}

/** `?campaignId=&from=&to=&min=0&max=600&step=5`; campaignId required; max > min; at most 721 points. */
export function parseThresholdQuery(accountId: string, params: QueryParams, now: Date): ThresholdQuery {
  const q = parseQuery(THRESHOLD_QUERY, params);
  const min = q.min ?? THRESHOLD_DEFAULTS.min;
  const max = q.max ?? THRESHOLD_DEFAULTS.max;
  const step = q.step ?? THRESHOLD_DEFAULTS.step;
  if (max <= min) throw badQuery([{ field: 'max', message: `must be greater than min (${min})` }]);
  const points = thresholdPointCount(min, max, step);
  if (points > MAX_THRESHOLD_POINTS) {
    throw badQuery([{ field: 'step', message: `gives ${points} buffers from min to max; at most ${MAX_THRESHOLD_POINTS}: raise step or narrow min..max` }]);
  }
  return { accountId, campaignId: q.campaignId!, ...period(q, now), min, max, step, basis: q.basis ?? 'auto' };
}

/** How many buffers a sweep has: min, min + step, … ≤ max. */
export function thresholdPointCount(min: number, max: number, step: number): number {
  return Math.floor((max - min) / step) + 1;
}

// ------------------------------------------------------------------ content negotiation

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

function mediaRanges(accept: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const m = /^([\w.+*-]+)\/([\w.+*-]+)$/.exec(range);
    if (m === null) continue;
    let q = 1;
    for (const p of params) {
      const qm = /^q=([01](?:\.\d{0,3})?)$/.exec(p);
      if (qm) q = Math.min(1, Number(qm[1]));
    }
    out.push({ type: m[1]!, subtype: m[2]!, q });
  }
  return out;
}

/**
 * The offered media type the Accept header prefers (RFC 9110 §12.5.1: the most specific matching range sets a
 * type's quality; ties go to the first offered). No or an empty header: the first offered. 406 when none is acceptable.
 */
export function negotiate<T extends string>(accept: string | undefined, offered: readonly [T, ...T[]]): T {
  if (accept === undefined || accept.trim() === '') return offered[0];
  const ranges = mediaRanges(accept);
  if (ranges.length === 0) return offered[0];
  let best: { type: T; q: number } | null = null;
  for (const type of offered) {
    const [t, s] = type.split('/') as [string, string];
    let q = -1;
    let specificity = -1;
    for (const r of ranges) {
      const spec = r.type === t && r.subtype === s ? 2 : r.type === t && r.subtype === '*' ? 1 : r.type === '*' && r.subtype === '*' ? 0 : -1;
      if (spec > specificity) {
        specificity = spec;
        q = r.q;
      }
    }
    if (q > 0 && (best === null || q > best.q)) best = { type, q };
  }
  if (best === null) throw notAcceptable(offered);
  return best.type;
}

// ------------------------------------------------------------------ the engine port

/**
 * The computation behind the routes (the scorecard, the tuner and the campaign-calls reader, wired by the lead).
 * It owns campaign lookup and scoping: a campaign of another account is a NotFound, like every other read.
 */
export interface ReportEngine {
  /** The scorecard, as the JSON of SourcesReportSchema and as CSV (one row per group, a header line). */
  sources(q: SourcesQuery): Promise<{ json: unknown; csv: string }>;
  /** The buffer sweep, as the JSON of ThresholdReportSchema. */
  threshold(q: ThresholdQuery): Promise<unknown>;
}

/** Mounted until the real engine is: every report answers 501 (after auth and query validation). */
export const pendingReportEngine: ReportEngine = {
  sources: () => Promise.reject(notImplemented('The source scorecard is not available yet.')),
  threshold: () => Promise.reject(notImplemented('The threshold tuner is not available yet.')),
};

// ------------------------------------------------------------------ routes

export interface ReportDeps {
  readonly engine: ReportEngine;
  readonly now: () => Date;
}

const CSV = 'text/csv';
const JSON_TYPE = 'application/json';



// ------------------------------------------------------------------ response contract

const count = z.number().int().min(0);
const cents = z.number().int();
/** A local day, `YYYY-MM-DD`; `-YYYY-MM-DD` before year 0 (a day west of UTC on 0000-01-01: aggregates.ts localDay). */
const day = z.string().regex(/^-?\d{4}-\d{2}-\d{2}$/);
const ratio = z.number();

export const VERDICTS = ['scale', 'hold', 'cut', 'insufficient_data'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** What a report was computed from (report-engine.ts). */
export const BasisSchema = z.object({
  /** Whole local days answered from the daily aggregates: [from, to] inclusive, or null. */
  aggregatedDays: z.object({ from: day, to: day, count }).nullable(),
  /** Calls read one by one (the edges of the period outside whole days, or all of it). */
  callsRead: count,
  /** Aggregate items read. */
  aggregateItemsRead: count,
});

/** One group of the scorecard as the domain computes it (shared/domain/reports/scorecard.ts SourceRow). */
const scorecardRow = {
  publisherId: z.string().describe('`*` on the total row'),
  /** groupBy=subSource: the sub-source (null: none declared on the number); groupBy=publisher: null. */
  subSource: z.string().nullable(),
  calls: count,
  /** Completed calls. */
  connected: count,
  billable: count,
  billableRate: ratio.nullable().describe('billable ÷ calls, 4 decimals; null without calls'),
  nonBillable: count,
  reasons: z.record(z.enum(REASON_CODES), count).describe('Non-billable calls by primary reason'),
  duplicates: count,
  disputes: count,
  spendCents: cents,
  creditsCents: cents.describe('≤ 0'),
  reversalsCents: cents.describe('≤ 0: charges reversed because an earlier call of the caller bills for its duplicate window'),
  /** Charges plus credits plus reversals (credits and reversals are negative): what the ledger says is owed. */
  netSpendCents: cents,
  /** Calls whose outcome is booked or closed (closed implies booked). */
  booked: count,
  closed: count,
  revenueCents: cents,
  marginCents: cents,
  netMarginCents: cents,
  costPerBillableCallCents: cents.nullable(),
  costPerBookedJobCents: cents.nullable(),
  costPerClosedCustomerCents: cents.nullable(),
  returnOnSpend: ratio.nullable().describe('margin ÷ net spend, 4 decimals; null when net spend ≤ 0'),
  qaReviewed: count,
  signals: z.record(z.enum(CALL_SIGNALS), count).describe('Calls flagged with each signal at rating'),
  fraud: z.object({
    score: z.number().min(0).max(100),
    flagged: z.boolean(),
    sufficient: z.boolean(),
    contributions: z.array(z.object({ signal: z.string(), count, share: ratio, points: z.number() })),
    nearBuffer: z.object({ share: ratio, baselineShare: ratio, ratio }),
  }),
  nearBufferHistogram: z.array(z.object({ fromSec: z.number().int(), toSec: z.number().int(), count })),
  qaVerdicts: z.record(z.enum(QA_VERDICTS), count),
  recommendation: z.object({
    verdict: z.enum(VERDICTS),
    why: z.string(),
    interval: z
      .object({
        confidence: z.union([z.literal(0.8), z.literal(0.9), z.literal(0.95), z.literal(0.99)]),
        bookingRateLow: ratio,
        bookingRateHigh: ratio,
        lowCents: cents,
        highCents: cents.nullable(),
      })
      .nullable(),
  }),
};

/** One group of the scorecard answer: the domain row, its verdict in front, and the source's disclosure. */
export const SourceRowSchema = z.object({
  ...scorecardRow,
  verdict: z.enum(VERDICTS),
  /** One sentence: why this verdict (e.g. "cost per booked job $412.00 is above the $300.00 ceiling"). */
  why: z.string(),
  /** Source transparency: whether the publisher declared its traffic methods and this traffic's sub-sources (not on the total row). */
  disclosure: z
    .object({
      status: z.enum(['disclosed', 'partial', 'undeclared']),
      why: z.string(),
      trafficMethods: z.array(z.string()),
      declaredSubSources: z.array(z.string()),
      undisclosedCalls: count,
    })
    .optional(),
});

export const SourcesReportSchema = z
  .object({
    campaignId: z.string(),
    campaignName: z.string(),
    from: z.string(),
    to: z.string(),
    groupBy: z.enum(['publisher', 'subSource']),
    generatedAt: z.string(),
    /** The campaign economics' ceiling (shared/domain/reports/economics.ts); null when the campaign has none. */
    ceiling: z
      .object({
        maxPricePerCallCents: cents,
        maxCostPerBookedJobCents: cents,
        closeRateSource: z.enum(['entered', 'measured']),
        expectedValueCents: cents,
        economics: CampaignEconomicsSchema,
      })
      .nullable(),
    rule: z.object({ minBillableCalls: count, confidence: z.number(), statement: z.string() }).describe('The verdict rule, in numbers and in words'),
    rows: z.array(SourceRowSchema),
    total: SourceRowSchema.describe('Every source together (publisherId `*`)'),
    /** Every day of the period (account time zone), oldest first: net spend and booked jobs of the calls started that day. */
    spendByDay: z.array(z.object({ day, spendCents: cents, bookedCount: count })),
    basis: BasisSchema,
  })
  .meta({ id: 'SourcesReport' });

const thresholdRow = {
  bufferSec: z.number().int().min(0),
  billableCalls: count,
  spendCents: cents,
  /** Booked jobs among the calls that would have billed. */
  bookedCaptured: count,
  bookedNotBilled: count.describe('Booked calls that could bill at a lower buffer but not at this one'),
  spendNeverBookedCents: cents,
  costPerBookedJobCents: cents.nullable(),
  captureShare: ratio.nullable().describe('bookedCaptured ÷ booked jobs that could bill, 4 decimals'),
  coMovement: ratio.nullable().describe('Pearson r across (day, source) cells of billable calls vs booked jobs, 4 decimals'),
};

export const ThresholdReportSchema = z
  .object({
    campaignId: z.string(),
    from: z.string(),
    to: z.string(),
    /** The buffer of the terms in force at `to` (null: no terms). */
    currentBufferSec: z.number().int().min(0).nullable(),
    /** null: not enough data to recommend one. */
    recommendedBufferSec: z.number().int().min(0).nullable(),
    /** The recommendation rule, in words. */
    rule: z.string(),
    why: z.string(),
    totals: z.object({ calls: count, couldBill: count, bookedJobs: count, bookedCouldBill: count, bookedNeverBillable: count, cells: count }),
    coMovementNote: z.string().nullable(),
    current: z.object(thresholdRow).describe('The current buffer, swept like the others'),
    /** One per swept buffer, ascending: what the period would have cost at that buffer (`billable` = billableCalls). */
    points: z.array(z.object({ ...thresholdRow, billable: count })),
    basis: BasisSchema,
  })
  .meta({ id: 'ThresholdReport' });

export type SourcesReport = DeepReadonly<z.output<typeof SourcesReportSchema>>;
export type SourceRow = DeepReadonly<z.output<typeof SourceRowSchema>>;
export type ThresholdReport = DeepReadonly<z.output<typeof ThresholdReportSchema>>;

/** The answers are the domain's rows with a few fields added (report-engine.ts): proven the same shape at compile time. */
export const REPORT_SHAPES_MATCH: [
  SameShape<Omit<SourceRow, 'verdict' | 'why' | 'disclosure'>, ScorecardSourceRow>,
  SameShape<Omit<ThresholdReport['points'][number], 'billable'>, ThresholdRow>,
  SameShape<ThresholdReport['current'], ThresholdRow>,
  SameShape<ThresholdReport['totals'], ThresholdTuning['totals']>,
] = [true, true, true, true];

/** The report routes (after the response contract their answers are documented with). */
export const REPORT_ROUTES: readonly Route<ReportDeps>[] = [
  route({
    method: 'GET',
    path: '/v1/reports/sources',
    summary:
      'Booked revenue by source: per publisher (or sub-source) calls, billable, net spend, booked and closed jobs, revenue and a scale/hold/cut verdict against the cost ceiling. CSV with Accept: text/csv. Period default: the last 30 days',
    auth: 'bearer',
    query: SOURCES_QUERY,
    responses: {
      200: { description: 'The scorecard (text/csv on Accept: text/csv)', schema: SourcesReportSchema, text: { 'text/csv': 'One row per source, a header line (UTF-8)' } },
    },
    problems: [400, 401, 404, 406],
    async handle(principal, req, deps) {
      const q = parseSourcesQuery(principal.accountId, req.query, deps.now());
      const type = negotiate(req.accept, [JSON_TYPE, CSV]);
      const answer = await deps.engine.sources(q);
      // Caches (and API Gateway) must key the answer on Accept.
      const headers = { vary: 'Accept', 'cache-control': 'no-store' };
      if (type === CSV) {
        const name = `sources-${q.campaignId}-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}.csv`;
        return { status: 200, body: answer.csv, contentType: 'text/csv; charset=utf-8', headers: { ...headers, 'content-disposition': `attachment; filename="${name}"` } };
      }
      return { status: 200, body: answer.json, contentType: 'application/json', headers };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/reports/threshold',
    summary: 'The buffer sweep: billable calls, spend and booked jobs captured at each buffer from min to max by step (at most 721), with the recommended buffer',
    auth: 'bearer',
    query: THRESHOLD_QUERY,
    responses: { 200: { description: 'The sweep', schema: ThresholdReportSchema } },
    problems: [400, 401, 404, 406],
    async handle(principal, req, deps) {
      const q = parseThresholdQuery(principal.accountId, req.query, deps.now());
      negotiate(req.accept, [JSON_TYPE]);
      return { status: 200, body: await deps.engine.threshold(q), contentType: 'application/json', headers: { 'cache-control': 'no-store' } };
    },
  }),
];
