/**
 * Per source: calls and flagged calls per signal, the source's fraud score (noisy-OR of the signals' shares, the
 * near-buffer share against the account's) and the histogram of billable seconds around the buffer.
 */
import { QUALITY_SIGNALS, DEFAULT_QUALITY_CONFIG, sourceKey, type QualityConfig, type QualitySignal, type SourceRef } from './signals';

/** A rated call as the per-source counts see it. */
export interface SignalledCall extends SourceRef {
  readonly connected: boolean;
  readonly signals: readonly QualitySignal[];
}

export interface SourceSignalCounts extends SourceRef {
  readonly calls: number;
  readonly connected: number;
  readonly bySignal: Readonly<Record<QualitySignal, number>>;
}

export function emptySignalCounts(): Record<QualitySignal, number> {
  return Object.fromEntries(QUALITY_SIGNALS.map((s) => [s, 0])) as Record<QualitySignal, number>;
}

/** Calls and flagged calls per signal for each source, sorted by source key. */
export function countSignalsBySource(calls: readonly SignalledCall[]): SourceSignalCounts[] {
  const bySource = new Map<string, { ref: SourceRef; calls: number; connected: number; bySignal: Record<QualitySignal, number> }>();
  for (const c of calls) {
    const key = sourceKey(c);
    let acc = bySource.get(key);
    if (!acc) bySource.set(key, (acc = { ref: { publisherId: c.publisherId, subSource: c.subSource }, calls: 0, connected: 0, bySignal: emptySignalCounts() }));
    acc.calls++;
    if (c.connected) acc.connected++;
    for (const s of new Set(c.signals)) acc.bySignal[s]++;
  }
  return [...bySource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, a]) => ({ ...a.ref, calls: a.calls, connected: a.connected, bySignal: a.bySignal }));
}

/**
 * What each signal says about a source. `weight` (0..1): how sure a source is junk when the signal is at full
 * strength, on its own; `fullAt`: the share of the source's calls at which it is (10 % of calls flagged: a share
 * no clean source shows on the defaults). near_buffer_hangup's `fullAt` is a RATIO to the account's share instead.
 */
export const SCORE_WEIGHTS: Readonly<Record<QualitySignal, { readonly weight: number; readonly fullAt: number }>> = {
  robocall_suspect: { weight: 0.8, fullAt: 0.1 },
  repeat_caller: { weight: 0.8, fullAt: 0.1 },
  coached_ivr: { weight: 0.8, fullAt: 0.1 },
  silent_or_short_talk: { weight: 0.6, fullAt: 0.1 },
  /** Full strength at 3× the account's share; at or below the account's share it says nothing. */
  near_buffer_hangup: { weight: 0.6, fullAt: 3 },
  velocity: { weight: 0.5, fullAt: 0.1 },
};

export interface ScoreContribution {
  readonly signal: QualitySignal;
  readonly count: number;
  /** count / calls (count / connected calls for near_buffer_hangup). */
  readonly share: number;
  /** 0..1: share / fullAt, clamped (near_buffer_hangup: (ratio − 1) / (fullAt − 1), clamped). */
  readonly strength: number;
  readonly weight: number;
  /** What the source would score on this signal alone: 100 × weight × strength. */
  readonly points: number;
}

export interface SourceFraudScore {
  /** 0..100: 100 × (1 − Π(1 − weight × strength)) over the signals, rounded. */
  readonly score: number;
  readonly flagged: boolean;
  /** False below score.minCalls calls: too few to judge. */
  readonly sufficient: boolean;
  readonly contributions: readonly ScoreContribution[];
  readonly nearBuffer: { readonly share: number; readonly baselineShare: number; readonly ratio: number };
}

/** The account's share of connected calls that were near-buffer hang-ups, all sources together. */
export function nearBufferBaseline(counts: readonly Pick<SourceSignalCounts, 'connected' | 'bySignal'>[]): number {
  const connected = counts.reduce((n, c) => n + c.connected, 0);
  const near = counts.reduce((n, c) => n + c.bySignal.near_buffer_hangup, 0);
  return connected === 0 ? 0 : near / connected;
}

