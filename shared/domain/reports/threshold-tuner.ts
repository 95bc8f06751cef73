/**
 * The threshold tuner: what the period's calls would have cost, and which booked jobs they would have
 * paid for, under every candidate buffer. Pure re-rating: nothing is written, no contract is read; each call
 * carries the price it would bill at (`priceIfBillableCents`, null when no buffer could make it bill).
 *
 *   billable at buffer B  ⇔  priceIfBillableCents !== null  and  billableSec ≥ B
 *
 * One pass, no sort. Candidates are T = {min, min+step, …, ≤ max} plus the current buffer, ascending. A call with
 * billableSec s bills at exactly the candidates t ≤ s, i.e. at the first j(s) of them, so it is counted once in
 * bucket j(s) (a lookup table by whole second gives j: billableSec is compared with whole-second buffers, so
 * s ≥ t ⇔ ⌊s⌋ ≥ t). Then a suffix sum over the buckets gives every candidate's figures: billable at T[k] =
 * Σ bucket[j] for j > k. Time O(n + |T|), memory O(|T|) for the figures.
 *
 * Per candidate: billable calls, spend (Σ priceIfBillableCents), booked jobs captured (booked or closed outcome on
 * a call that bills), booked jobs not billed (booked calls that could bill at a lower buffer but do not at this
 * one; booked calls no buffer could bill are reported once, apart, as `bookedNeverBillable`), spend on calls that
 * never booked, cost per booked job = spend ÷ booked captured (cents, rounded; null when none captured), the
 * capture share = captured ÷ booked jobs that could bill at all.
 *
 * Co-movement (co-movement.ts): the Pearson correlation, across (day, source) cells, between a cell's billable calls at the
 * candidate and its booked jobs (every booked job of the cell, billable or not: bookings are what billing should
 * track). A source is publisherId + sub-source; a day is the UTC day of startedAtMs unless `dayOf` says otherwise
 * (e.g. the account's zone). Every cell with a call counts. Each cell keeps one 32-bit count per bucket, so memory
 * is O(cells × |T|) (1,800 cells × 122 buckets ≈ 0.9 MB) and the correlations cost O(cells × |T|) after the pass:
 * independent of the number of calls. null when fewer than 3 cells or either side does not vary. Past `maxCells`
 * (by default as many as MAX_CELL_COUNTS = 6,000,000 counts allow: ≈ 24 MB, 49,000 cells at 120 candidates) the
 * cells are dropped and co-movement is null, with a note, so a huge period or sweep cannot exhaust a function's
 * memory; every other figure is unaffected.
 *
 * THE RULE (`DEFAULT_TUNER_RULE`): among the grid's candidates (the current buffer is shown, not a candidate
 * unless it is on the grid), keep those that capture at least `minCaptureShare` (90 %) of the booked jobs that
 * could bill; recommend the one with the lowest cost per booked job (compared in whole cents, as shown), ties
 * going to the LOWER buffer (fewer good calls disqualified). No recommendation when fewer than `minBookedJobs`
 * (10) booked jobs could bill, or when no candidate keeps the share.
 */
import type { ReportCall } from './analytics';
import { DomainError, type FieldError } from '../kernel/errors';
import { coMovementSums, createCoMovementCells, pearsonAt, type CoMovementCells, type CoMovementSums } from './co-movement';

export interface TunerRule {
  /** 0..1: the share of billable-able booked jobs a recommended buffer must still pay for. */
  readonly minCaptureShare: number;
  /** Fewer booked jobs that could bill than this: no recommendation. */
  readonly minBookedJobs: number;
}

export const DEFAULT_TUNER_RULE: TunerRule = { minCaptureShare: 0.9, minBookedJobs: 10 };

/** The most candidates one sweep evaluates. */
export const MAX_THRESHOLDS = 2001;
/** The largest buffer considered (a day). */
export const MAX_BUFFER_SEC = 86_400;

export interface TunerOptions {
  readonly min: number;
  readonly max: number;
  readonly step: number;
  /** The campaign's buffer in force, shown beside the recommendation. */
  readonly currentBufferSec: number;
  readonly rule?: TunerRule;
  /** The day a call belongs to for co-movement (any integer key); default the UTC day. */
  readonly dayOf?: (startedAtMs: number) => number;
  /** Most (day, source) cells kept for co-movement; default MAX_CELL_COUNTS ÷ (candidates + 2). */
  readonly maxCells?: number;
}

