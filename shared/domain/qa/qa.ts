/**
 * QA sampling and reviewer verdicts. Pure: no I/O, no clock, no zod (the request and
 * response schemas are in qa-schema.ts).
 *
 * A reviewer listens to a few calls of every source rather than to all of them, so the sample must be fair within a
 * source, must not let a big source crowd out a small one, must reach the calls most likely to be junk, and must be
 * reproducible (two reviewers, or an auditor a month later, get the same calls for the same request).
 *
 * THE SAMPLE (`createQaSampler`, `sampleQaCalls`):
 * - Strata: one per source = publisherId + sub-source (null = calls without a sub-source), ordered like the
 *   scorecard's rows (publisherId, then sub-source with null first, by code unit).
 * - Order within a stratum: every call gets a keyed hash, `sha256(seed ‖ "\n" ‖ callId)` (the first 64 bits, as 16 hex
 *   digits; ties, never met in practice, by callId). Sorting by it is a uniformly random permutation that depends only
 *   on the seed and the call ids: the same seed over the same calls always gives the same sample, whatever the order
 *   the calls arrive in; another seed gives an independent one.
 * - Flagged calls (`qaFlags`): a call is FLAGGED when it has any quality signal (shared/domain/quality/signals.ts),
 *   OR was disputed (ReportCall.disputed: a credit was booked against it), OR is a near-buffer billable call (it
 *   billed and its billable seconds are below its terms' buffer + NEAR_BUFFER_MARGIN_SEC (10 s, the quality
 *   config's default nearBufferMarginSec), so it is flagged even before the writer records signals).
 * - Over-sampling: of a stratum's N places, ceil(N × FLAGGED_SHARE) (FLAGGED_SHARE = ½) go first to the flagged calls
 *   with the smallest keys (all of them when fewer); the remaining places go to the smallest keys among the calls not
 *   yet taken, flagged or not. So when a source has enough flagged calls, at least half its sample is flagged,
 *   whatever their share of its traffic (a source with 2 % flagged calls has them over-sampled ~25×); when it has
 *   fewer, every one of them is in the sample.
 * - Streaming, memory O(strata × N): per stratum two bounded max-heaps keep the N smallest keys of its flagged and
 *   of its other calls. That is exact, not an approximation: the quota takes the smallest flagged keys, and the
 *   fill takes the smallest remaining keys, which are all among the N smallest of either kind.
 *
 * THE VERDICT: what a reviewer concluded about a call (QA_VERDICTS); stored on the call, counted per source by the
 * scorecard, and, for every verdict but `good`, a reason to dispute the charge (`disputeReasonOf`).
 */
import { createHash } from 'node:crypto';
import type { ReportCall } from '../reports/analytics';
import type { DisputeReason } from '../disputes/disputes';

// ---------------------------------------------------------------- verdicts

export const QA_VERDICTS = ['good', 'junk', 'fraud', 'incentivized', 'repeat', 'wrong_number'] as const;
export type QaVerdict = (typeof QA_VERDICTS)[number];

/** Longest reviewer note kept on the call. */
export const MAX_QA_NOTE = 500;

/** The reviewer's verdict in force on a call (the latest one; every verdict is also kept in the QA history). */
export interface CallQa {
  readonly verdict: QaVerdict;
  /** null: none given. ≤ MAX_QA_NOTE characters. */
  readonly note: string | null;
  /** The API key's label and role (`<label> (<role>)`), never the key. */
  readonly reviewer: string;
  /** ISO instant. */
  readonly reviewedAt: string;
}

const DISPUTE_REASON_OF: Readonly<Record<QaVerdict, DisputeReason | null>> = {
  good: null,
  junk: 'other',
  fraud: 'fraud',
  incentivized: 'incentivized',
  repeat: 'repeat_caller',
  wrong_number: 'wrong_number',
};

