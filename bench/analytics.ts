/**
 * The issue-5 reports at scale: the source scorecard and the threshold tuner over 1,000,000 synthetic calls.
 * Part of `npm run bench` (phase X, after the stack has stopped), or alone, without the stack:
 *
 *   npm run bench -- analytics [--analytics-calls 1000000]
 *
 * Compute time is measured over a materialised array (generation excluded), as the median of several runs after
 * warm-up, and printed as a ratio to a BASELINE measured in the same run over the same array: one plain pass
 * summing a field (`billableSec`), i.e. the least any report over those calls could cost. Memory is measured over
 * a GENERATOR that yields the calls one at a time (nothing materialised), as heap in use plus ArrayBuffers: the
 * peak above the start, sampled every 10,000 calls (young garbage included, so the generator alone is measured
 * too, as the floor), and the LIVE state mid-pass, i.e. after a full GC taken at each quarter of the pass. At two
 * sizes (1/10 and all the calls) the live state shows it depends on the groups, not on the calls. GC is reached
 * through V8's flag (as `--expose-gc` would), since `npm run bench` starts tsx without it. A run over 1,000,000
 * calls takes about 10 s. Figures are printed; only the full bench writes them to bench/results.json.
 *
 * The synthetic calls are seeded (same calls every run): 90 days in time order, 8 publishers with 0–4
 * sub-sources and their own connect rates and quality, durations from a mixture (hang-ups, short calls,
 * log-normal conversations), bookings more likely the longer the call, priced in two bands ($20 under 120 s, $35
 * from 120 s), rated at a 90 s buffer with duplicates, unknown numbers, disputes and credits.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CallOutcome, ReportCall } from '../shared/domain/reports/analytics';
import { marshall } from '@aws-sdk/util-dynamodb';
import { contributionDelta, contributionOf, dayNumber } from '../shared/domain/reports/aggregates';
import { itemSizeBytes } from '../shared/adapters/platform/dynamodb/capacity';
import { aggregateKeys } from '../shared/adapters/reports/aggregate-repo';
import { buildScorecard, createScorecard, type ScorecardResult } from '../shared/domain/reports/scorecard';
import { createThresholdTuner, tuneThreshold, type ThresholdTuning } from '../shared/domain/reports/threshold-tuner';
import type { ReasonCode } from '../shared/domain/rating/decision';
import { median, round } from './instrument';
import { mulberry32 } from '../events/prng';

// ------------------------------------------------------------------ synthetic calls

const DAY_MS = 86_400_000;
const START_MS = Date.parse('2025-01-01T00:00:00.000Z');
const SPAN_DAYS = 90;
const BUFFER_SEC = 90;

interface SourceProfile {
  readonly publisherId: string;
  readonly subSources: readonly (string | null)[];
  readonly weight: number;
  readonly connectRate: number;
  /** Multiplies the booking probability. */
  readonly quality: number;
  /** Share of connected calls that hang up within seconds. */
  readonly hangUpRate: number;
}

const PROFILES: readonly SourceProfile[] = [
  { publisherId: 'pub-search', subSources: ['brand', 'generic', 'local'], weight: 5, connectRate: 0.92, quality: 1.2, hangUpRate: 0.15 },
  { publisherId: 'pub-social', subSources: ['fb-1', 'fb-2', 'ig', 'tt'], weight: 4, connectRate: 0.8, quality: 0.7, hangUpRate: 0.35 },
  { publisherId: 'pub-seo', subSources: [null], weight: 2, connectRate: 0.95, quality: 1.4, hangUpRate: 0.1 },
  { publisherId: 'pub-compare', subSources: ['a', 'b'], weight: 3, connectRate: 0.9, quality: 1.0, hangUpRate: 0.2 },
  { publisherId: 'pub-affiliate', subSources: ['sub-1', 'sub-2', 'sub-3', 'sub-4'], weight: 3, connectRate: 0.75, quality: 0.5, hangUpRate: 0.4 },
  { publisherId: 'pub-network', subSources: [null, 'x', 'y'], weight: 2, connectRate: 0.85, quality: 0.9, hangUpRate: 0.25 },
  { publisherId: 'pub-outbound', subSources: [null], weight: 1, connectRate: 0.7, quality: 0.3, hangUpRate: 0.5 },
  { publisherId: 'pub-local', subSources: ['north', 'south'], weight: 1, connectRate: 0.93, quality: 1.1, hangUpRate: 0.12 },
];