/** Counts all co-movement cells may hold together (4 bytes each: 24 MB), e.g. 49,000 cells at 120 candidates. */
export const MAX_CELL_COUNTS = 6_000_000;

export interface ThresholdRow {
  readonly bufferSec: number;
  readonly billableCalls: number;
  readonly spendCents: number;
  readonly bookedCaptured: number;
  /** Booked calls that could bill at a lower buffer but not at this one. */
  readonly bookedNotBilled: number;
  readonly spendNeverBookedCents: number;
  readonly costPerBookedJobCents: number | null;
  /** bookedCaptured ÷ booked jobs that could bill, 4 decimals; null when none could. */
  readonly captureShare: number | null;
  /** Pearson r across (day, source) cells of billable calls vs booked jobs, 4 decimals. */
  readonly coMovement: number | null;
}

export interface ThresholdTuning {
  readonly rows: readonly ThresholdRow[];
  readonly current: ThresholdRow;
  /** null: no candidate met the rule (see `why`). */
  readonly recommended: ThresholdRow | null;
  readonly why: string;
  readonly rule: TunerRule & { readonly statement: string };
  readonly totals: {
    readonly calls: number;
    /** Calls with a price if billable (could bill at some buffer). */
    readonly couldBill: number;
    readonly bookedJobs: number;
    readonly bookedCouldBill: number;
    /** Booked jobs on calls no buffer could bill (unknown number, not connected, duplicate, …). */
    readonly bookedNeverBillable: number;
    /** (day, source) cells the co-movement is measured over (counted up to maxCells + 1). */
    readonly cells: number;
  };
  /** Why co-movement is null on every row when it is not for lack of data; else null. */
  readonly coMovementNote: string | null;
}

const DAY_MS = 86_400_000;
const utcDay = (ms: number) => Math.floor(ms / DAY_MS);
const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places;

export function tunerRuleStatement(rule: TunerRule): string {
  return (
    `The buffer with the lowest cost per booked job (spend ÷ booked jobs on billable calls) among those still paying for at least ` +
    `${round(rule.minCaptureShare * 100, 2)}% of the booked jobs that could bill; ties go to the lower buffer; no recommendation ` +
    `with fewer than ${rule.minBookedJobs} booked jobs that could bill.`
  );
}

/** The candidate buffers of a sweep, ascending; 422 naming each bad field. */
export function candidateBuffers(o: Pick<TunerOptions, 'min' | 'max' | 'step'>): number[] {
  const errors: FieldError[] = [];
  const wholeIn = (field: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) errors.push({ field, message: `must be a whole number from ${lo} to ${hi}` });
  };
  wholeIn('min', o.min, 0, MAX_BUFFER_SEC);
  wholeIn('max', o.max, 0, MAX_BUFFER_SEC);
  wholeIn('step', o.step, 1, MAX_BUFFER_SEC);
  if (errors.length === 0 && o.max < o.min) errors.push({ field: 'max', message: 'must be at least min' });
  if (errors.length === 0 && Math.floor((o.max - o.min) / o.step) + 1 > MAX_THRESHOLDS) {
    errors.push({ field: 'step', message: `gives more than ${MAX_THRESHOLDS} candidate buffers between min and max` });
  }
  if (errors.length > 0) throw new DomainError('refused', 'unprocessable', 'Unprocessable request', 'The threshold sweep is not valid.', errors);
  const out: number[] = [];
  for (let b = o.min; b <= o.max; b += o.step) out.push(b);
  return out;
}

/**
 * The daily aggregates (aggregates.ts) keep the tuner's figures per (day, source) cell as a histogram by whole
 * billable second up to this many seconds; longer calls share one bucket (`TUNER_HISTOGRAM_MAX_SEC + 1`), so a
 * sweep (or a current buffer) above it cannot be answered from them and reads the calls instead.
 */
export const TUNER_HISTOGRAM_MAX_SEC = 3600;

/**
 * One call's contribution to the tuner as named numbers (only those not 0): `n` calls, `bj` booked jobs, `bn` booked
 * jobs no buffer could bill; for a call that could bill, at its whole billable second s (capped at
 * TUNER_HISTOGRAM_MAX_SEC + 1): `c<s>` calls, `s<s>` spend, `b<s>` booked calls, `x<s>` spend on calls not booked.
 * Summed over a (day, source) cell they are what `addCell` folds in.
 */
