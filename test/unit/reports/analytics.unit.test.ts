import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CampaignEconomics, OutcomeStatus, ReportCall } from '../../../shared/domain/reports/analytics';
import { CLOSE_RATE_MIN_SAMPLE, costCeiling, floorCents, measuredCloseRate } from '../../../shared/domain/reports/economics';
import { CampaignEconomicsSchema, ThresholdSweepSchema, VerdictRuleSchema } from '../../../shared/domain/reports/economics-schema';
import { DomainError } from '../../../shared/domain/kernel/errors';
import { QA_VERDICTS, type QaVerdict } from '../../../shared/domain/qa/qa';
import { CALL_SIGNALS } from '../../../shared/domain/rating/rules';
import { buildScorecard, createScorecard, type ScorecardOptions, type SourceRow } from '../../../shared/domain/reports/scorecard';
import { SCORECARD_CSV_COLUMNS, scorecardCsv } from '../../../shared/domain/reports/scorecard-csv';
import { DEFAULT_VERDICT_RULE, recommend, wilsonInterval } from '../../../shared/domain/reports/verdict';
import { candidateBuffers, DEFAULT_TUNER_RULE, tuneThreshold, type TunerRule } from '../../../shared/domain/reports/threshold-tuner';
import { REASON_CODES, type ReasonCode } from '../../../shared/domain/rating/decision';

// ---------------------------------------------------------------- fixtures

const T0 = Date.parse('2026-03-02T00:00:00.000Z');
const DAY = 86_400_000;
const BUFFER = 60;
let seq = 0;

interface CallSpec {
  publisherId?: string;
  subSource?: string | null;
  day?: number;
  connected?: boolean;
  billableSec?: number;
  /** null: could never bill. */
  price?: number | null;
  outcome?: OutcomeStatus | null;
  revenueCents?: number;
  marginCents?: number;
  disputed?: boolean;
  creditsCents?: number;
  /** Reason when it could never bill. */
  neverReason?: ReasonCode;
}

/** A call rated at BUFFER the way the ledger would: billable iff it could bill and clears the buffer. */
function call(s: CallSpec = {}): ReportCall {
  const price = s.price === undefined ? 2000 : s.price;
  const billableSec = s.billableSec ?? 120;
  const billable = price !== null && billableSec >= BUFFER;
  const reasons: ReasonCode[] = billable ? [] : price === null ? [s.neverReason ?? 'not_connected'] : ['below_buffer'];
  const outcome = s.outcome ?? null;
  seq += 1;
  return {
    callId: `twilio:CA${seq}`,
    startedAtMs: T0 + (s.day ?? 0) * DAY + (seq % 1000) * 1000,
    campaignId: 'camp-1',
    publisherId: s.publisherId ?? 'pub-a',
    subSource: s.subSource === undefined ? null : s.subSource,
    connected: s.connected ?? price !== null,
    billableSec,
    billable,
    amountCents: billable ? price! : 0,
    reasons,
    creditsCents: billable ? (s.creditsCents ?? 0) : 0,
    disputed: s.disputed ?? false,
    outcome:
      outcome === null
        ? null
        : { externalId: `crm-${seq}`, status: outcome, revenueCents: s.revenueCents ?? 0, marginCents: s.marginCents ?? 0, occurredAt: new Date(T0).toISOString() },
    priceIfBillableCents: price,
  };
}

const many = (n: number, s: CallSpec) => Array.from({ length: n }, () => call(s));

const arbCall: fc.Arbitrary<ReportCall> = fc
  .record({
    publisherId: fc.constantFrom('pub-a', 'pub-b', 'pub-c'),
    subSource: fc.constantFrom(null, 's1', 's2'),
    day: fc.integer({ min: 0, max: 4 }),
    billableSec: fc.integer({ min: 0, max: 200 }),
    price: fc.option(fc.integer({ min: 100, max: 5000 }), { nil: null, freq: 4 }),
    outcome: fc.constantFrom<OutcomeStatus | null>(null, null, 'booked', 'closed', 'lost'),
    revenueCents: fc.integer({ min: 0, max: 100_000 }),
    marginCents: fc.integer({ min: 0, max: 50_000 }),
    disputed: fc.boolean(),
    creditShare: fc.constantFrom(0, 0, 0.5, 1),
    neverReason: fc.constantFrom<ReasonCode>('not_connected', 'duplicate_caller', 'unknown_number'),
  })
  .map((r) => {
    const c = call({ ...r, creditsCents: 0 });
    return { ...c, creditsCents: -Math.round(c.amountCents * r.creditShare), disputed: r.disputed || r.creditShare > 0 };
  });

