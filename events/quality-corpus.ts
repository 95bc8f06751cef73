/**
 * A seeded, deterministic corpus for the quality signals: clean baseline traffic from three publishers
 * plus planted junk, every call with its ground truth. The same options give the same corpus, call for call.
 *
 * Baseline (scenario `baseline`): publishers pub-search (google, bing), pub-social (fb, tiktok) and pub-compare
 * (site-a, site-b) over three days. Connected calls of varied length, attested `TN-Validation-Passed-A`, valid
 * NANP numbers (each caller its own NPA-NXX block), human IVR timing with a natural spread (2.2–10 s after the
 * prompt started), talk time = the call minus ring and IVR. A few genuine callers call the SAME source again hours
 * later (repeat_caller must not fire on them). Baseline durations skip [buffer, buffer + margin): a call that
 * clears the buffer by a hair is near_buffer_hangup by definition, and the acceptance wants a silent baseline;
 * real clean traffic has a few such calls, which is why the signal is judged per source against the account's share.
 *
 * Planted junk, with ground-truth labels (`labels.signals`) that follow each rule's definition at the given config:
 *  near_buffer      pub-social/tiktok: calls that hang up 0–9 s past the buffer.
 *  repeat_ring      callers alternating between pub-search/google and pub-compare/site-a, hours apart: every
 *                   call after a caller's first is repeat_caller (the first has no earlier call to match).
 *  robocall_burst   pub-compare/site-b: a quarter-hour burst without a passing attestation (absent,
 *                   No-TN-Validation, failed, Passed-C) from invalid or unallocatable numbers; some answered as
 *                   machines.
 *  coached_ivr      pub-search/bing: callers answering 200 ± 20 ms after the prompt started.
 *  velocity_burst   pub-social/fb: different callers from one NPA-NXX block a minute or two apart: calls from
 *                   the blockCount-th on are velocity.
 *  silent_talk      pub-compare/site-a: connected minutes with a few seconds of talk.
 * Compliance ground truth for the compliance checks (not quality signals, so `labels.signals` is empty and the
 * quality detectors must stay quiet on them): `dnc_listed` callers spread over the baseline sources, and
 * `outbound_without_consent` calls from pub-dialer (declared traffic method `outbound`, no consent captured).
 */
import { callerHash } from '../shared/domain/calls/caller';
import { DEFAULT_QUALITY_CONFIG, QUALITY_SIGNALS, type IvrTiming, type QualityConfig, type QualitySignal } from '../shared/domain/quality/signals';
import { callerNumberClass, numberBlockOf } from '../shared/domain/quality/caller-traits';
import { type CrossCallInput } from '../shared/domain/quality/cross-call';
import { type QualityFacts, type QualityTerms } from '../shared/domain/quality/call-signals';
import type { TrafficMethod } from '../shared/domain/catalog/types';
import { Rng } from './traffic';

export type CorpusScenario =
  | 'baseline'
  | 'near_buffer'
  | 'repeat_ring'
  | 'robocall_burst'
  | 'coached_ivr'
  | 'velocity_burst'
  | 'silent_talk'
  | 'dnc_listed'
  | 'outbound_no_consent';

export type ComplianceLabel = 'dnc_listed' | 'outbound_without_consent';

/** One call: what the detectors read (facts, hash, block, source) and the ground truth. Carries the synthetic number in `facts.from`. */
export interface QualityCorpusCall extends CrossCallInput {
  readonly facts: QualityFacts;
  readonly scenario: CorpusScenario;
  readonly labels: { readonly signals: readonly QualitySignal[]; readonly compliance: readonly ComplianceLabel[] };
  /** For the compliance checks: whether the source captured the caller's consent (null: not applicable, inbound marketing). */
  readonly consentCaptured: boolean | null;
}

export interface CorpusPublisher {
  readonly publisherId: string;
  readonly trafficMethods: readonly TrafficMethod[];
  readonly subSources: readonly (string | null)[];
}

export interface QualityCorpus {
  readonly terms: QualityTerms;
  readonly config: QualityConfig;
  readonly publishers: readonly CorpusPublisher[];
  /** In detector feed order (start time, then call id). */
  readonly calls: readonly QualityCorpusCall[];
}

export interface QualityCorpusOptions {
  readonly rngSeed?: number;
  /** Start of the corpus (fixed, so the corpus never depends on today's date). */
  readonly startAtMs?: number;
  readonly baselineCalls?: number;
  readonly config?: QualityConfig;
  /** The campaign's buffer (default 90 s). The corpus's terms measure the whole call (`durationBasis: total`). */
  readonly bufferSec?: number;
}

