/**
 * Quality signals: junk patterns a call shows, computed when it is rated, stored on the call, counted per source.
 * This module is their vocabulary (the signals, the account's configuration, a finding, how findings of one call
 * combine and when they block); each signal's rules live in the module that decides them (below). Pure: no I/O, no
 * clock, no full zod (the schema is in signals-schema.ts, so the ledger writer can import these modules without
 * bundling zod). A signal FLAGS a call; it makes the call non-billable (`blocked_signal`) only when the account lists
 * it in `blockSignals`.
 *
 * Signals, their rules (defaults in DEFAULT_QUALITY_CONFIG) and evidence. Evidence is the inputs that decided the
 * signal, never the caller's number (a number's CLASS, an attestation value, a prior call id, counts).
 *
 *  near_buffer_hangup    [rating time] the call connected and its billable seconds (terms' duration basis, as
 *                        rating computes them) are in [bufferSec, bufferSec + nearBufferMarginSec): it cleared the
 *                        buffer by less than the margin (10 s). One such call says little; a source whose share of
 *                        them stands above the account's baseline says a lot (sourceFraudScore, nearBufferHistogram).
 *                        Evidence: durationBasis, billableSec, bufferSec, marginSec.
 *  silent_or_short_talk  [rating time] the call connected, lasted ≥ silentTalk.minTotalSec (60 s), and the measured
 *                        talk (the dialled leg's seconds, or the recording's length; the larger of the two when both
 *                        are known, so a recording of the whole call never makes a call look silent) is below both
 *                        maxTalkRatio × totalSec (20 %) and minTalkSec (30 s: talk that long is a conversation,
 *                        whatever the ratio). No measurement: no evidence, no signal. Evidence: totalSec, talkSec,
 *                        recordingDurationSec, measuredTalkSec, ratio, thresholds.
 *  robocall_suspect      [rating time] on an inbound call (direction inbound or unknown), any of:
 *                        - attestation: Twilio StirVerstat absent, `TN-Validation-Passed-C`, any `…-Failed…`,
 *                          `No-TN-Validation`, or a value we do not recognise (only Passed-A and Passed-B pass);
 *                        - caller_number: the caller's number is invalid (not a possible number: wrong length, not
 *                          digits) or unallocatable (possible but outside the numbering plan, e.g. NPA 0xx/1xx/999,
 *                          exchange 0xx/1xx), per libphonenumber-js "min" metadata; a SIP or client address with no
 *                          number in it is invalid too. A withheld caller (anonymous / restricted / unknown / empty,
 *                          caller.ts WITHHELD_CALLER_IDS) is not judged by this rule: rule caller_id_withheld and the
 *                          caller_id_withheld signal (rating/rules.ts) are about it;
 *                        - machine_detected: answering-machine detection said `machine_*` or `fax` (the CALLER is a
 *                          machine). Evidence: attestation class and raw StirVerstat, number class, answeredBy.
 *  coached_ivr           [rating time, rule too_fast] the caller's IVR answer came less than coachedIvr.minHumanMs
 *                        (1,500 ms) after the prompt started: faster than a person can hear the options and react.
 *                        [streaming, rule identical_timing] at least identicalTimingMinCallers (5) distinct callers,
 *                        this one included, answered with delays within ±identicalTimingToleranceMs (25 ms) of this
 *                        call's delay, within identicalTimingWindowMinutes (60) before it: people spread by seconds,
 *                        a script or a bot does not. Evidence: answerDelayMs, thresholds, matchingCallers.
 *  repeat_caller         [streaming, or rating time with a per-caller last-seen record] the same caller (keyed
 *                        hash) placed a call within repeatWindowHours (72 h) through ANOTHER source (publisher, or
 *                        the same publisher's other sub-source): cross-publisher farming. A caller redialling the
 *                        same source is the duplicate rule's business, not this signal's. Evidence: the prior call id,
 *                        its publisher / sub-source and start, hoursApart, windowHours.
 *  velocity              [streaming] at least velocity.count (3) calls from the same caller, or velocity.blockCount
 *                        (6) calls from the same number block (the first numberBlockDigits (6) national digits, NPA-NXX
 *                        in the NANP), this one included, within velocity.windowMinutes (30). Evidence: scope
 *                        (caller | number_block), callsInWindow, threshold, windowMinutes, the block key for blocks.
 *
 * Rating time vs streaming: callSignals (call-signals.ts) needs one call's facts and its terms; repeatCallerFrom
 * (repeat-caller.ts) needs the caller's last-seen record (one small item per caller hash, kept by the writer with
 * nextLastSeen). Velocity and identical IVR timing need the calls around this one: createCrossCallDetector
 * (cross-call.ts) runs them (and repeat_caller) over calls in start order with state bounded by its windows; the
 * scheduled quality pass (shared/app/quality/quality-pass.ts) runs it over stored calls and stores its findings beside
 * the rating (cross-call-flags.ts CrossCallFlags: flags only, never billing). IVR timing comes from the stored
 * requests (ivr-timing.ts). What the steps after rating know of a caller without the number: caller-traits.ts.
 *
 * Per source (source-score.ts): countSignalsBySource → sourceFraudScore (0..100 with its contributions) and
 * nearBufferHistogram.
 */
