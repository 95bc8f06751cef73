/**
 * The reports API (shared/app/reports/reports.ts) with a stub engine: query parsing with its defaults and precise 400s,
 * content negotiation (JSON, or CSV on Accept: text/csv; 406 otherwise), the route table functions/api.ts mounts
 * and its OpenAPI entries; then the answer contract and the view model the CLI builds from it (web/report-model.ts),
 * and the money formatting both renderers share.
 */
import { PROBLEM, rejection, thrown } from '../../support/problems';
import { problemBodyOf } from '../../../shared/adapters/http/problems';
import type { DomainError } from '../../../shared/domain/kernel/errors';
import { describe, expect, it } from 'vitest';
import type { ProblemBody } from '../../../shared/domain/kernel/problems';
import { openApiDocument } from '../../../shared/adapters/http/openapi';
import {
  negotiate,
  parseSourcesQuery,
  parseThresholdQuery,
  pendingReportEngine,
  REPORT_ROUTES,
  SourcesReportSchema,
  ThresholdReportSchema,
  type ReportEngine,
  type SourcesQuery,
  type ThresholdQuery,
} from '../../../shared/app/reports/reports';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { formatCents } from '../../../web/format';
import { continuousDays, divRound, viewFromApi } from '../../../web/report-model';
import { alignTable, printable, renderReportTable } from '../../../web/report-terminal';
import { ceiling, sourceRow, sourcesAnswerExtras, thresholdAnswerExtras, thresholdPoint } from '../../support/report-answers';

const NOW = new Date('2025-06-15T12:00:00.000Z');
const DAY = 86_400_000;
const ANALYST: ApiKeyRecord = { accountId: 'acme-roofing', role: 'analyst', label: 'analyst' };

/** The 400 malformed-request a call throws, as answered, or a failed expectation. */
function badRequest(fn: () => unknown): ProblemBody {
  const body = thrown(fn);
  expect(body).toMatchObject(PROBLEM.BadRequest);
  return body;
}

describe('parseSourcesQuery', () => {
  it('defaults to the 30 days before now, grouped by publisher', () => {
    expect(parseSourcesQuery('acme', { campaignId: 'roofing-tx' }, NOW)).toEqual({
      accountId: 'acme',
      campaignId: 'roofing-tx',
      from: new Date(NOW.getTime() - 30 * DAY).toISOString(),
      to: NOW.toISOString(),
      groupBy: 'publisher',
      basis: 'auto',
    });
  });

  it('takes basis=calls|aggregates and names a bad one in a 400', () => {
    expect(parseSourcesQuery('acme', { campaignId: 'roofing-tx', basis: 'calls' }, NOW).basis).toBe('calls');
    expect(parseThresholdQuery('acme', { campaignId: 'roofing-tx', basis: 'aggregates' }, NOW).basis).toBe('aggregates');
    expect(badRequest(() => parseSourcesQuery('acme', { campaignId: 'roofing-tx', basis: 'cache' }, NOW)).errors).toEqual([
      { field: 'basis', message: 'must be one of auto, calls, aggregates' },
    ]);
  });

  it('normalises from/to to UTC ISO and takes groupBy=subSource', () => {
    const q = parseSourcesQuery('acme', { campaignId: 'roofing-tx', from: '2025-05-01T00:00:00-05:00', to: '2025-05-08T00:00:00Z', groupBy: 'subSource' }, NOW);
    expect(q).toMatchObject({ from: '2025-05-01T05:00:00.000Z', to: '2025-05-08T00:00:00.000Z', groupBy: 'subSource' });
  });

  it('with only `to`, the period is the 30 days before it', () => {
    const q = parseSourcesQuery('acme', { campaignId: 'roofing-tx', to: '2025-05-31T00:00:00Z' }, NOW);
    expect(q.from).toBe('2025-05-01T00:00:00.000Z');
  });

  it('names a missing campaignId, an unknown parameter and a bad groupBy in one 400', () => {
    const err = badRequest(() => parseSourcesQuery('acme', { groupBy: 'week', limit: '5' }, NOW));
    expect(err.status).toBe(400);
    expect(err.errors).toEqual(
      expect.arrayContaining([
        { field: 'campaignId', message: 'is required' },
        { field: 'limit', message: 'is not a known parameter' },
        { field: 'groupBy', message: 'must be publisher or subSource' },
      ]),
    );
    expect(err.errors).toHaveLength(3);
  });

  it('rejects a malformed date, to before from, a from after now, and a period over 366 days', () => {
    expect(badRequest(() => parseSourcesQuery('acme', { campaignId: 'c', from: '2025-02-30T00:00:00Z' }, NOW)).errors).toEqual([
      { field: 'from', message: 'must be an ISO-8601 date-time with a zone' },
    ]);
    expect(badRequest(() => parseSourcesQuery('acme', { campaignId: 'c', from: '2025-05-02T00:00:00Z', to: '2025-05-01T00:00:00Z' }, NOW)).errors).toEqual([
      { field: 'to', message: 'must be after from' },
    ]);
    expect(badRequest(() => parseSourcesQuery('acme', { campaignId: 'c', from: '2025-07-01T00:00:00Z' }, NOW)).errors).toEqual([
      { field: 'from', message: 'must be before to (default: now)' },
    ]);
    expect(badRequest(() => parseSourcesQuery('acme', { campaignId: 'c', from: '2024-01-01T00:00:00Z', to: '2025-01-02T00:00:00Z' }, NOW)).errors).toEqual([
      { field: 'from', message: 'must be at most 366 days before to' },
    ]);
  });

  it('does not echo the rejected value', () => {
    const err = badRequest(() => parseSourcesQuery('acme', { campaignId: 'Secret<Value>' }, NOW));
    expect(JSON.stringify(err.errors)).not.toContain('Secret');
    expect(err.detail).not.toContain('Secret');
  });
});