export const CORPUS_PUBLISHERS: readonly CorpusPublisher[] = [
  { publisherId: 'pub-search', trafficMethods: ['paid_search'], subSources: ['google', 'bing'] },
  { publisherId: 'pub-social', trafficMethods: ['social'], subSources: ['fb', 'tiktok'] },
  { publisherId: 'pub-compare', trafficMethods: ['comparison'], subSources: ['site-a', 'site-b'] },
  { publisherId: 'pub-dialer', trafficMethods: ['outbound'], subSources: [null] },
];

const BASELINE_PUBLISHERS = CORPUS_PUBLISHERS.slice(0, 3);
const AREA_CODES = ['512', '737', '210', '713', '281', '832', '214', '469', '972', '817', '682', '254', '361', '915'];
const HOUR = 3_600_000;
const MIN = 60_000;
const HASH_KEY = 'quality-corpus';

export function generateQualityCorpus(options: QualityCorpusOptions = {}): QualityCorpus {
  const config = options.config ?? DEFAULT_QUALITY_CONFIG;
  const terms: QualityTerms = { bufferSec: options.bufferSec ?? 90, durationBasis: 'total' };
  const t0 = options.startAtMs ?? Date.parse('2026-03-02T14:00:00.000Z');
  const rng = new Rng(`callledger-quality:${options.rngSeed ?? 1}`);
  const spanMs = 72 * HOUR;
  const usedBlocks = new Set<string>();
  const usedNumbers = new Set<string>();
  const calls: Omit<QualityCorpusCall, 'callId'>[] = [];
  const margin = config.nearBufferMarginSec;

  /** A valid NANP number in a block no other caller uses (unless `block` pins one). */
  function validNumber(block?: string): string {
    for (;;) {
      const npaNxx = block ?? `${rng.pick(AREA_CODES)}${rng.int(2, 9)}${rng.int(0, 9)}${rng.int(2, 9)}`;
      const e164 = `+1${npaNxx}${String(rng.int(0, 9999)).padStart(4, '0')}`;
      const key = numberBlockOf(e164, config.velocity.numberBlockDigits);
      if (key === null || callerNumberClass(e164) !== 'valid' || usedNumbers.has(e164) || (block === undefined && usedBlocks.has(key))) continue;
      usedNumbers.add(e164);
      usedBlocks.add(key);
      return e164;
    }
  }

  /** Clean connected durations: short hang-ups, up to the buffer, and past the near-buffer band. */
  function cleanTotalSec(): number {
    const band = rng.weightedOf([
      { value: [5, 59], weight: 15 },
      { value: [60, terms.bufferSec - 1], weight: 10 },
      { value: [terms.bufferSec + margin, 180], weight: 25 },
      { value: [181, 600], weight: 50 },
    ]);
    return rng.int(band[0]!, band[1]!);
  }

  function humanIvr(startMs: number): IvrTiming {
    const prompt = startMs + rng.int(1_000, 4_000);
    return { promptStartedAtMs: prompt, answeredAtMs: prompt + 2_200 + rng.int(0, 5_000) + rng.int(0, 3_000) };
  }

  interface CallSpec {
    readonly startMs: number;
    readonly publisherId: string;
    readonly subSource: string | null;
    readonly scenario: CorpusScenario;
    readonly signals?: readonly QualitySignal[];
    readonly compliance?: readonly ComplianceLabel[];
    readonly from?: string;
    readonly totalSec?: number;
    readonly talkSec?: number | null;
    readonly stirVerstat?: string | null;
    readonly answeredBy?: string | null;
    readonly ivr?: IvrTiming | null;
    readonly connected?: boolean;
    readonly consentCaptured?: boolean | null;
  }

  function add(spec: CallSpec): void {
    const from = spec.from ?? validNumber();
    const connected = spec.connected ?? true;
    const totalSec = spec.totalSec ?? (connected ? cleanTotalSec() : rng.int(0, 30));
    const overheadSec = rng.int(6, 18);
    const talkSec = spec.talkSec !== undefined ? spec.talkSec : connected ? Math.max(0, totalSec - overheadSec) : null;
    const ivr = spec.ivr !== undefined ? spec.ivr : connected && totalSec >= 20 ? humanIvr(spec.startMs) : null;
    calls.push({
      startedAtMs: spec.startMs,
      publisherId: spec.publisherId,
      subSource: spec.subSource,
      callerHash: callerHash(HASH_KEY, from),
      numberBlock: numberBlockOf(from, config.velocity.numberBlockDigits),
      ivr,
      facts: {
        status: connected ? 'completed' : rng.pick(['busy', 'no-answer', 'canceled'] as const),
        from,
        totalSec,
        talkSec,
        answeredBy: spec.answeredBy ?? null,
        stirVerstat: spec.stirVerstat !== undefined ? spec.stirVerstat : 'TN-Validation-Passed-A',
        direction: 'inbound',
        recordingDurationSec: talkSec !== null && talkSec > 0 ? talkSec : null,
        ivr,
      },
      scenario: spec.scenario,
      labels: { signals: spec.signals ?? [], compliance: spec.compliance ?? [] },
      consentCaptured: spec.consentCaptured ?? null,
    });
  }

  const anyBaselineSource = () => {
    const p = rng.pick(BASELINE_PUBLISHERS);
    return { publisherId: p.publisherId, subSource: rng.pick(p.subSources) };
  };
  const at = (fromMs: number, toMs: number) => t0 + rng.int(fromMs, toMs);

  // --- clean baseline
  const baselineCalls = options.baselineCalls ?? 480;
  for (let i = 0; i < baselineCalls; i++) add({ startMs: at(0, spanMs), ...anyBaselineSource(), scenario: 'baseline', connected: rng.chance(0.9) });
  // genuine callers calling the same source again, hours later
  for (let i = 0; i < 10; i++) {
    const from = validNumber();
    const src = anyBaselineSource();
    const first = at(0, 48 * HOUR);
    add({ startMs: first, ...src, scenario: 'baseline', from });
    add({ startMs: first + rng.int(2 * HOUR, 20 * HOUR), ...src, scenario: 'baseline', from });
  }

  // --- near-buffer hang-ups concentrated on one source
  for (let i = 0; i < 30; i++)
    add({ startMs: at(0, spanMs), publisherId: 'pub-social', subSource: 'tiktok', scenario: 'near_buffer', signals: ['near_buffer_hangup'], totalSec: terms.bufferSec + rng.int(0, Math.max(0, margin - 1)) });

  // --- repeat-caller ring across two publishers
  for (let c = 0; c < 8; c++) {
    const from = validNumber();
    let startMs = at(0, 24 * HOUR);
    for (let k = 0; k < 3; k++) {
      const src = k % 2 === (c % 2) ? { publisherId: 'pub-search', subSource: 'google' } : { publisherId: 'pub-compare', subSource: 'site-a' };
      add({ startMs, ...src, scenario: 'repeat_ring', from, signals: k === 0 ? [] : ['repeat_caller'] });
      startMs += rng.int(2 * HOUR, 10 * HOUR);
    }
  }

  // --- robocall burst: no passing attestation, invalid or unallocatable numbers
  const burstAt = at(30 * HOUR, 40 * HOUR);
  const verstats = [null, 'No-TN-Validation', 'TN-Validation-Failed', 'TN-Validation-Passed-C', 'TN-Validation-Failed-B'];
  for (let i = 0; i < 15; i++) {
    const npa = rng.pick(AREA_CODES);
    const shape = i % 3;
    const from =
      shape === 0
        ? `+1999${rng.int(200, 999)}${String(rng.int(0, 9999)).padStart(4, '0')}` // unassigned NPA
        : shape === 1
          ? `+1${npa}${rng.int(0, 1)}${rng.int(10, 99)}${String(rng.int(0, 9999)).padStart(4, '0')}` // exchange 0xx / 1xx
          : `+1${npa}${rng.int(200, 999)}${String(rng.int(0, 999)).padStart(3, '0')}`; // one digit short
    add({
      startMs: burstAt + i * rng.int(40_000, 70_000),
      publisherId: 'pub-compare',
      subSource: 'site-b',
      scenario: 'robocall_burst',
      signals: ['robocall_suspect'],
      from,
      stirVerstat: verstats[i % verstats.length]!,
      answeredBy: i % 4 === 0 ? 'machine_start' : null,
      totalSec: rng.int(15, 50),
      ivr: null,
    });
  }

  // --- coached IVR: 200 ± 20 ms after the prompt starts
  const coachedAt = at(10 * HOUR, 60 * HOUR);
  for (let i = 0; i < 12; i++) {
    const startMs = coachedAt + i * rng.int(4 * MIN, 6 * MIN);
    const prompt = startMs + rng.int(1_000, 4_000);
    add({
      startMs,
      publisherId: 'pub-search',
      subSource: 'bing',
      scenario: 'coached_ivr',
      signals: ['coached_ivr'],
      ivr: { promptStartedAtMs: prompt, answeredAtMs: prompt + 200 + rng.int(-20, 20) },
      totalSec: rng.int(terms.bufferSec + margin, 400),
    });
  }

  // --- velocity burst: different callers from one number block, a minute or two apart
  const block = validNumber().slice(2, 8); // an NPA-NXX of valid numbers nobody else calls from
  const velocityAt = at(20 * HOUR, 50 * HOUR);
  let vAt = velocityAt;
  for (let i = 0; i < 10; i++) {
    add({ startMs: vAt, publisherId: 'pub-social', subSource: 'fb', scenario: 'velocity_burst', from: validNumber(block), signals: i + 1 >= config.velocity.blockCount ? ['velocity'] : [] });
    vAt += rng.int(MIN, 2 * MIN);
  }

  // --- silent connections: minutes on the line, seconds of talk
  for (let i = 0; i < 8; i++) {
    const totalSec = rng.int(120, 300);
    add({ startMs: at(0, spanMs), publisherId: 'pub-compare', subSource: 'site-a', scenario: 'silent_talk', signals: ['silent_or_short_talk'], totalSec, talkSec: rng.int(0, 8) });
  }

  // --- compliance ground truth (clean as far as quality goes)
  for (let i = 0; i < 6; i++) add({ startMs: at(0, spanMs), ...anyBaselineSource(), scenario: 'dnc_listed', compliance: ['dnc_listed'] });
  for (let i = 0; i < 8; i++)
    add({ startMs: at(0, spanMs), publisherId: 'pub-dialer', subSource: null, scenario: 'outbound_no_consent', compliance: ['outbound_without_consent'], consentCaptured: false });

  const ordered = calls
    .map((c, i) => ({ c, i }))
    .sort((a, b) => a.c.startedAtMs - b.c.startedAtMs || a.i - b.i)
    .map(({ c }, n) => ({ callId: `qc-${String(n).padStart(4, '0')}`, ...c }));
  return { terms, config, publishers: CORPUS_PUBLISHERS, calls: ordered };
}