export function tunerCountsOf(c: ReportCall): Record<string, number> {
  const out: Record<string, number> = { n: 1 };
  const isBooked = c.outcome !== null && c.outcome.status !== 'lost';
  if (isBooked) out.bj = 1;
  const price = c.priceIfBillableCents;
  if (price === null) {
    if (isBooked) out.bn = 1;
    return out;
  }
  const whole = Math.floor(c.billableSec);
  const sec = Number.isNaN(whole) || whole < 0 ? 0 : Math.min(whole, TUNER_HISTOGRAM_MAX_SEC + 1);
  out[`c${sec}`] = 1;
  if (price !== 0) out[`s${sec}`] = price;
  if (isBooked) out[`b${sec}`] = 1;
  else if (price !== 0) out[`x${sec}`] = price;
  return out;
}

/** One (day, source) cell of tuner counts (`tunerCountsOf`, summed). */
export interface TunerCell {
  readonly publisherId: string;
  readonly subSource: string | null;
  /** The cell's day as the tuner's `dayOf` would give it for the cell's calls. */
  readonly day: number;
  readonly counts: Readonly<Record<string, number>>;
}

/** A sweep fed one call at a time (memory: the candidates and the co-movement cells, never the calls). */
export interface ThresholdTuner {
  add(call: ReportCall): void;
  /**
   * Folds a (day, source) cell, exactly as adding its calls one by one; a cell may come in several items (its
   * counters and its histogram by minute: aggregates.ts), each added with the same day and source. An item of zeros
   * is ignored.
   */
  addCell(cell: TunerCell): void;
  result(): ThresholdTuning;
}

export function tuneThreshold(calls: Iterable<ReportCall>, options: TunerOptions): ThresholdTuning {
  const tuner = createThresholdTuner(options);
  for (const c of calls) tuner.add(c);
  return tuner.result();
}

/** The same sweep over an async stream (e.g. the campaign index, page by page). */
export async function tuneThresholdStream(calls: AsyncIterable<ReportCall>, options: TunerOptions): Promise<ThresholdTuning> {
  const tuner = createThresholdTuner(options);
  for await (const c of calls) tuner.add(c);
  return tuner.result();
}

export function createThresholdTuner(options: TunerOptions): ThresholdTuner {
  const rule = options.rule ?? DEFAULT_TUNER_RULE;
  const sweep = sweepOf(options);
  const maxCells = options.maxCells ?? Math.floor(MAX_CELL_COUNTS / (sweep.K + 2));
  const state: TunerState = {
    sweep,
    buckets: emptyBuckets(sweep.K + 1),
    cells: createCoMovementCells(sweep.K, maxCells),
    dayOf: options.dayOf ?? utcDay,
    totals: { calls: 0, couldBill: 0, bookedJobs: 0, bookedNeverBillable: 0 },
  };
  return {
    add: (c) => addCall(state, c),
    addCell: (cell) => addCellCounts(state, cell),
    result: () => tuningOf(state, rule, options.currentBufferSec, maxCells),
  };
}

/** The candidates of a sweep, with the current buffer among them, and the bucket a billable second falls in. */
interface Sweep {
  readonly grid: readonly number[];
  /** The grid and the current buffer, ascending. */
  readonly thresholds: readonly number[];
  readonly K: number;
  /** Buckets 0..K: a call in bucket j bills at exactly the first j candidates. */
  bucketOf(sec: number): number;
}

function sweepOf(options: TunerOptions): Sweep {
  const grid = candidateBuffers(options);
  const current = options.currentBufferSec;
  if (!Number.isInteger(current) || current < 0 || current > MAX_BUFFER_SEC) {
    throw new DomainError('refused', 'unprocessable', 'Unprocessable request', 'The current buffer is not valid.', [{ field: 'currentBufferSec', message: `must be a whole number from 0 to ${MAX_BUFFER_SEC}` }]);
  }
  const thresholds = [...new Set([...grid, current])].sort((a, b) => a - b);
  const K = thresholds.length;
  const top = thresholds[K - 1]!;
  // lut[s] = number of candidates ≤ s, for whole seconds 0..top; above top every candidate applies.
  const lut = new Int32Array(top + 1);
  for (let s = 0, j = 0; s <= top; s++) {
    while (j < K && thresholds[j]! <= s) j++;
    lut[s] = j;
  }
  const bucketOf = (sec: number): number => {
    const s = Math.floor(sec);
    return s > top ? K : s < 0 || Number.isNaN(s) ? 0 : lut[s]!;
  };
  return { grid, thresholds, K, bucketOf };
}