const economics: CampaignEconomics = { avgCustomerMarginCents: 60_000, closeRate: 0.25, targetShare: 0.5 };

// ---------------------------------------------------------------- economics

describe('cost ceiling', () => {
  it('is margin × close rate for a qualified call and that × target share for the price, floored to the cent', () => {
    const c = costCeiling({ avgCustomerMarginCents: 120_000, closeRate: 0.2, targetShare: 0.5 });
    expect(c).toMatchObject({ expectedValueCents: 24_000, maxPricePerCallCents: 12_000, closeRateSource: 'entered', measuredCloseRate: null });
    expect(costCeiling({ avgCustomerMarginCents: 1_000, closeRate: 1 / 3, targetShare: 1 })).toMatchObject({ expectedValueCents: 333, maxPricePerCallCents: 333 });
    // The price comes from the exact product, not from the floored EV.
    expect(costCeiling({ avgCustomerMarginCents: 1_001, closeRate: 0.5, targetShare: 0.5 })).toMatchObject({ expectedValueCents: 500, maxPricePerCallCents: 250 });
  });

  it('floors without being fooled by binary noise', () => {
    expect(100 * 0.29).toBeLessThan(29);
    expect(floorCents(100 * 0.29)).toBe(29);
    expect(floorCents(28.6)).toBe(28);
    expect(costCeiling({ avgCustomerMarginCents: 100, closeRate: 0.29, targetShare: 1 }).maxPricePerCallCents).toBe(29);
  });

  it('measures the close rate once there are 30 billable calls and 5 closed ones, and says which rate it used', () => {
    const entered = { avgCustomerMarginCents: 60_000, closeRate: 0.25, targetShare: 0.5 };
    expect(CLOSE_RATE_MIN_SAMPLE).toEqual({ billableCalls: 30, closedCalls: 5 });
    expect(measuredCloseRate({ billableCalls: 29, closedCalls: 10 })).toBeNull();
    expect(measuredCloseRate({ billableCalls: 100, closedCalls: 4 })).toBeNull();
    const m = costCeiling(entered, { billableCalls: 40, closedCalls: 5 });
    expect(m).toMatchObject({ closeRateSource: 'measured', measuredCloseRate: 0.125, enteredCloseRate: 0.25, expectedValueCents: 7_500, maxPricePerCallCents: 3_750 });
    expect(m.economics.closeRate).toBe(0.125);
    expect(costCeiling(entered, { billableCalls: 40, closedCalls: 4 })).toMatchObject({ closeRateSource: 'entered', expectedValueCents: 15_000, maxPricePerCallCents: 7_500 });
  });

  it('validates the entered economics and the rules', () => {
    expect(CampaignEconomicsSchema.parse(economics)).toEqual(economics);
    expect(CampaignEconomicsSchema.safeParse({ ...economics, closeRate: 20 }).success).toBe(false);
    expect(CampaignEconomicsSchema.safeParse({ ...economics, avgCustomerMarginCents: 10.5 }).success).toBe(false);
    expect(CampaignEconomicsSchema.safeParse({ ...economics, extra: 1 }).success).toBe(false);
    expect(VerdictRuleSchema.safeParse({ minBillableCalls: 30, confidence: 0.95 }).success).toBe(true);
    expect(VerdictRuleSchema.safeParse({ minBillableCalls: 30, confidence: 0.93 }).success).toBe(false);
    expect(ThresholdSweepSchema.parse({})).toEqual({ min: 0, max: 600, step: 5 });
    expect(ThresholdSweepSchema.parse({ min: '30', max: '90', step: '10' })).toEqual({ min: 30, max: 90, step: 10 });
    const bad = ThresholdSweepSchema.safeParse({ min: '90', max: '30' });
    expect(bad.success ? [] : bad.error.issues.map((i) => i.path.join('.'))).toEqual(['max']);
    expect(ThresholdSweepSchema.safeParse({ min: '0', max: '86400', step: '1' }).success).toBe(false);
  });
});

// ---------------------------------------------------------------- verdict rule