// ---------------------------------------------------------------- vocabulary and configuration

export const QUALITY_SIGNALS = [
  'near_buffer_hangup',
  'repeat_caller',
  'velocity',
  'silent_or_short_talk',
  'robocall_suspect',
  'coached_ivr',
] as const;
export type QualitySignal = (typeof QUALITY_SIGNALS)[number];

/** The rating reason a call gets when one of its signals is in the account's `blockSignals`. */
export const BLOCKED_SIGNAL_REASON = 'blocked_signal' as const;

/** Per account. Validated by QualityConfigSchema (signals-schema.ts), which applies these defaults. */
export interface QualityConfig {
  /** near_buffer_hangup: billable seconds in [buffer, buffer + margin). 0 turns the signal off. */
  readonly nearBufferMarginSec: number;
  /** repeat_caller: how far apart two calls of one caller through different sources may start. */
  readonly repeatWindowHours: number;
  readonly velocity: {
    /** Calls from one caller within the window (this one included) that make velocity. */
    readonly count: number;
    /** Calls from one number block within the window (this one included) that make velocity. */
    readonly blockCount: number;
    readonly windowMinutes: number;
    /** National digits that name a block: 6 = NPA-NXX in the NANP. */
    readonly numberBlockDigits: number;
  };
  readonly silentTalk: {
    /** Talk below this share of the whole call … */
    readonly maxTalkRatio: number;
    /** … and below these seconds (talk this long is a conversation whatever the ratio) … */
    readonly minTalkSec: number;
    /** … on a call at least this long (shorter calls are hang-ups; their ratio says nothing). */
    readonly minTotalSec: number;
  };
  readonly coachedIvr: {
    /** Answers earlier than this after the prompt started are too fast for a person (prompt + reaction). */
    readonly minHumanMs: number;
    /** Two answer delays within ± this many ms count as identical. */
    readonly identicalTimingToleranceMs: number;
    /** Distinct callers (this one included) with identical timing that make the signal. */
    readonly identicalTimingMinCallers: number;
    readonly identicalTimingWindowMinutes: number;
  };
  /** Signals that make a call non-billable (`blocked_signal`) instead of only flagging it. */
  readonly blockSignals: readonly QualitySignal[];
  readonly score: {
    /** A source scoring at least this is flagged. */
    readonly flagAt: number;
    /** Below this many calls a source's score is reported as not yet meaningful (`sufficient: false`). */
    readonly minCalls: number;
    /** Floor of the account's near-buffer share when comparing a source with it (a clean account has ~0). */
    readonly minBaselineNearBufferShare: number;
  };
}