describe('parseThresholdQuery', () => {
  it('defaults to buffers 0..600 s by 5', () => {
    expect(parseThresholdQuery('acme', { campaignId: 'roofing-tx' }, NOW)).toMatchObject({ min: 0, max: 600, step: 5, campaignId: 'roofing-tx', to: NOW.toISOString() });
  });

  it('accepts 721 points (0..3600 by 5) and refuses 722 (0..3605 is over the max, 0..3600 by 4 is 901)', () => {
    expect(parseThresholdQuery('acme', { campaignId: 'c', max: '3600', step: '5' }, NOW)).toMatchObject({ max: 3600, step: 5 });
    expect(badRequest(() => parseThresholdQuery('acme', { campaignId: 'c', max: '3600', step: '4' }, NOW)).errors).toEqual([
      { field: 'step', message: 'gives 901 buffers from min to max; at most 721: raise step or narrow min..max' },
    ]);
    expect(badRequest(() => parseThresholdQuery('acme', { campaignId: 'c', max: '3601' }, NOW)).errors).toEqual([
      { field: 'max', message: 'must be a whole number from 0 to 3600' },
    ]);
  });

  it('refuses step 0, a fractional or negative bound, and max ≤ min', () => {
    expect(badRequest(() => parseThresholdQuery('acme', { campaignId: 'c', step: '0' }, NOW)).errors).toEqual([
      { field: 'step', message: 'must be a whole number from 1 to 3600' },
    ]);
    expect(badRequest(() => parseThresholdQuery('acme', { campaignId: 'c', min: '-5', max: '2.5' }, NOW)).errors?.map((e) => e.field)).toEqual(['min', 'max']);
    expect(badRequest(() => parseThresholdQuery('acme', { campaignId: 'c', min: '300', max: '300' }, NOW)).errors).toEqual([
      { field: 'max', message: 'must be greater than min (300)' },
    ]);
  });

  it('does not take groupBy', () => {
    expect(badRequest(() => parseThresholdQuery('acme', { campaignId: 'c', groupBy: 'publisher' }, NOW)).errors).toEqual([
      { field: 'groupBy', message: 'is not a known parameter' },
    ]);
  });
});

describe('negotiate', () => {
  const offered = ['application/json', 'text/csv'] as const;
  it.each([
    [undefined, 'application/json'],
    ['', 'application/json'],
    ['*/*', 'application/json'],
    ['text/csv', 'text/csv'],
    ['text/*', 'text/csv'],
    ['Text/CSV; charset=utf-8', 'text/csv'],
    ['application/json;q=0.5, text/csv', 'text/csv'],
    ['text/csv;q=0.2, application/json', 'application/json'],
    ['text/csv, */*;q=0.1', 'text/csv'],
    ['application/json;q=0, */*', 'text/csv'],
    ['text/html, application/xhtml+xml, */*;q=0.8', 'application/json'],
  ])('Accept %j → %s', (accept, expected) => {
    expect(negotiate(accept, [...offered] as [string, ...string[]])).toBe(expected);
  });

  it('406 when nothing offered is acceptable', () => {
    const refusal = (accept: string, offered: [string, ...string[]]) => {
      try {
        negotiate(accept, offered);
      } catch (err) {
        return problemBodyOf(err as DomainError);
      }
      throw new Error('negotiated');
    };
    const notAcceptable = { type: 'https://callledger.dev/problems/not-acceptable', title: 'Not acceptable', status: 406 };
    expect(refusal('image/png', ['application/json', 'text/csv'])).toMatchObject(notAcceptable);
    expect(refusal('text/csv;q=0, application/json;q=0', ['application/json', 'text/csv'])).toMatchObject(notAcceptable);
    expect(refusal('text/csv', ['application/json'])).toMatchObject({ ...notAcceptable, detail: 'This resource is available as application/json; adjust the Accept header.' });
  });
});