const NO_REASONS: readonly ReasonCode[] = Object.freeze([]);
const REASONS = {
  not_connected: Object.freeze(['not_connected'] as ReasonCode[]),
  duplicate_caller: Object.freeze(['duplicate_caller'] as ReasonCode[]),
  unknown_number: Object.freeze(['unknown_number'] as ReasonCode[]),
  below_buffer: Object.freeze(['below_buffer'] as ReasonCode[]),
};

/** `count` seeded synthetic calls, generated one at a time (nothing is kept). */
export function* syntheticCalls(count: number, seed = 5150): Generator<ReportCall> {
  const rand = mulberry32(seed);
  const totalWeight = PROFILES.reduce((s, p) => s + p.weight, 0);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const stepMs = (SPAN_DAYS * DAY_MS) / count;
  for (let i = 0; i < count; i++) {
    let pick = rand() * totalWeight;
    let p = PROFILES[0]!;
    for (const candidate of PROFILES) {
      p = candidate;
      if ((pick -= candidate.weight) < 0) break;
    }
    const subSource = p.subSources[Math.floor(rand() * p.subSources.length)]!;
    const startedAtMs = START_MS + Math.floor(i * stepMs);
    const connected = rand() < p.connectRate;
    let billableSec = 0;
    if (connected) {
      const r = rand();
      if (r < p.hangUpRate) billableSec = Math.floor(-12 * Math.log(1 - rand()));
      else if (r < p.hangUpRate + 0.2) billableSec = 20 + Math.floor(rand() * 70);
      else billableSec = Math.min(3600, Math.round(Math.exp(Math.log(240) + 0.6 * gauss())));
    }
    const kind = rand();
    const neverBills = !connected ? REASONS.not_connected : kind < 0.04 ? REASONS.duplicate_caller : kind < 0.045 ? REASONS.unknown_number : null;
    const priceIfBillableCents = neverBills !== null ? null : billableSec >= 120 ? 3500 : 2000;
    const billable = priceIfBillableCents !== null && billableSec >= BUFFER_SEC;
    const amountCents = billable ? priceIfBillableCents : 0;
    const disputed = billable && rand() < 0.02;
    const creditsCents = disputed && rand() < 0.5 ? -amountCents : 0;
    // Bookings rise with the conversation's length (a logistic around 150 s), scaled by the source's quality.
    let outcome: CallOutcome | null = null;
    if (connected) {
      const pBook = Math.min(0.95, (p.quality * 0.45) / (1 + Math.exp(-(billableSec - 150) / 30)));
      const r = rand();
      if (r < pBook) {
        const closed = rand() < 0.35;
        const revenueCents = closed ? 150_000 + Math.floor(rand() * 300_000) : 0;
        outcome = {
          externalId: `crm-${i}`,
          status: closed ? 'closed' : 'booked',
          revenueCents,
          marginCents: Math.round(revenueCents * 0.4),
          occurredAt: '2025-04-01T00:00:00.000Z',
        };
      } else if (r < pBook + 0.1) {
        outcome = { externalId: `crm-${i}`, status: 'lost', revenueCents: 0, marginCents: 0, occurredAt: '2025-04-01T00:00:00.000Z' };
      }
    }
    yield {
      callId: `twilio:CA${i.toString(16).padStart(32, '0')}`,
      startedAtMs,
      campaignId: 'camp-bench',
      publisherId: p.publisherId,
      subSource,
      connected,
      billableSec,
      billable,
      amountCents,
      reasons: billable ? NO_REASONS : (neverBills ?? REASONS.below_buffer),
      creditsCents,
      disputed,
      outcome,
      priceIfBillableCents,
    };
  }
}

// ------------------------------------------------------------------ measurement