// ------------------------------------------------------------------------------------------------ scoring

export interface SignalScore {
  readonly signal: QualitySignal;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  /** 1 when nothing was predicted (no false alarm). */
  readonly precision: number;
  /** 1 when nothing was labelled. */
  readonly recall: number;
}

/** The scores as the text table the acceptance tests print: one row per signal, counts and precision/recall. */
export function scoreTable(scores: readonly (Omit<SignalScore, 'signal'> & { readonly signal: string })[]): string {
  return [
    'signal                 labelled  flagged  TP  FP  FN  precision  recall',
    ...scores.map((s) =>
      [
        s.signal.padEnd(22),
        String(s.truePositives + s.falseNegatives).padStart(8),
        String(s.truePositives + s.falsePositives).padStart(8),
        String(s.truePositives).padStart(3),
        String(s.falsePositives).padStart(3),
        String(s.falseNegatives).padStart(3),
        s.precision.toFixed(3).padStart(10),
        s.recall.toFixed(3).padStart(7),
      ].join(' '),
    ),
  ].join('\n');
}

/** The signal the system flags for each compliance label (rating/rules.ts CALL_SIGNALS). */
export const COMPLIANCE_SIGNAL: Readonly<Record<ComplianceLabel, 'dnc_listed' | 'consent_missing'>> = {
  dnc_listed: 'dnc_listed',
  outbound_without_consent: 'consent_missing',
};