/**
 * A source's fraud score. Each signal has a strength: its share of the source's calls over `fullAt`, clamped to
 * 0..1; for near_buffer_hangup the source's share of connected calls is compared with the account's (floored at
 * minBaselineNearBufferShare) and only the excess counts. The signals combine as independent evidence (noisy-OR):
 * score = 100 × (1 − Π(1 − weight × strength)). So one signal at full strength scores its weight (robocalls on 10 %
 * of a source's calls: 80, flagged at the default 50), and every further signal raises the score towards 100 without
 * reaching it. A source at the account's near-buffer baseline and without other signals scores 0.
 */
export function sourceFraudScore(
  bySignal: Readonly<Record<QualitySignal, number>>,
  totals: { readonly calls: number; readonly connected: number },
  baseline: { readonly nearBufferShare: number },
  config: QualityConfig = DEFAULT_QUALITY_CONFIG,
): SourceFraudScore {
  const clamp = (x: number) => Math.min(1, Math.max(0, x));
  const share = (n: number, of: number) => (of === 0 ? 0 : n / of);
  const nbShare = share(bySignal.near_buffer_hangup, totals.connected);
  const baselineShare = Math.max(baseline.nearBufferShare, config.score.minBaselineNearBufferShare);
  const ratio = nbShare / baselineShare;
  let clean = 1;
  const contributions = QUALITY_SIGNALS.map((signal): ScoreContribution => {
    const { weight, fullAt } = SCORE_WEIGHTS[signal];
    const count = bySignal[signal];
    const s = signal === 'near_buffer_hangup' ? nbShare : share(count, totals.calls);
    const strength = clamp(signal === 'near_buffer_hangup' ? (ratio - 1) / (fullAt - 1) : s / fullAt);
    clean *= 1 - weight * strength;
    return { signal, count, share: round3(s), strength: round3(strength), weight, points: round3(100 * weight * strength) };
  });
  const score = Math.round(100 * (1 - clean));
  return {
    score,
    flagged: score >= config.score.flagAt,
    sufficient: totals.calls >= config.score.minCalls,
    contributions,
    nearBuffer: { share: round3(nbShare), baselineShare: round3(baselineShare), ratio: round3(ratio) },
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export interface HistogramBin {
  /** Inclusive. */
  readonly fromSec: number;
  /** Exclusive. */
  readonly toSec: number;
  readonly count: number;
}

export interface NearBufferHistogram {
  readonly bufferSec: number;
  readonly binSec: number;
  /** Connected calls below the first bin / at or above the last. */
  readonly below: number;
  readonly above: number;
  /** `binsEachSide` bins below the buffer and as many from it: the bin starting at bufferSec is the first that bills. */
  readonly bins: readonly HistogramBin[];
}

/** Billable seconds of a source's connected calls around the buffer. Not-connected calls are left out. */
export function nearBufferHistogram(
  calls: readonly { readonly connected: boolean; readonly billableSec: number }[],
  bufferSec: number,
  binSec: number,
  binsEachSide = 6,
): NearBufferHistogram {
  if (!(binSec > 0) || !Number.isInteger(binsEachSide) || binsEachSide < 1) throw new RangeError('binSec must be > 0 and binsEachSide a positive integer');
  const start = bufferSec - binsEachSide * binSec;
  const counts = new Array<number>(2 * binsEachSide).fill(0);
  let below = 0;
  let above = 0;
  for (const c of calls) {
    if (!c.connected) continue;
    const i = Math.floor((c.billableSec - start) / binSec);
    if (i < 0) below++;
    else if (i >= counts.length) above++;
    else counts[i]!++;
  }
  return {
    bufferSec,
    binSec,
    below,
    above,
    bins: counts.map((count, i) => ({ fromSec: start + i * binSec, toSec: start + (i + 1) * binSec, count })),
  };
}