describe('verdict rule', () => {
  it('uses the Wilson score interval', () => {
    const w = wilsonInterval(50, 100, 1.96);
    expect(w.low).toBeCloseTo(0.4038, 4);
    expect(w.high).toBeCloseTo(0.5962, 4);
    expect(wilsonInterval(0, 20, 1.6449).low).toBe(0);
    expect(wilsonInterval(20, 20, 1.6449).high).toBe(1);
  });

  // 100 calls, all billable, 50 booked, $1,000 net: $20 per booked job; 90 % interval on p ≈ [0.418, 0.582].
  const g = { calls: 100, billable: 100, booked: 50, netSpendCents: 100_000 };
  const rule = DEFAULT_VERDICT_RULE;

  it('scales when even the pessimistic bound is within the ceiling', () => {
    const r = recommend(g, 3_000, true, rule);
    expect(r.verdict).toBe('scale');
    expect(r.interval!.highCents).toBeLessThanOrEqual(3_000);
    expect(r.interval!.lowCents).toBeLessThan(2_000);
    expect(r.interval!.highCents).toBeGreaterThan(2_000);
  });

  it('holds when the interval straddles the ceiling', () => {
    expect(recommend(g, 2_000, true, rule).verdict).toBe('hold');
  });

  it('cuts when even the optimistic bound is above the ceiling', () => {
    expect(recommend(g, 1_500, true, rule).verdict).toBe('cut');
  });

  it('decides on the interval bounds exactly as reported', () => {
    const i = recommend(g, 0, true, rule).interval!;
    expect(recommend(g, i.highCents!, true, rule).verdict).toBe('scale');
    expect(recommend(g, i.highCents! - 1, true, rule).verdict).toBe('hold');
    expect(recommend(g, i.lowCents, true, rule).verdict).toBe('hold');
    expect(recommend(g, i.lowCents - 1, true, rule).verdict).toBe('cut');
  });

  it('never scales a source without bookings (its pessimistic cost is unbounded)', () => {
    const none = { calls: 60, billable: 60, booked: 0, netSpendCents: 120_000 };
    const r = recommend(none, 1_000_000, true, rule);
    expect(r.interval!.highCents).toBeNull();
    expect(r.verdict).toBe('hold');
    expect(recommend(none, 10_000, true, rule).verdict).toBe('cut');
  });

  it('gives no verdict on too few billable calls, without economics, or without a ceiling per booked job', () => {
    expect(recommend({ ...g, billable: 29 }, 3_000, true, rule)).toMatchObject({ verdict: 'insufficient_data', why: expect.stringContaining('29 billable calls') });
    expect(recommend(g, 3_000, true, { ...rule, minBillableCalls: 101 }).verdict).toBe('insufficient_data');
    expect(recommend(g, null, false, rule).verdict).toBe('insufficient_data');
    expect(recommend(g, null, true, rule).verdict).toBe('insufficient_data');
  });

  it('widens with the confidence level', () => {
    const i90 = recommend(g, 2_000, true, rule).interval!;
    const i99 = recommend(g, 2_000, true, { ...rule, confidence: 0.99 }).interval!;
    expect(i99.lowCents).toBeLessThan(i90.lowCents);
    expect(i99.highCents!).toBeGreaterThan(i90.highCents!);
  });
});

// ---------------------------------------------------------------- scorecard

const SUMMED: readonly (keyof SourceRow)[] = [
  'calls',
  'connected',
  'billable',
  'nonBillable',
  'duplicates',
  'disputes',
  'spendCents',
  'creditsCents',
  'netSpendCents',
  'booked',
  'closed',
  'revenueCents',
  'marginCents',
  'netMarginCents',
];