/** Per bucket: calls, spend, booked calls, and spend on calls never booked. */
interface Buckets {
  readonly count: Float64Array;
  readonly spend: Float64Array;
  readonly booked: Float64Array;
  readonly spendNeverBooked: Float64Array;
}

function emptyBuckets(size: number): Buckets {
  return { count: new Float64Array(size), spend: new Float64Array(size), booked: new Float64Array(size), spendNeverBooked: new Float64Array(size) };
}

interface TunerState {
  readonly sweep: Sweep;
  readonly buckets: Buckets;
  readonly cells: CoMovementCells;
  readonly dayOf: (startedAtMs: number) => number;
  readonly totals: { calls: number; couldBill: number; bookedJobs: number; bookedNeverBillable: number };
}

function addCall(t: TunerState, c: ReportCall): void {
  const { K } = t.sweep;
  t.totals.calls += 1;
  const cell = t.cells.cellAt(c.publisherId, c.subSource, t.dayOf(c.startedAtMs));
  const isBooked = c.outcome !== null && c.outcome.status !== 'lost';
  if (isBooked) {
    t.totals.bookedJobs += 1;
    if (cell !== undefined) cell[K + 1]! += 1;
  }
  const price = c.priceIfBillableCents;
  if (price === null) {
    if (isBooked) t.totals.bookedNeverBillable += 1;
    return;
  }
  t.totals.couldBill += 1;
  const j = t.sweep.bucketOf(c.billableSec);
  t.buckets.count[j]! += 1;
  t.buckets.spend[j]! += price;
  if (isBooked) t.buckets.booked[j]! += 1;
  else t.buckets.spendNeverBooked[j]! += price;
  if (cell !== undefined) cell[j]! += 1;
}

const KIND_CALLS = 99; // c
const KIND_SPEND = 115; // s
const KIND_BOOKED = 98; // b
const KIND_NEVER_BOOKED = 120; // x

function addCellCounts(t: TunerState, item: TunerCell): void {
  const { K } = t.sweep;
  const counts = item.counts;
  // An item whose calls all moved away (counters back at 0) is no cell: it must not count for co-movement.
  if (!Object.values(counts).some((v) => v !== 0)) return;
  t.totals.calls += counts.n ?? 0;
  const cell = t.cells.cellAt(item.publisherId, item.subSource, item.day);
  const bj = counts.bj ?? 0;
  t.totals.bookedJobs += bj;
  if (cell !== undefined) cell[K + 1]! += bj;
  t.totals.bookedNeverBillable += counts.bn ?? 0;
  for (const name in counts) {
    const kind = name.charCodeAt(0);
    if (name.length < 2 || (kind !== KIND_CALLS && kind !== KIND_SPEND && kind !== KIND_BOOKED && kind !== KIND_NEVER_BOOKED)) continue;
    const sec = counterSecond(name);
    if (sec < 0) continue;
    const v = counts[name]!;
    const j = t.sweep.bucketOf(sec);
    if (kind === KIND_CALLS) {
      t.totals.couldBill += v;
      t.buckets.count[j]! += v;
      if (cell !== undefined) cell[j]! += v;
    } else if (kind === KIND_SPEND) t.buckets.spend[j]! += v;
    else if (kind === KIND_BOOKED) t.buckets.booked[j]! += v;
    else t.buckets.spendNeverBooked[j]! += v;
  }
}

/** The whole second after a counter's one-letter kind (`c120` → 120), parsed by hand: this runs once per counter of every item. −1: not digits. */
function counterSecond(name: string): number {
  let sec = 0;
  for (let k = 1; k < name.length; k++) {
    const digit = name.charCodeAt(k) - 48;
    if (digit < 0 || digit > 9) return -1;
    sec = sec * 10 + digit;
  }
  return sec;
}