export const DEFAULT_QUALITY_CONFIG: QualityConfig = {
  nearBufferMarginSec: 10,
  repeatWindowHours: 72,
  velocity: { count: 3, blockCount: 6, windowMinutes: 30, numberBlockDigits: 6 },
  silentTalk: { maxTalkRatio: 0.2, minTalkSec: 30, minTotalSec: 60 },
  coachedIvr: { minHumanMs: 1_500, identicalTimingToleranceMs: 25, identicalTimingMinCallers: 5, identicalTimingWindowMinutes: 60 },
  blockSignals: [],
  score: { flagAt: 50, minCalls: 20, minBaselineNearBufferShare: 0.02 },
};

/** One signal on one call: the rules of it that fired and what decided them. */
export interface QualityFinding {
  readonly signal: QualitySignal;
  readonly rules: readonly string[];
  readonly evidence: Readonly<Record<string, unknown>>;
}

/**
 * When the caller answered the IVR, on one clock. Derived per call by ivr-timing.ts `ivrTimingOf` from what Twilio
 * sends (no Timestamp on voice requests, so both are our receipts):
 * - promptStartedAtMs: when the incoming-call webhook (the voice URL request) reached us — the prompt starts after it;
 * - answeredAtMs: when the gather's action request (with `Digits`) reached us. With `numDigits` set, Twilio requests
 *   the action as soon as the last key is pressed.
 * The delay is an upper bound of the true one (greeting, TwiML fetch and request latency are in it; ≈100–300 ms of
 * latency for every caller alike): it does not hide identical timing, and minHumanMs leaves room for it.
 */
export interface IvrTiming {
  readonly promptStartedAtMs: number;
  readonly answeredAtMs: number;
}

export function answerDelayMs(ivr: IvrTiming): number {
  return ivr.answeredAtMs - ivr.promptStartedAtMs;
}

// ---------------------------------------------------------------- sources

/** Where a call came from: publisher and sub-source. */
export interface SourceRef {
  readonly publisherId: string;
  readonly subSource: string | null;
}

export function sourceKey(s: SourceRef): string {
  return `${s.publisherId}/${s.subSource ?? ''}`;
}

// ---------------------------------------------------------------- combining and blocking

/** QUALITY_SIGNALS order: the order findings are reported and stored in. */
export function bySignalOrder(a: QualityFinding, b: QualityFinding): number {
  return QUALITY_SIGNALS.indexOf(a.signal) - QUALITY_SIGNALS.indexOf(b.signal);
}

/** One finding per signal (rules and evidence of the same signal merged), in QUALITY_SIGNALS order. */
export function mergeFindings(...groups: readonly (readonly QualityFinding[])[]): QualityFinding[] {
  const bySignal = new Map<QualitySignal, QualityFinding>();
  for (const f of groups.flat()) {
    const prior = bySignal.get(f.signal);
    bySignal.set(
      f.signal,
      prior
        ? { signal: f.signal, rules: [...prior.rules, ...f.rules.filter((r) => !prior.rules.includes(r))], evidence: { ...prior.evidence, ...f.evidence } }
        : f,
    );
  }
  return [...bySignal.values()].sort(bySignalOrder);
}

/** The rule the writer appends to a rating: fails when a finding's signal is one the account blocks. */
export interface BlockedSignalRule {
  readonly rule: typeof BLOCKED_SIGNAL_REASON;
  readonly passed: boolean;
  readonly inputs: { readonly signals: readonly QualitySignal[]; readonly blockSignals: readonly QualitySignal[]; readonly blockedBy: readonly QualitySignal[] };
}

export function blockedSignalRule(findings: readonly QualityFinding[], config: QualityConfig = DEFAULT_QUALITY_CONFIG): BlockedSignalRule {
  const signals = findings.map((f) => f.signal);
  const blockedBy = signals.filter((s) => config.blockSignals.includes(s));
  return { rule: BLOCKED_SIGNAL_REASON, passed: blockedBy.length === 0, inputs: { signals, blockSignals: config.blockSignals, blockedBy } };
}