/** Every signal the system should flag on the call: its quality labels and its compliance labels' signals. */
export function expectedCallSignals(call: Pick<QualityCorpusCall, 'labels'>): string[] {
  return [...call.labels.signals, ...call.labels.compliance.map((l) => COMPLIANCE_SIGNAL[l])];
}

/**
 * Precision and recall per signal of `predicted` (call id → signals) against the corpus's labels: the quality signals
 * by default; pass `signals` (e.g. with `dnc_listed`, `consent_missing`) to score the compliance labels too.
 */
export function scoreSignals<S extends string = QualitySignal>(
  calls: readonly Pick<QualityCorpusCall, 'callId' | 'labels'>[],
  predicted: ReadonlyMap<string, readonly string[]>,
  signals: readonly S[] = QUALITY_SIGNALS as unknown as readonly S[],
): (Omit<SignalScore, 'signal'> & { readonly signal: S })[] {
  return signals.map((signal) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const c of calls) {
      const truth = expectedCallSignals(c).includes(signal);
      const said = (predicted.get(c.callId) ?? []).includes(signal);
      if (truth && said) tp++;
      else if (said) fp++;
      else if (truth) fn++;
    }
    return { signal, truePositives: tp, falsePositives: fp, falseNegatives: fn, precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: tp + fn === 0 ? 1 : tp / (tp + fn) };
  });
}