function tuningOf(t: TunerState, rule: TunerRule, current: number, maxCells: number): ThresholdTuning {
  const bookedCouldBill = t.buckets.booked.reduce((s, v) => s + v, 0);
  const byBuffer = rowsByBuffer(t, coMovementSums(t.cells, t.sweep.K), bookedCouldBill);
  const rows = t.sweep.grid.map((b) => byBuffer.get(b)!);
  const { recommended, why } = recommendBuffer(rows, rule, bookedCouldBill, current, byBuffer);
  return {
    rows,
    current: byBuffer.get(current)!,
    recommended,
    why,
    rule: { ...rule, statement: tunerRuleStatement(rule) },
    totals: {
      calls: t.totals.calls,
      couldBill: t.totals.couldBill,
      bookedJobs: t.totals.bookedJobs,
      bookedCouldBill,
      bookedNeverBillable: t.totals.bookedNeverBillable,
      cells: t.cells.count,
    },
    coMovementNote: t.cells.tracking ? null : `More than ${maxCells} (day, source) cells: co-movement not computed (narrow the period).`,
  };
}

/** Every candidate's row, by a suffix sum over the buckets: billable at T[k] = Σ bucket[j] for j > k. */
function rowsByBuffer(t: TunerState, sums: CoMovementSums, bookedCouldBill: number): Map<number, ThresholdRow> {
  const { thresholds, K } = t.sweep;
  const { count, spend, booked, spendNeverBooked } = t.buckets;
  const byBuffer = new Map<number, ThresholdRow>();
  let billableAcc = 0;
  let spendAcc = 0;
  let bookedAcc = 0;
  let neverBookedAcc = 0;
  for (let k = K - 1; k >= 0; k--) {
    billableAcc += count[k + 1]!;
    spendAcc += spend[k + 1]!;
    bookedAcc += booked[k + 1]!;
    neverBookedAcc += spendNeverBooked[k + 1]!;
    byBuffer.set(thresholds[k]!, {
      bufferSec: thresholds[k]!,
      billableCalls: billableAcc,
      spendCents: spendAcc,
      bookedCaptured: bookedAcc,
      bookedNotBilled: bookedCouldBill - bookedAcc,
      spendNeverBookedCents: neverBookedAcc,
      costPerBookedJobCents: bookedAcc === 0 ? null : Math.round(spendAcc / bookedAcc),
      captureShare: bookedCouldBill === 0 ? null : round(bookedAcc / bookedCouldBill, 4),
      coMovement: pearsonAt(sums, k),
    });
  }
  return byBuffer;
}

/** THE RULE (module header) over the grid's rows, with the reason in words. */
function recommendBuffer(
  rows: readonly ThresholdRow[],
  rule: TunerRule,
  bookedCouldBill: number,
  current: number,
  byBuffer: ReadonlyMap<number, ThresholdRow>,
): { recommended: ThresholdRow | null; why: string } {
  if (bookedCouldBill < rule.minBookedJobs) {
    return { recommended: null, why: `${bookedCouldBill} booked jobs could bill, fewer than the ${rule.minBookedJobs} needed for a recommendation.` };
  }
  // The share compared in whole jobs (1e-9 absorbs binary noise: 0.9 × 30 must be 27).
  const minCaptured = rule.minCaptureShare * bookedCouldBill - 1e-9;
  let recommended: ThresholdRow | null = null;
  for (const r of rows) {
    if (r.costPerBookedJobCents === null || r.bookedCaptured < minCaptured) continue;
    if (recommended === null || r.costPerBookedJobCents < recommended.costPerBookedJobCents!) recommended = r;
  }
  const why =
    recommended === null
      ? `No candidate buffer pays for ${round(rule.minCaptureShare * 100, 2)}% of the booked jobs that could bill.`
      : `${recommended.bufferSec} s: the lowest cost per booked job (${recommended.costPerBookedJobCents} cents) among buffers paying for at least ` +
        `${round(rule.minCaptureShare * 100, 2)}% of the ${bookedCouldBill} booked jobs that could bill (it pays for ${recommended.bookedCaptured}); ` +
        `the current ${current} s costs ${byBuffer.get(current)!.costPerBookedJobCents ?? 'n/a'} cents per booked job.`;
  return { recommended, why };
}