describe('source scorecard', () => {
  it('computes every metric of a source', () => {
    const calls = [
      call({ price: 2000, outcome: 'closed', revenueCents: 90_000, marginCents: 30_000 }),
      call({ price: 2000, outcome: 'booked', revenueCents: 0, marginCents: 0, disputed: true, creditsCents: -2000 }),
      call({ price: 3500, outcome: 'lost' }),
      call({ price: 2000, billableSec: 30, outcome: 'booked' }),
      call({ price: null, neverReason: 'duplicate_caller', connected: true }),
      call({ price: null, neverReason: 'not_connected', connected: false }),
    ];
    const r = buildScorecard(calls, { groupBy: 'publisher', economics });
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({
      publisherId: 'pub-a',
      subSource: '*',
      calls: 6,
      connected: 5,
      billable: 3,
      billableRate: 0.5,
      nonBillable: 3,
      duplicates: 1,
      disputes: 1,
      spendCents: 7500,
      creditsCents: -2000,
      netSpendCents: 5500,
      booked: 3,
      closed: 1,
      revenueCents: 90_000,
      marginCents: 30_000,
      netMarginCents: 24_500,
      costPerBillableCallCents: 1833,
      costPerBookedJobCents: 1833,
      costPerClosedCustomerCents: 5500,
      returnOnSpend: 5.4545,
    });
    expect(r.rows[0]!.reasons).toEqual({ ...Object.fromEntries(REASON_CODES.map((c) => [c, 0])), below_buffer: 1, duplicate_caller: 1, not_connected: 1 });
    expect(r.rows[0]!.recommendation.verdict).toBe('insufficient_data');
    expect(r.total).toMatchObject({ publisherId: '*', subSource: '*', calls: 6, netSpendCents: 5500 });
  });

  it('has null costs when there is nothing to divide by', () => {
    const r = buildScorecard([call({ price: null })], { groupBy: 'subSource', economics: null });
    expect(r.rows[0]).toMatchObject({
      subSource: null,
      billable: 0,
      costPerBillableCallCents: null,
      costPerBookedJobCents: null,
      costPerClosedCustomerCents: null,
      returnOnSpend: null,
    });
    expect(r.ceiling).toBeNull();
    expect(r.ceilingPerBookedJobCents).toBeNull();
    const empty = buildScorecard([], { groupBy: 'publisher', economics });
    expect(empty.rows).toEqual([]);
    expect(empty.total).toMatchObject({ calls: 0, billableRate: null, recommendation: { verdict: 'insufficient_data', interval: null } });
  });

  it('judges each source against the ceiling per booked job: scale the one that books, cut the one that does not', () => {
    const calls = [
      ...many(60, { publisherId: 'pub-good', outcome: 'booked' }),
      ...many(40, { publisherId: 'pub-good' }),
      ...many(1, { publisherId: 'pub-bad', outcome: 'booked' }),
      ...many(99, { publisherId: 'pub-bad' }),
      ...many(10, { publisherId: 'pub-new', outcome: 'booked' }),
    ];
    const r = buildScorecard(calls, { groupBy: 'publisher', economics });
    // Entered close rate (no closed outcomes): P = 60,000 × 0.25 × 0.5 = 7,500 per billable call.
    expect(r.ceiling).toMatchObject({ closeRateSource: 'entered', maxPricePerCallCents: 7_500 });
    expect(r.ceilingPerBookedJobCents).toBe(Math.floor((7_500 * 210) / 71));
    expect(Object.fromEntries(r.rows.map((row) => [row.publisherId, row.recommendation.verdict]))).toEqual({
      'pub-bad': 'cut',
      'pub-good': 'scale',
      'pub-new': 'insufficient_data',
    });
    expect(r.rule.statement).toContain('90% Wilson');
  });

  it('measures the close rate from the period once there are enough closed customers', () => {
    const calls = [...many(10, { outcome: 'closed' }), ...many(10, { outcome: 'booked' }), ...many(30, {})];
    const r = buildScorecard(calls, { groupBy: 'publisher', economics });
    expect(r.ceiling).toMatchObject({ closeRateSource: 'measured', measuredCloseRate: 0.2, maxPricePerCallCents: 6_000 });
    // = margin × share × closed ÷ booked
    expect(r.ceilingPerBookedJobCents).toBe(15_000);
  });

  it('groups by sub-source within a publisher, null sub-source first', () => {
    const calls = [call({ publisherId: 'pub-b', subSource: 's2' }), call({ publisherId: 'pub-b', subSource: null }), call({ publisherId: 'pub-a', subSource: 's2' }), call({ publisherId: 'pub-b', subSource: 's1' })];
    const r = buildScorecard(calls, { groupBy: 'subSource', economics });
    expect(r.rows.map((x) => [x.publisherId, x.subSource])).toEqual([
      ['pub-a', 's2'],
      ['pub-b', null],
      ['pub-b', 's1'],
      ['pub-b', 's2'],
    ]);
  });

  it('counts QA verdicts per source: reviewed calls and each verdict, in the rows, the total and the CSV', () => {
    const qa = (verdict: QaVerdict) => ({ verdict, reviewedAt: new Date(T0).toISOString(), reviewer: 'rev (analyst)' });
    const calls = [
      { ...call({ publisherId: 'pub-a' }), qa: qa('good') },
      { ...call({ publisherId: 'pub-a' }), qa: qa('fraud') },
      { ...call({ publisherId: 'pub-a' }), qa: qa('fraud') },
      { ...call({ publisherId: 'pub-a' }), qa: null },
      call({ publisherId: 'pub-a' }),
      { ...call({ publisherId: 'pub-b' }), qa: qa('wrong_number') },
    ];
    const r = buildScorecard(calls, { groupBy: 'publisher', economics });
    const zero = Object.fromEntries(QA_VERDICTS.map((v) => [v, 0]));
    expect(r.rows.map((x) => [x.publisherId, x.qaReviewed, x.qaVerdicts])).toEqual([
      ['pub-a', 3, { ...zero, good: 1, fraud: 2 }],
      ['pub-b', 1, { ...zero, wrong_number: 1 }],
    ]);
    expect(r.total.qaReviewed).toBe(4);
    expect(r.total.qaVerdicts).toEqual({ ...zero, good: 1, fraud: 2, wrong_number: 1 });
    const [header, first] = parseCsv(scorecardCsv(r));
    expect(first![header!.indexOf('qaReviewed')]).toBe('3');
    expect(first![header!.indexOf('qa_fraud')]).toBe('2');
    expect(first![header!.indexOf('qa_junk')]).toBe('0');
  });

  it('counts the signals flagged at rating per source, in the rows, the total and the CSV', () => {
    const calls = [
      { ...call({ publisherId: 'pub-a' }), signals: ['robocall_suspect', 'consent_missing'] },
      { ...call({ publisherId: 'pub-a' }), signals: ['robocall_suspect'] },
      { ...call({ publisherId: 'pub-b' }), signals: ['undisclosed_source', 'not_a_signal'] },
      call({ publisherId: 'pub-b' }),
    ];
    const r = buildScorecard(calls, { groupBy: 'publisher', economics });
    const zero = Object.fromEntries(CALL_SIGNALS.map((sig) => [sig, 0]));
    expect(r.rows.map((x) => [x.publisherId, x.signals])).toEqual([
      ['pub-a', { ...zero, robocall_suspect: 2, consent_missing: 1 }],
      ['pub-b', { ...zero, undisclosed_source: 1 }],
    ]);
    expect(r.total.signals).toEqual({ ...zero, robocall_suspect: 2, consent_missing: 1, undisclosed_source: 1 });
    const [header, first] = parseCsv(scorecardCsv(r));
    expect(first![header!.indexOf('signal_robocall_suspect')]).toBe('2');
    expect(first![header!.indexOf('signal_dnc_listed')]).toBe('0');
    // Every pub-a call is a robocall suspect: that signal at full strength scores its weight (0.8 → 80).
    expect(r.rows[0]!.fraud.score).toBe(80);
    expect(r.rows[1]!.fraud.score).toBe(0);
    expect(first![header!.indexOf('fraudScore')]).toBe('80');
  });

  it('totals are the sum of the rows, and the reasons add up to the non-billable calls (property)', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 80 }), fc.constantFrom<ScorecardOptions['groupBy']>('publisher', 'subSource'), (calls, groupBy) => {
        const r = buildScorecard(calls, { groupBy, economics });
        for (const k of SUMMED) expect(r.total[k]).toBe(r.rows.reduce((s, row) => s + (row[k] as number), 0));
        for (const code of REASON_CODES) expect(r.total.reasons[code]).toBe(r.rows.reduce((s, row) => s + row.reasons[code], 0));
        for (const row of [...r.rows, r.total]) expect(REASON_CODES.reduce((s, code) => s + row.reasons[code], 0)).toBe(row.nonBillable);
        expect(r.total.calls).toBe(calls.length);
      }),
    );
  });

  it('holds one group per source, however many calls (property)', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 120 }), fc.integer({ min: 1, max: 5 }), (calls, repeat) => {
        const s = createScorecard({ groupBy: 'subSource', economics });
        for (let i = 0; i < repeat; i++) s.addAll(calls);
        const distinct = new Set(calls.map((c) => `${c.publisherId}|${c.subSource}`)).size;
        expect(s.groups).toBe(distinct);
        expect(s.groups).toBeLessThanOrEqual(9);
        const r = s.result();
        expect(r.rows).toHaveLength(distinct);
        expect(r.total.calls).toBe(calls.length * repeat);
      }),
    );
  });

  it('over a stream equals the same over an array (property)', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 80 }), fc.constantFrom<ScorecardOptions['groupBy']>('publisher', 'subSource'), (calls, groupBy) => {
        function* stream() {
          yield* calls;
        }
        const incremental = createScorecard({ groupBy, economics });
        for (const c of calls) incremental.add(c);
        const fromArray = buildScorecard(calls, { groupBy, economics });
        expect(buildScorecard(stream(), { groupBy, economics })).toEqual(fromArray);
        expect(incremental.result()).toEqual(fromArray);
      }),
    );
  });
});