/** The dispute reason a verdict maps to; null for `good` (a good call cannot be disputed on its verdict). */
export function disputeReasonOf(verdict: QaVerdict): DisputeReason | null {
  return DISPUTE_REASON_OF[verdict];
}

export function isQaVerdict(v: unknown): v is QaVerdict {
  return typeof v === 'string' && (QA_VERDICTS as readonly string[]).includes(v);
}

// ---------------------------------------------------------------- flags

/** Share of a stratum's places reserved for flagged calls. */
export const FLAGGED_SHARE = 0.5;
/** A billable call this close above its buffer is flagged (the quality config's default nearBufferMarginSec). */
export const NEAR_BUFFER_MARGIN_SEC = 10;

export type QaFlag = 'signal' | 'disputed' | 'near_buffer';

/** The rule in words, returned with every sample. */
export const FLAGGED_RULE =
  `A call is flagged when it has any quality signal, was disputed (credited), or billed with billable seconds below its buffer + ${NEAR_BUFFER_MARGIN_SEC} s; ` +
  `per source, ceil(perSource × ${FLAGGED_SHARE}) places go first to flagged calls (all of them when fewer), the rest to the remaining calls, ` +
  'each in the order of sha256(seed, callId).';

/**
 * Why a call is flagged (empty: it is not). `bufferSec`: the buffer of the terms the call was rated under, or null
 * when unknown (then near-buffer is not judged).
 */
export function qaFlags(call: Pick<ReportCall, 'signals' | 'disputed' | 'billable' | 'billableSec'>, bufferSec: number | null, marginSec = NEAR_BUFFER_MARGIN_SEC): QaFlag[] {
  const flags: QaFlag[] = [];
  if ((call.signals?.length ?? 0) > 0) flags.push('signal');
  if (call.disputed) flags.push('disputed');
  if (call.billable && bufferSec !== null && call.billableSec >= bufferSec && call.billableSec < bufferSec + marginSec) flags.push('near_buffer');
  return flags;
}

// ---------------------------------------------------------------- keyed order

/** The call's place in the seed's random order: 16 hex digits (fixed width, so string order = numeric order). */
export function sampleKey(seed: string, callId: string): string {
  return createHash('sha256').update(`${seed}\n${callId}`).digest('hex').slice(0, 16);
}

interface Keyed<T> {
  readonly key: string;
  readonly id: string;
  readonly item: T;
}

const before = <T>(a: Keyed<T>, b: Keyed<T>): boolean => a.key < b.key || (a.key === b.key && a.id < b.id);

/** The `capacity` smallest-keyed items seen: a max-heap whose root is the largest kept (the first to go). */
class SmallestK<T> {
  private readonly heap: Keyed<T>[] = [];
  constructor(private readonly capacity: number) {}

  offer(x: Keyed<T>): void {
    const h = this.heap;
    if (h.length < this.capacity) {
      h.push(x);
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!before(h[p]!, h[i]!)) break;
        [h[p], h[i]] = [h[i]!, h[p]!];
        i = p;
      }
    } else if (h.length > 0 && before(x, h[0]!)) {
      h[0] = x;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[m]!, h[l]!)) m = l;
        if (r < h.length && before(h[m]!, h[r]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
  }

  /** Kept items, smallest key first. */
  sorted(): Keyed<T>[] {
    return [...this.heap].sort((a, b) => (before(a, b) ? -1 : 1));
  }

  get size(): number {
    return this.heap.length;
  }
}

// ---------------------------------------------------------------- the sampler

export interface QaSampleOptions {
  /** Calls per source, ≥ 1. */
  readonly perSource: number;
  readonly seed: string;
  /** The buffer a call was rated against (near-buffer flag); null when unknown. Default: never near-buffer. */
  readonly bufferSecOf?: (call: ReportCall) => number | null;
}

export interface SampledCall {
  readonly call: ReportCall;
  readonly flags: readonly QaFlag[];
  readonly key: string;
}