// ------------------------------------------------------------------ routes with a stub engine

function stubEngine() {
  const calls: { sources: SourcesQuery[]; threshold: ThresholdQuery[] } = { sources: [], threshold: [] };
  const engine: ReportEngine = {
    async sources(q) {
      calls.sources.push(q);
      return { json: { campaignId: q.campaignId, rows: [] }, csv: 'publisherId,calls\r\npub-a,3\r\n' };
    },
    async threshold(q) {
      calls.threshold.push(q);
      return { campaignId: q.campaignId, points: [] };
    },
  };
  return { engine, calls };
}

function route(path: string) {
  const r = REPORT_ROUTES.find((x) => x.path === path);
  if (!r) throw new Error(`no route ${path}`);
  return r;
}

describe('REPORT_ROUTES', () => {
  it('are the two GET routes, documented in the OpenAPI document', () => {
    expect(REPORT_ROUTES.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/reports/sources', 'GET /v1/reports/threshold']);
    const doc = openApiDocument() as { paths: Record<string, { get?: { parameters: { name: string }[] } }> };
    expect(doc.paths['/v1/reports/sources']?.get?.parameters.map((p) => p.name)).toEqual(['campaignId', 'from', 'to', 'groupBy', 'basis']);
    expect(doc.paths['/v1/reports/threshold']?.get?.parameters.map((p) => p.name)).toEqual(['campaignId', 'from', 'to', 'min', 'max', 'step', 'basis']);
  });

  it('sources: JSON by default, scoped to the key’s account, Vary: Accept', async () => {
    const { engine, calls } = stubEngine();
    const res = await route('/v1/reports/sources').handle(ANALYST, { pathParameters: {}, body: '', contentType: undefined, query: { campaignId: 'roofing-tx' }, accept: undefined }, { engine, now: () => NOW });
    expect(res).toMatchObject({ status: 200, contentType: 'application/json', body: { campaignId: 'roofing-tx', rows: [] } });
    expect(res.headers?.vary).toBe('Accept');
    expect(calls.sources).toEqual([
      { accountId: 'acme-roofing', campaignId: 'roofing-tx', from: new Date(NOW.getTime() - 30 * DAY).toISOString(), to: NOW.toISOString(), groupBy: 'publisher', basis: 'auto' },
    ]);
  });

  it('sources: the engine’s CSV on Accept: text/csv, as an attachment', async () => {
    const { engine } = stubEngine();
    const res = await route('/v1/reports/sources').handle(
      ANALYST,
      { pathParameters: {}, body: '', contentType: undefined, query: { campaignId: 'roofing-tx', from: '2025-05-01T00:00:00Z', to: '2025-06-01T00:00:00Z' }, accept: 'text/csv' },
      { engine, now: () => NOW },
    );
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('text/csv; charset=utf-8');
    expect(res.body).toBe('publisherId,calls\r\npub-a,3\r\n');
    expect(res.headers?.['content-disposition']).toBe('attachment; filename="sources-roofing-tx-2025-05-01-2025-06-01.csv"');
  });

  it('a bad query or an unacceptable Accept is refused before the engine runs', async () => {
    const { engine, calls } = stubEngine();
    const sources = route('/v1/reports/sources');
    expect(await rejection(sources.handle(ANALYST, { pathParameters: {}, body: '', contentType: undefined, query: {}, accept: 'text/csv' }, { engine, now: () => NOW }))).toMatchObject({
      status: 400,
      errors: [{ field: 'campaignId', message: 'is required' }],
    });
    expect(await rejection(sources.handle(ANALYST, { pathParameters: {}, body: '', contentType: undefined, query: { campaignId: 'c' }, accept: 'application/pdf' }, { engine, now: () => NOW }))).toMatchObject({ status: 406 });
    expect(
      await rejection(route('/v1/reports/threshold').handle(ANALYST, { pathParameters: {}, body: '', contentType: undefined, query: { campaignId: 'c' }, accept: 'text/csv' }, { engine, now: () => NOW })),
    ).toMatchObject({ status: 406 });
    expect(calls.sources).toHaveLength(0);
    expect(calls.threshold).toHaveLength(0);
  });

  it('threshold: passes the sweep to the engine and answers its JSON', async () => {
    const { engine, calls } = stubEngine();
    const res = await route('/v1/reports/threshold').handle(
      ANALYST,
      { pathParameters: {}, body: '', contentType: undefined, query: { campaignId: 'roofing-tx', min: '30', max: '240', step: '10' }, accept: 'application/json' },
      { engine, now: () => NOW },
    );
    expect(res).toMatchObject({ status: 200, contentType: 'application/json', body: { campaignId: 'roofing-tx', points: [] } });
    expect(calls.threshold[0]).toMatchObject({ accountId: 'acme-roofing', min: 30, max: 240, step: 10 });
  });

  it('the pending engine answers 501 problems, not 500s', async () => {
    const deps = { engine: pendingReportEngine, now: () => NOW };
    expect(await rejection(route('/v1/reports/sources').handle(ANALYST, { pathParameters: {}, body: '', contentType: undefined, query: { campaignId: 'c' }, accept: undefined }, deps))).toMatchObject({
      status: 501,
      type: 'https://callledger.dev/problems/not-implemented',
    });
    expect(await rejection(route('/v1/reports/threshold').handle(ANALYST, { pathParameters: {}, body: '', contentType: undefined, query: { campaignId: 'c' }, accept: undefined }, deps))).toMatchObject(PROBLEM.Problem);
  });
});

// ------------------------------------------------------------------ the contract and the view model

const SOURCE_ROWS = [
  sourceRow({ publisherId: 'pub-a', subSource: 'search', calls: 10, connected: 9, billable: 3, netSpendCents: 13500, booked: 2, closed: 1, revenueCents: 90000, verdict: 'scale', why: 'cheap' }),
  sourceRow({ publisherId: 'pub-b', subSource: null, calls: 5, connected: 2, billable: 1, netSpendCents: 4500, booked: 0, closed: 0, revenueCents: 0, verdict: 'insufficient_data', why: 'few calls' }),
  sourceRow({ publisherId: 'pub-c', subSource: 'social', calls: 7, connected: 7, billable: 7, netSpendCents: 31501, booked: 3, closed: 0, revenueCents: 0, verdict: 'cut', why: 'dear' }),
];
const SOURCES = {
  campaignId: 'roofing-tx',
  campaignName: 'Roof repair, Austin',
  from: '2025-05-01T00:00:00.000Z',
  to: '2025-05-04T00:00:00.000Z',
  groupBy: 'subSource',
  generatedAt: '2025-05-04T00:00:05.000Z',
  ceiling: ceiling(6000, 30000),
  ...sourcesAnswerExtras(SOURCE_ROWS),
  rows: SOURCE_ROWS,
  spendByDay: [
    { day: '2025-05-03', spendCents: 100, bookedCount: 1 },
    { day: '2025-05-01', spendCents: 49401, bookedCount: 4 },
  ],
  basis: { aggregatedDays: { from: '2025-05-01', to: '2025-05-03', count: 3 }, callsRead: 0, aggregateItemsRead: 9 },
};
const THRESHOLD = {
  campaignId: 'roofing-tx',
  from: SOURCES.from,
  to: SOURCES.to,
  currentBufferSec: 60,
  recommendedBufferSec: 90,
  rule: 'largest buffer that keeps 95% of booked jobs',
  ...thresholdAnswerExtras({ bufferSec: 60, billable: 11, spendCents: 49500, bookedCaptured: 5 }),
  points: [
    thresholdPoint({ bufferSec: 90, billable: 8, spendCents: 36000, bookedCaptured: 5 }),
    thresholdPoint({ bufferSec: 60, billable: 11, spendCents: 49500, bookedCaptured: 5 }),
    thresholdPoint({ bufferSec: 120, billable: 4, spendCents: 18000, bookedCaptured: 0 }),
  ],
  basis: { aggregatedDays: null, callsRead: 22, aggregateItemsRead: 0 },
};

describe('the report contract and viewFromApi', () => {
  it('the sample answers satisfy the contract, and a broken one does not', () => {
    expect(SourcesReportSchema.safeParse(SOURCES).success).toBe(true);
    expect(ThresholdReportSchema.safeParse(THRESHOLD).success).toBe(true);
    const broken = SourcesReportSchema.safeParse({ ...SOURCES, rows: [{ ...SOURCES.rows[0], netSpendCents: 12.5, verdict: 'maybe' }] });
    expect(broken.success).toBe(false);
    expect(broken.error?.issues.map((i) => i.path.join('.'))).toEqual(['rows.0.netSpendCents', 'rows.0.verdict']);
  });

  it('derives rates, costs per billable call and per booked job (whole cents, half away from zero) and the total', () => {
    const view = viewFromApi(SourcesReportSchema.parse(SOURCES), ThresholdReportSchema.parse(THRESHOLD));
    expect(view.title).toBe('Booked revenue by source: Roof repair, Austin');
    expect(view.rows.map((r) => r.group)).toEqual(['pub-a/search', 'pub-b/(none)', 'pub-c/social']);
    expect(view.rows[0]).toMatchObject({ costPerBillableCents: 4500, costPerBookedJobCents: 6750, billableRate: 0.3, returnOnSpend: 90000 / 13500 });
    expect(view.rows[1]).toMatchObject({ costPerBookedJobCents: null, verdict: 'insufficient_data' });
    // 31501 / 3 = 10500.33… → 10500; 31501 / 7 = 4500.14… → 4500
    expect(view.rows[2]).toMatchObject({ costPerBookedJobCents: 10500, costPerBillableCents: 4500, returnOnSpend: 0 });
    expect(view.total).toMatchObject({ calls: 22, billable: 11, netSpendCents: 49501, booked: 5, closed: 1, revenueCents: 90000, costPerBookedJobCents: 9900 });
    // Points sorted by buffer, cost per booked job null without booked jobs.
    expect(view.threshold.points.map((p) => [p.bufferSec, p.costPerBookedJobCents])).toEqual([
      [60, 9900],
      [90, 7200],
      [120, null],
    ]);
    // Days sorted, the missing day filled with zeros.
    expect(view.spendByDay).toEqual([
      { day: '2025-05-01', spendCents: 49401, bookedCount: 4 },
      { day: '2025-05-02', spendCents: 0, bookedCount: 0 },
      { day: '2025-05-03', spendCents: 100, bookedCount: 1 },
    ]);
  });

  it('divRound rounds half away from zero on integers', () => {
    expect([divRound(5, 2), divRound(-5, 2), divRound(4, 3), divRound(5, 3), divRound(0, 7), divRound(1, 0)]).toEqual([3, -3, 1, 2, 0, null]);
    expect(continuousDays([])).toEqual([]);
  });

  it('the terminal table aligns columns, totals, and neutralises control characters in names', () => {
    const sources = SourcesReportSchema.parse({ ...SOURCES, rows: [...SOURCES.rows, { ...SOURCES.rows[0]!, publisherId: 'pub-\u001b[31mred', subSource: 'x' }] });
    const text = renderReportTable(viewFromApi(sources, ThresholdReportSchema.parse(THRESHOLD)));
    expect(text).not.toContain('\u001b');
    expect(text).toContain('pub-?[31mred/x');
    const lines = text.split('\n');
    const header = lines.find((l) => l.startsWith('source'))!;
    const body = lines.filter((l) => l.startsWith('pub-'));
    expect(body).toHaveLength(4);
    // Numbers right-aligned: every row's return on spend ends where the header's `ROS` ends; verdicts left-aligned.
    const rosEnd = header.indexOf('ROS') + 'ROS'.length;
    const total = lines.find((l) => l.startsWith('total'))!;
    for (const l of [...body, total]) expect(l.slice(rosEnd - 1, rosEnd + 2)).toMatch(/^[×—]( {2})?$/);
    expect(body.map((l) => l.slice(rosEnd + 2))).toEqual(['scale', 'insufficient data', 'cut', 'scale']);
    expect(total).toContain('$630.01');
    expect(text).toContain('ceiling: $300.00 per booked job, $60.00 per billable call (close rate measured)');
    expect(text).toContain('buffer: current 60 s, recommended 90 s (largest buffer that keeps 95% of booked jobs)');
    expect(text).toContain('at recommended 90 s: 8 billable, $360.00 spend, 5 booked jobs, $72.00 per booked job');
    expect(printable('a\u0007b\u009bc')).toBe('a?b?c');
    expect(alignTable(['a', 'bb'], [['xyz', '1']], [['t', '22']])).toBe('a    bb\n---  --\nxyz   1\n---  --\nt    22');
  });
});

describe('formatCents', () => {
  it.each([
    [0, '$0.00'],
    [5, '$0.05'],
    [-5, '-$0.05'],
    [123456, '$1,234.56'],
    [100000000, '$1,000,000.00'],
    [-123456789, '-$1,234,567.89'],
  ])('%i → %s', (cents, text) => {
    expect(formatCents(cents)).toBe(text);
  });

  it('refuses a fraction of a cent', () => {
    expect(() => formatCents(12.5)).toThrow(RangeError);
  });
});