// ---------------------------------------------------------------- CSV

/** A minimal RFC 4180 reader (quoted fields, doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') record.push(field), (field = '');
    else if (ch === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += ch;
  }
  expect(field).toBe('');
  expect(record).toEqual([]);
  return records;
}

describe('scorecard CSV', () => {
  it('has a fixed header, a line per row and the total last, cents as integers, empty for null', () => {
    const r = buildScorecard([call({ outcome: 'booked' }), call({ publisherId: 'pub-b', price: null })], { groupBy: 'subSource', economics });
    const [header, ...lines] = parseCsv(scorecardCsv(r));
    expect(header).toEqual([...SCORECARD_CSV_COLUMNS]);
    expect(lines).toHaveLength(3);
    const col = (name: (typeof SCORECARD_CSV_COLUMNS)[number]) => SCORECARD_CSV_COLUMNS.indexOf(name);
    expect(lines.map((l) => [l[col('publisherId')], l[col('subSource')]])).toEqual([
      ['pub-a', ''],
      ['pub-b', ''],
      ['*', '*'],
    ]);
    expect(lines[0]![col('netSpendCents')]).toBe('2000');
    expect(lines[1]![col('costPerBillableCallCents')]).toBe('');
    expect(lines[2]![col('maxPricePerCallCents')]).toBe('7500');
    expect(scorecardCsv(r).endsWith('\r\n')).toBe(true);
  });

  it('round-trips labels and figures (property)', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 40 }), fc.string({ unit: fc.constantFrom('a', ',', '"', '\r', '\n', ' ', 'é') }), (calls, label) => {
        const labelled = calls.map((c, i) => (i % 2 === 0 ? { ...c, subSource: label } : c));
        const r = buildScorecard(labelled, { groupBy: 'subSource', economics });
        const [header, ...lines] = parseCsv(scorecardCsv(r));
        expect(header).toEqual([...SCORECARD_CSV_COLUMNS]);
        expect(lines).toHaveLength(r.rows.length + 1);
        [...r.rows, r.total].forEach((row, i) => {
          const line = lines[i]!;
          expect(line).toHaveLength(SCORECARD_CSV_COLUMNS.length);
          expect(line[1]).toBe(row.subSource ?? '');
          expect(line[SCORECARD_CSV_COLUMNS.indexOf('netSpendCents')]).toBe(String(row.netSpendCents));
          expect(line[SCORECARD_CSV_COLUMNS.indexOf('verdict')]).toBe(row.recommendation.verdict);
          expect(line.at(-1)).toBe(row.recommendation.why);
        });
      }),
    );
  });
});

// ---------------------------------------------------------------- threshold tuner

/** The tuner's figures by brute force: re-rate every call at every buffer, correlate cell by cell. */
function naiveTune(calls: readonly ReportCall[], buffers: readonly number[], rule: TunerRule) {
  const isBooked = (c: ReportCall) => c.outcome !== null && c.outcome.status !== 'lost';
  const bills = (c: ReportCall, b: number) => c.priceIfBillableCents !== null && c.billableSec >= b;
  const bookedCouldBill = calls.filter((c) => c.priceIfBillableCents !== null && isBooked(c)).length;
  const cellOf = (c: ReportCall) => `${c.publisherId}|${c.subSource}|${Math.floor(c.startedAtMs / DAY)}`;
  const cellKeys = [...new Set(calls.map(cellOf))];
  const pearson = (xs: number[], ys: number[]): number | null => {
    const n = xs.length;
    if (n < 3) return null;
    const mx = xs.reduce((s, v) => s + v, 0) / n;
    const my = ys.reduce((s, v) => s + v, 0) / n;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      sxy += (xs[i]! - mx) * (ys[i]! - my);
      sxx += (xs[i]! - mx) ** 2;
      syy += (ys[i]! - my) ** 2;
    }
    return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
  };
  const rows = buffers.map((b) => {
    const billed = calls.filter((c) => bills(c, b));
    const spend = billed.reduce((s, c) => s + c.priceIfBillableCents!, 0);
    const captured = billed.filter(isBooked).length;
    return {
      bufferSec: b,
      billableCalls: billed.length,
      spendCents: spend,
      bookedCaptured: captured,
      bookedNotBilled: calls.filter((c) => c.priceIfBillableCents !== null && isBooked(c) && !bills(c, b)).length,
      spendNeverBookedCents: billed.filter((c) => !isBooked(c)).reduce((s, c) => s + c.priceIfBillableCents!, 0),
      costPerBookedJobCents: captured === 0 ? null : Math.round(spend / captured),
      captureShare: bookedCouldBill === 0 ? null : captured / bookedCouldBill,
      coMovement: pearson(
        cellKeys.map((k) => calls.filter((c) => cellOf(c) === k && bills(c, b)).length),
        cellKeys.map((k) => calls.filter((c) => cellOf(c) === k && isBooked(c)).length),
      ),
    };
  });
  let best: (typeof rows)[number] | null = null;
  if (bookedCouldBill >= rule.minBookedJobs) {
    for (const r of rows) {
      if (r.costPerBookedJobCents === null || r.bookedCaptured < rule.minCaptureShare * bookedCouldBill - 1e-9) continue;
      if (best === null || r.costPerBookedJobCents < best.costPerBookedJobCents!) best = r;
    }
  }
  return { rows, recommendedBufferSec: best?.bufferSec ?? null };
}