let gcFn: (() => void) | undefined;
/** A full GC (V8's --expose-gc, switched on from inside the process). */
function gc(): void {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

/** JS heap in use plus ArrayBuffer backing stores (typed arrays over 64 bytes live outside the heap). */
const heapUsed = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const mb = (bytes: number) => round(bytes / 2 ** 20, 1);

interface Timing<T> {
  /** Median of the measured runs. */
  ms: number;
  runsMs: number[];
  last: T;
}

/**
 * Median wall time of each function over `runs` rounds after `warmups` unmeasured ones. The functions take turns
 * within a round, so a neighbour loading the machine weighs on the baseline and on the measured code alike.
 */
function timedTogether<T extends readonly (() => unknown)[]>(fns: T, runs: number, warmups = 2): { [K in keyof T]: Timing<ReturnType<T[K]>> } {
  const last: unknown[] = fns.map(() => undefined);
  const runsMs: number[][] = fns.map(() => []);
  for (let round_ = 0; round_ < warmups + runs; round_++) {
    fns.forEach((fn, i) => {
      const t = performance.now();
      last[i] = fn();
      if (round_ >= warmups) runsMs[i]!.push(round(performance.now() - t, 2));
    });
  }
  return fns.map((_, i) => ({ ms: median(runsMs[i]!), runsMs: runsMs[i]!, last: last[i] })) as { [K in keyof T]: Timing<ReturnType<T[K]>> };
}

interface StreamMemory {
  calls: number;
  /** Wall time of a pass over a fresh generator (generation included), without the heap sampling. */
  ms: number;
  /** Highest heap in use during the pass, above the heap before it (young garbage included). */
  peakAboveStartMb: number;
  /** Heap in use after a full GC taken at each quarter of the pass, above the heap before it: the pass's live state. */
  liveDuringPassKb: number;
  /** Heap still in use after the pass and a full GC, with the result alive, above the heap before it. */
  retainedKb: number;
}

/**
 * Consumes a fresh generator of `calls` calls with `consume` twice: once timed, once sampling the heap every
 * 10,000 calls and taking a full GC at each quarter (so the live state of the consumer is measured mid-pass).
 */
function streamMemory<T>(calls: number, consume: (calls: Iterable<ReportCall>) => T): StreamMemory & { result: T } {
  gc();
  let t = performance.now();
  consume(syntheticCalls(calls));
  const ms = round(performance.now() - t, 1);
  gc();
  const before = heapUsed();
  let peak = before;
  let live = before;
  const quarter = Math.max(1, Math.floor(calls / 4));
  function* sampled(): Generator<ReportCall> {
    let i = 0;
    for (const c of syntheticCalls(calls)) {
      i += 1;
      if (i % 10_000 === 0) peak = Math.max(peak, heapUsed());
      if (i % quarter === 0) {
        gc();
        live = Math.max(live, heapUsed());
      }
      yield c;
    }
  }
  t = performance.now();
  const result = consume(sampled());
  peak = Math.max(peak, heapUsed());
  gc();
  const kb = (bytes: number) => round(Math.max(0, bytes) / 1024, 1);
  return { calls, ms, peakAboveStartMb: mb(peak - before), liveDuringPassKb: kb(live - before), retainedKb: kb(heapUsed() - before), result };
}

export interface AnalyticsFigures {
  calls: number;
  thresholds: number;
  groups: { publishers: number; subSources: number; dayCells: number };
  generateArrayMs: number;
  arrayHeapMb: number;
  baselineMs: number;
  baselineRunsMs: number[];
  tuner: { ms: number; runsMs: number[]; ratioToBaseline: number; recommendedBufferSec: number | null; currentBufferSec: number; costPerBookedAtCurrentCents: number | null; costPerBookedAtRecommendedCents: number | null };
  scorecard: { ms: number; runsMs: number[]; ratioToBaseline: number; verdicts: Record<string, number> };
  /**
   * The same two reports from daily aggregates (shared/domain/reports/aggregates.ts): the calls' contributions summed into
   * (day, source) items once (what the aggregator keeps incrementally), then both reports folded from the items.
   */
  aggregates: {
    items: number;
    buildMs: number;
    ms: number;
    runsMs: number[];
    ratioToBaseline: number;
    equal: boolean;
    /** Bytes a report of the period reads: the items as stored (aggregate-repo.ts keys and attributes). */
    itemBytes: number;
    /** The same period read call by call from the campaign index, at CALL_ITEM_BYTES per call. */
    callBytes: number;
    /** Query read units, eventually consistent (0.5 per 4 KB of items read). */
    itemReadUnits: number;
    callReadUnits: number;
  };
  stream: {
    generatorOnly: StreamMemory;
    scorecard: StreamMemory;
    scorecardSmall: StreamMemory;
    tuner: StreamMemory;
    tunerSmall: StreamMemory;
  };
}

/** $1,200 margin, 20 % entered close rate (the period measures its own), 30 % of margin spent on acquisition. */
const BENCH_ECONOMICS = { avgCustomerMarginCents: 120_000, closeRate: 0.2, targetShare: 0.3 };

export const SWEEP = { min: 0, max: 595, step: 5, currentBufferSec: BUFFER_SEC } as const;

/** A rated call item as the campaign index (gsi3, ALL) returns it: 1000 B, measured (test/int/platform/capacity.int.test.ts). */
const CALL_ITEM_BYTES = 1000;
const readUnits = (bytes: number) => Math.ceil(bytes / 4096) * 0.5;

export function runAnalyticsBench(calls: number, progress: (line: string) => void): AnalyticsFigures {
  const small = Math.max(1, Math.floor(calls / 10));
  const runs = 7;
  const thresholds = Math.floor((SWEEP.max - SWEEP.min) / SWEEP.step) + 1;

  // ---- compute, over an array
  gc();
  const heapBefore = heapUsed();
  let t = performance.now();
  let array: ReportCall[] | null = Array.from(syntheticCalls(calls));
  const generateArrayMs = round(performance.now() - t, 1);
  gc();
  const arrayHeapMb = mb(heapUsed() - heapBefore);
  progress(`X. analytics: ${calls.toLocaleString('en-US')} synthetic calls generated in ${generateArrayMs} ms (${arrayHeapMb} MB as an array)`);
  const arr = array;

  const [baseline, tuner, scorecard] = timedTogether(
    [
      () => {
        let s = 0;
        for (const c of arr) s += c.billableSec;
        return s;
      },
      () => tuneThreshold(arr, SWEEP),
      () => buildScorecard(arr, { groupBy: 'subSource', economics: BENCH_ECONOMICS }),
    ] as const,
    runs,
  );
  progress(`   baseline (one pass summing billableSec): ${baseline.ms} ms (median of ${runs}, taking turns with the two below)`);
  const tuning: ThresholdTuning = tuner.last;
  progress(
    `   threshold sweep, ${thresholds} buffers: ${tuner.ms} ms (${round(tuner.ms / baseline.ms, 1)}× baseline); recommended ${tuning.recommended?.bufferSec ?? 'none'} s, current ${SWEEP.currentBufferSec} s`,
  );

  const card: ScorecardResult = scorecard.last;
  const verdicts: Record<string, number> = {};
  for (const r of card.rows) verdicts[r.recommendation.verdict] = (verdicts[r.recommendation.verdict] ?? 0) + 1;
  progress(`   scorecard by sub-source (${card.rows.length} rows): ${scorecard.ms} ms (${round(scorecard.ms / baseline.ms, 1)}× baseline); verdicts ${JSON.stringify(verdicts)}`);

  // ---- the same reports from daily aggregates: items built once (the aggregator's work, spread over the calls' life)
  t = performance.now();
  const items = new Map<string, { kind: string; publisherId: string; subSource: string | null; day: string; counts: Record<string, number> }>();
  for (const c of arr) {
    for (const d of contributionDelta(null, contributionOf('acct-bench', c, 'UTC'))) {
      const key = `${d.kind}|${d.day}|${d.publisherId}|${d.subSource}|${d.part}`;
      let item = items.get(key);
      if (item === undefined) items.set(key, (item = { kind: d.kind, publisherId: d.publisherId, subSource: d.subSource, day: d.day, counts: {} }));
      for (const [name, v] of Object.entries(d.add)) item.counts[name] = (item.counts[name] ?? 0) + v;
    }
  }
  const buildMs = round(performance.now() - t, 1);
  const itemList = [...items.values()];
  let itemBytes = 0;
  for (const [key, i] of items) {
    const part = key.slice(key.lastIndexOf('|') + 1);
    const stored = {
      pk: aggregateKeys.cellPk('acct-bench', 'camp-bench', i.kind === 'card' ? 'card' : 'tune'),
      sk: aggregateKeys.cellSk(i.day, i.publisherId, i.subSource, part),
      day: i.day,
      pub: i.publisherId,
      sub: i.subSource,
      ...i.counts,
    };
    itemBytes += itemSizeBytes(marshall(stored));
  }
  const callBytes = arr.length * CALL_ITEM_BYTES;
  const [, fromItems] = timedTogether(
    [
      () => {
        let s = 0;
        for (const c of arr) s += c.billableSec;
        return s;
      },
      () => {
        const sc = createScorecard({ groupBy: 'subSource', economics: BENCH_ECONOMICS });
        const tn = createThresholdTuner(SWEEP);
        for (const i of itemList) {
          if (i.kind === 'card') sc.addCounts(i.publisherId, i.subSource, i.counts);
          else tn.addCell({ publisherId: i.publisherId, subSource: i.subSource, day: dayNumber(i.day), counts: i.counts });
        }
        return { card: sc.result(), tuning: tn.result() };
      },
    ] as const,
    runs,
  );
  const equal = JSON.stringify(fromItems.last.card) === JSON.stringify(card) && JSON.stringify(fromItems.last.tuning) === JSON.stringify(tuning);
  progress(
    `   from daily aggregates (${itemList.length.toLocaleString('en-US')} items, built in ${buildMs} ms): scorecard + sweep ${fromItems.ms} ms ` +
      `(${round(fromItems.ms / baseline.ms, 3)}× the baseline pass over the calls); results equal to the per-call reports: ${equal ? 'yes' : 'NO'}; ` +
      `reads ${mb(itemBytes)} MB (${readUnits(itemBytes).toLocaleString('en-US')} read units) instead of ${mb(callBytes)} MB (${readUnits(callBytes).toLocaleString('en-US')}) call by call`,
  );

  array = null;
  arr.length = 0;

  // ---- memory, over a generator (nothing materialised)
  const economics = BENCH_ECONOMICS;
  const generatorOnly = streamMemory(calls, (cs) => {
    let n = 0;
    for (const _ of cs) n++;
    return n;
  });
  const scorecardSmall = streamMemory(small, (cs) => buildScorecard(cs, { groupBy: 'subSource', economics }));
  const scorecardStream = streamMemory(calls, (cs) => buildScorecard(cs, { groupBy: 'subSource', economics }));
  const tunerSmall = streamMemory(small, (cs) => tuneThreshold(cs, SWEEP));
  const tunerStream = streamMemory(calls, (cs) => tuneThreshold(cs, SWEEP));
  const strip = ({ result: _result, ...m }: StreamMemory & { result: unknown }): StreamMemory => m;
  progress(
    `   streamed (generator, nothing kept): generator alone peak +${generatorOnly.peakAboveStartMb} MB; ` +
      `scorecard ${scorecardStream.ms} ms, peak +${scorecardStream.peakAboveStartMb} MB, live ${scorecardStream.liveDuringPassKb} KB (${scorecardSmall.liveDuringPassKb} KB at ${small.toLocaleString('en-US')} calls); ` +
      `tuner ${tunerStream.ms} ms, peak +${tunerStream.peakAboveStartMb} MB, live ${tunerStream.liveDuringPassKb} KB (${tunerSmall.liveDuringPassKb} KB at ${small.toLocaleString('en-US')} calls)`,
  );

  return {
    calls,
    thresholds,
    groups: {
      publishers: new Set(card.rows.map((r) => r.publisherId)).size,
      subSources: card.rows.length,
      dayCells: tuning.totals.cells,
    },
    generateArrayMs,
    arrayHeapMb,
    baselineMs: baseline.ms,
    baselineRunsMs: baseline.runsMs,
    tuner: {
      ms: tuner.ms,
      runsMs: tuner.runsMs,
      ratioToBaseline: round(tuner.ms / baseline.ms, 2),
      recommendedBufferSec: tuning.recommended?.bufferSec ?? null,
      currentBufferSec: SWEEP.currentBufferSec,
      costPerBookedAtCurrentCents: tuning.current.costPerBookedJobCents,
      costPerBookedAtRecommendedCents: tuning.recommended?.costPerBookedJobCents ?? null,
    },
    scorecard: { ms: scorecard.ms, runsMs: scorecard.runsMs, ratioToBaseline: round(scorecard.ms / baseline.ms, 2), verdicts },
    aggregates: {
      items: itemList.length,
      buildMs,
      ms: fromItems.ms,
      runsMs: fromItems.runsMs,
      ratioToBaseline: round(fromItems.ms / baseline.ms, 3),
      equal,
      itemBytes,
      callBytes,
      itemReadUnits: readUnits(itemBytes),
      callReadUnits: readUnits(callBytes),
    },
    stream: {
      generatorOnly: strip(generatorOnly),
      scorecard: strip(scorecardStream),
      scorecardSmall: strip(scorecardSmall),
      tuner: strip(tunerStream),
      tunerSmall: strip(tunerSmall),
    },
  };
}

// ------------------------------------------------------------------ report

export const ANALYTICS_TARGETS = { sweepMs: 1000 };

/** Rows for the bench's table (same shape as run.ts's). */
export function analyticsTargetRows(a: AnalyticsFigures): { figure: string; measured: string; target: string; met: boolean | null }[] {
  const n = a.calls.toLocaleString('en-US');
  const small = a.stream.scorecardSmall.calls.toLocaleString('en-US');
  return [
    { figure: `baseline: one pass over ${n} calls summing a field`, measured: `${a.baselineMs} ms`, target: '', met: null },
    {
      figure: `threshold sweep, ${n} calls × ${a.thresholds} buffers (array)`,
      measured: `${a.tuner.ms} ms (${a.tuner.ratioToBaseline}× baseline)`,
      target: `< ${ANALYTICS_TARGETS.sweepMs} ms`,
      met: a.tuner.ms < ANALYTICS_TARGETS.sweepMs,
    },
    { figure: `scorecard by sub-source, ${n} calls (array)`, measured: `${a.scorecard.ms} ms (${a.scorecard.ratioToBaseline}× baseline)`, target: '', met: null },
    {
      figure: `scorecard + sweep from daily aggregates (${a.aggregates.items.toLocaleString('en-US')} day × source items)`,
      measured: `${a.aggregates.ms} ms (${a.aggregates.ratioToBaseline}× baseline); equal to the per-call reports: ${a.aggregates.equal ? 'yes' : 'NO'}`,
      target: 'equal',
      met: a.aggregates.equal,
    },
    {
      figure: `read for the period: daily aggregates vs the calls (index, ${CALL_ITEM_BYTES} B each)`,
      measured: `${mb(a.aggregates.itemBytes)} MB, ${a.aggregates.itemReadUnits.toLocaleString('en-US')} RRU vs ${mb(a.aggregates.callBytes)} MB, ${a.aggregates.callReadUnits.toLocaleString('en-US')} RRU (${round(a.aggregates.callBytes / a.aggregates.itemBytes, 1)}× less)`,
      target: '',
      met: null,
    },
    { figure: `${n} calls held as an array`, measured: `${a.arrayHeapMb} MB heap`, target: '', met: null },
    {
      figure: `streamed: the generator alone (the floor): time; heap peak / live mid-pass`,
      measured: `${a.stream.generatorOnly.ms} ms; +${a.stream.generatorOnly.peakAboveStartMb} MB / ${a.stream.generatorOnly.liveDuringPassKb} KB`,
      target: '',
      met: null,
    },
    {
      figure: `streamed scorecard (${a.groups.subSources} groups): time; heap peak / live mid-pass`,
      measured: `${a.stream.scorecard.ms} ms; +${a.stream.scorecard.peakAboveStartMb} MB / ${a.stream.scorecard.liveDuringPassKb} KB (${a.stream.scorecardSmall.liveDuringPassKb} KB at ${small})`,
      target: 'live ∝ groups, not calls',
      met: null,
    },
    {
      figure: `streamed tuner (${a.groups.dayCells} day×source cells): time; heap peak / live mid-pass`,
      measured: `${a.stream.tuner.ms} ms; +${a.stream.tuner.peakAboveStartMb} MB / ${a.stream.tuner.liveDuringPassKb} KB (${a.stream.tunerSmall.liveDuringPassKb} KB at ${small})`,
      target: 'live ∝ cells × buffers, not calls',
      met: null,
    },
  ];
}