export interface QaStratum {
  readonly publisherId: string;
  readonly subSource: string | null;
  /** Calls of the source in the period. */
  readonly calls: number;
  /** Flagged calls of the source in the period. */
  readonly flagged: number;
  /** The sample, in start order (then callId). */
  readonly sample: readonly SampledCall[];
}

export interface QaSampler {
  add(call: ReportCall): void;
  /** Strata so far (memory is strata × 2 × perSource kept calls). */
  readonly strata: number;
  result(): QaStratum[];
}

interface Cell {
  readonly publisherId: string;
  readonly subSource: string | null;
  calls: number;
  flaggedCount: number;
  readonly flagged: SmallestK<SampledCall>;
  readonly other: SmallestK<SampledCall>;
}

/** Code-unit order with null first (as the scorecard's rows). */
function compareKeys(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** How many of a stratum's `perSource` places are reserved for flagged calls. */
export function flaggedQuota(perSource: number): number {
  return Math.ceil(perSource * FLAGGED_SHARE);
}

export function createQaSampler(options: QaSampleOptions): QaSampler {
  if (!Number.isInteger(options.perSource) || options.perSource < 1) throw new RangeError('perSource must be a whole number ≥ 1');
  const n = options.perSource;
  const cells = new Map<string, Cell>();

  return {
    add(call) {
      const id = JSON.stringify([call.publisherId, call.subSource]);
      let cell = cells.get(id);
      if (cell === undefined) {
        cell = { publisherId: call.publisherId, subSource: call.subSource, calls: 0, flaggedCount: 0, flagged: new SmallestK(n), other: new SmallestK(n) };
        cells.set(id, cell);
      }
      const flags = qaFlags(call, options.bufferSecOf?.(call) ?? null);
      const key = sampleKey(options.seed, call.callId);
      const entry = { key, id: call.callId, item: { call, flags, key } };
      cell.calls += 1;
      if (flags.length > 0) {
        cell.flaggedCount += 1;
        cell.flagged.offer(entry);
      } else cell.other.offer(entry);
    },
    get strata() {
      return cells.size;
    },
    result() {
      const out: QaStratum[] = [];
      const ordered = [...cells.values()].sort((a, b) => compareKeys(a.publisherId, b.publisherId) || compareKeys(a.subSource, b.subSource));
      for (const cell of ordered) {
        const flagged = cell.flagged.sorted();
        const taken = flagged.slice(0, flaggedQuota(n));
        const rest = [...flagged.slice(taken.length), ...cell.other.sorted()].sort((a, b) => (before(a, b) ? -1 : 1));
        const sample = [...taken, ...rest.slice(0, n - taken.length)]
          .map((k) => k.item)
          .sort((a, b) => a.call.startedAtMs - b.call.startedAtMs || (a.call.callId < b.call.callId ? -1 : a.call.callId > b.call.callId ? 1 : 0));
        out.push({ publisherId: cell.publisherId, subSource: cell.subSource, calls: cell.calls, flagged: cell.flaggedCount, sample });
      }
      return out;
    },
  };
}

/** One pass over calls (an array, or any async iterable such as the campaign index reader). */
export async function sampleQaCalls(calls: Iterable<ReportCall> | AsyncIterable<ReportCall>, options: QaSampleOptions): Promise<QaStratum[]> {
  const sampler = createQaSampler(options);
  for await (const c of calls) sampler.add(c);
  return sampler.result();
}

/**
 * The seed used when the request names none: derived from the request itself, so the same request always gets the
 * same sample. `q-` + the first 16 hex digits of sha256(`<campaignId>|<from>|<to>|<perSource>`).
 */
export function defaultQaSeed(q: { campaignId: string; from: string; to: string; perSource: number }): string {
  return `q-${createHash('sha256').update(`${q.campaignId}|${q.from}|${q.to}|${q.perSource}`).digest('hex').slice(0, 16)}`;
}