const arbSweep = fc
  .record({ min: fc.integer({ min: 0, max: 150 }), span: fc.integer({ min: 0, max: 150 }), step: fc.integer({ min: 1, max: 40 }), current: fc.integer({ min: 0, max: 250 }) })
  .map(({ min, span, step, current }) => ({ min, max: min + span, step, currentBufferSec: current }));

describe('threshold tuner', () => {
  it('equals a brute-force re-rating at every candidate buffer (property)', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 60 }), arbSweep, fc.constantFrom<TunerRule>(DEFAULT_TUNER_RULE, { minCaptureShare: 0.5, minBookedJobs: 1 }), (calls, sweep, rule) => {
        const t = tuneThreshold(calls, { ...sweep, rule });
        const naive = naiveTune(calls, candidateBuffers(sweep), rule);
        expect(t.rows).toHaveLength(naive.rows.length);
        t.rows.forEach((row, i) => {
          const n = naive.rows[i]!;
          const { coMovement, captureShare, ...exact } = row;
          const { coMovement: nCo, captureShare: nShare, ...nExact } = n;
          expect(exact).toEqual(nExact);
          if (nShare === null) expect(captureShare).toBeNull();
          else expect(captureShare).toBeCloseTo(nShare, 4);
          if (nCo === null) expect(coMovement).toBeNull();
          else expect(coMovement).toBeCloseTo(nCo, 3);
        });
        expect(t.recommended?.bufferSec ?? null).toBe(naive.recommendedBufferSec);
        const current = naiveTune(calls, [sweep.currentBufferSec], rule).rows[0]!;
        expect(t.current).toMatchObject({ bufferSec: sweep.currentBufferSec, billableCalls: current.billableCalls, spendCents: current.spendCents, bookedCaptured: current.bookedCaptured });
      }),
    );
  });

  it('never bills more calls or spends more when the buffer rises (property)', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 80 }), arbSweep, (calls, sweep) => {
        const { rows } = tuneThreshold(calls, sweep);
        for (let i = 1; i < rows.length; i++) {
          expect(rows[i]!.billableCalls).toBeLessThanOrEqual(rows[i - 1]!.billableCalls);
          expect(rows[i]!.spendCents).toBeLessThanOrEqual(rows[i - 1]!.spendCents);
          expect(rows[i]!.bookedCaptured).toBeLessThanOrEqual(rows[i - 1]!.bookedCaptured);
          expect(rows[i]!.bookedCaptured + rows[i]!.bookedNotBilled).toBe(rows[0]!.bookedCaptured + rows[0]!.bookedNotBilled);
        }
      }),
    );
  });

  it('gives the same answer over a stream as over an array', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 60 }), arbSweep, (calls, sweep) => {
        function* stream() {
          yield* calls;
        }
        expect(tuneThreshold(stream(), sweep)).toEqual(tuneThreshold(calls, sweep));
      }),
    );
  });

  it('recommends the cheapest buffer per booked job that keeps 90 % of the booked jobs, with the current one beside it', () => {
    // Booked jobs last 100 s or more; hang-ups under 45 s never book. Buffers 0..150 by 15.
    const calls = [
      ...many(50, { billableSec: 10, price: 2000 }),
      ...many(30, { billableSec: 40, price: 2000 }),
      ...many(20, { billableSec: 100, price: 2000, outcome: 'booked' }),
      ...many(2, { billableSec: 130, price: 2000, outcome: 'booked' }),
      ...many(8, { billableSec: 140, price: 2000 }),
      ...many(3, { price: null, outcome: 'booked' }),
    ];
    const t = tuneThreshold(calls, { min: 0, max: 150, step: 15, currentBufferSec: 30 });
    expect(t.totals).toMatchObject({ calls: 113, couldBill: 110, bookedJobs: 25, bookedCouldBill: 22, bookedNeverBillable: 3 });
    // 45..90 s all bill the same 30 calls (22 booked): the lowest such buffer wins the tie.
    expect(t.recommended).toMatchObject({ bufferSec: 45, billableCalls: 30, spendCents: 60_000, bookedCaptured: 22, bookedNotBilled: 0, spendNeverBookedCents: 16_000, costPerBookedJobCents: 2727 });
    expect(t.current).toMatchObject({ bufferSec: 30, billableCalls: 60, costPerBookedJobCents: 5455 });
    // 105 s pays for only 2 of the 22.
    expect(t.rows.find((r) => r.bufferSec === 105)).toMatchObject({ bookedCaptured: 2, bookedNotBilled: 20, captureShare: 0.0909 });
    expect(t.why).toContain('45 s');
  });

  it('shows the current buffer even off the grid, and recommends nothing on too few booked jobs', () => {
    const calls = [...many(5, { billableSec: 100, outcome: 'booked' }), ...many(5, { billableSec: 10 })];
    const t = tuneThreshold(calls, { min: 0, max: 60, step: 20, currentBufferSec: 90 });
    expect(t.rows.map((r) => r.bufferSec)).toEqual([0, 20, 40, 60]);
    expect(t.current).toMatchObject({ bufferSec: 90, billableCalls: 5, bookedCaptured: 5 });
    expect(t.recommended).toBeNull();
    expect(t.why).toContain('fewer than the 10');
  });

  it('measures co-movement across days and sources', () => {
    // Each day books as many jobs as it has long calls; short calls are noise that grows while bookings fall.
    const calls = [0, 1, 2, 3].flatMap((day) => [
      ...many(day + 1, { day, billableSec: 200, outcome: 'booked' }),
      ...many(10 - 2 * day, { day, billableSec: 20 }),
    ]);
    const t = tuneThreshold(calls, { min: 0, max: 100, step: 100, currentBufferSec: 0 });
    expect(t.totals.cells).toBe(4);
    expect(t.rows[0]!.coMovement).toBe(-1);
    expect(t.rows[1]!.coMovement).toBe(1);
  });

  it('groups co-movement cells by the day the caller says, and gives it up past maxCells', () => {
    const calls = [0, 1, 2, 3].flatMap((day) => [...many(day + 1, { day, billableSec: 200, outcome: 'booked' }), ...many(3, { day, publisherId: `pub-${day}` })]);
    const sweep = { min: 0, max: 100, step: 100, currentBufferSec: 0 };
    expect(tuneThreshold(calls, sweep)).toMatchObject({ totals: { cells: 8 }, coMovementNote: null });
    expect(tuneThreshold(calls, { ...sweep, dayOf: () => 0 }).totals.cells).toBe(5);
    const capped = tuneThreshold(calls, { ...sweep, maxCells: 5 });
    expect(capped.coMovementNote).toContain('More than 5');
    expect(capped.rows.map((r) => r.coMovement)).toEqual([null, null]);
    const { coMovement: _a, ...full } = tuneThreshold(calls, sweep).rows[1]!;
    const { coMovement: _b, ...cappedRow } = capped.rows[1]!;
    expect(cappedRow).toEqual(full);
  });

  it('refuses a sweep it cannot run, naming the field', () => {
    const fields = (o: { min: number; max: number; step: number }) => {
      try {
        tuneThreshold([], { ...o, currentBufferSec: 0 });
      } catch (err) {
        if (err instanceof DomainError && err.kind === 'refused' && err.code === 'unprocessable') return (err.errors ?? []).map((e) => e.field);
        throw err;
      }
      return [];
    };
    expect(fields({ min: 90, max: 30, step: 5 })).toEqual(['max']);
    expect(fields({ min: 0, max: 600, step: 0 })).toEqual(['step']);
    expect(fields({ min: -1, max: 600, step: 5 })).toEqual(['min']);
    expect(fields({ min: 0, max: 86_400, step: 1 })).toEqual(['step']);
    expect(fields({ min: 0, max: 600, step: 5 })).toEqual([]);
  });
});
