/**
 * Quality signals (issue 6): junk patterns a call shows, computed when it is rated, stored on the call, counted
 * per source. Pure: no I/O, no clock, no full zod (the schema is in quality-signals-schema.ts, so the ledger
 * writer can import this module without bundling zod). A signal FLAGS a call; it makes the call non-billable
 * (`blocked_signal`) only when the account lists it in `blockSignals`.
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
 *                          caller_id_withheld signal (rating-v2.ts) are about it;
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
 * Rating time vs streaming: callSignals needs one call's facts and its terms; repeatCallerFrom needs the caller's
 * last-seen record (one small item per caller hash, kept by the writer with nextLastSeen). Velocity and identical
 * IVR timing need the calls around this one: createCrossCallDetector runs them (and repeat_caller) over calls in
 * start order with state bounded by its windows; the scheduled quality pass (shared/app/quality/quality-pass.ts) runs it over
 * stored calls and stores its findings beside the rating (CrossCallFlags below: flags only, never billing). IVR timing
 * comes from the stored requests (ivr-timing.ts).
 *
 * Per source: countSignalsBySource → sourceFraudScore (0..100 with its contributions) and nearBufferHistogram.
 */
import { createHmac } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { callerIdentity, type CallerNumberClass } from '../calls/caller';
import type { CallFacts } from '../rating/decision';
import type { ContractTerms } from '../terms/terms';

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

/** Per account. Validated by QualityConfigSchema (quality-signals-schema.ts), which applies these defaults. */
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

/** One call's facts for the per-call signals: rating's facts plus what only quality needs. */
export interface QualityFacts extends Pick<CallFacts, 'status' | 'from' | 'totalSec' | 'talkSec' | 'answeredBy'> {
  /**
   * Twilio StirVerstat from the incoming-call webhook (the `ringing` event); null when Twilio sent none; undefined
   * when that event is not at hand (the writer rates from the final callback alone): the attestation rule is then
   * not evaluated rather than guessed.
   */
  readonly stirVerstat: string | null | undefined;
  readonly direction: 'inbound' | 'outbound-api' | 'outbound-dial' | null;
  /** Seconds of the call's completed recording, or null when there is none. */
  readonly recordingDurationSec: number | null;
  readonly ivr: IvrTiming | null;
  /**
   * The class of `from` as recorded at rating (CallerTraits), for a call read back from its item, which no longer
   * stores the number (issue 6, "PII"); absent: classified from `from`.
   */
  readonly callerNumber?: CallerNumberClass;
}

export type QualityTerms = Pick<ContractTerms, 'bufferSec' | 'durationBasis'>;

// ---------------------------------------------------------------- per call (rating time)

/** Every per-call signal of the call, in QUALITY_SIGNALS order. Pure and deterministic. */
export function callSignals(facts: QualityFacts, terms: QualityTerms, config: QualityConfig = DEFAULT_QUALITY_CONFIG): QualityFinding[] {
  return [nearBufferFinding(facts, terms, config), silentTalkFinding(facts, config), robocallFinding(facts), tooFastIvrFinding(facts, config)]
    .filter((f): f is QualityFinding => f !== null)
    .sort(bySignalOrder);
}

/** Seconds the buffer is compared with, exactly as rating-v2 computes them. */
export function billableSecondsOf(facts: Pick<QualityFacts, 'totalSec' | 'talkSec'>, terms: QualityTerms): number {
  return terms.durationBasis === 'total' ? facts.totalSec : (facts.talkSec ?? 0);
}

export function isNearBuffer(billableSec: number, bufferSec: number, marginSec: number): boolean {
  return billableSec >= bufferSec && billableSec < bufferSec + marginSec;
}

function nearBufferFinding(facts: QualityFacts, terms: QualityTerms, config: QualityConfig): QualityFinding | null {
  if (facts.status !== 'completed') return null;
  const billableSec = billableSecondsOf(facts, terms);
  if (!isNearBuffer(billableSec, terms.bufferSec, config.nearBufferMarginSec)) return null;
  return {
    signal: 'near_buffer_hangup',
    rules: ['near_buffer'],
    evidence: { durationBasis: terms.durationBasis, billableSec, bufferSec: terms.bufferSec, marginSec: config.nearBufferMarginSec },
  };
}

function silentTalkFinding(facts: QualityFacts, config: QualityConfig): QualityFinding | null {
  const { maxTalkRatio, minTalkSec, minTotalSec } = config.silentTalk;
  if (facts.status !== 'completed' || facts.totalSec < minTotalSec) return null;
  const measured = [facts.talkSec, facts.recordingDurationSec].filter((s): s is number => s !== null);
  if (measured.length === 0) return null;
  const measuredTalkSec = Math.max(...measured);
  if (!(measuredTalkSec < minTalkSec && measuredTalkSec < maxTalkRatio * facts.totalSec)) return null;
  return {
    signal: 'silent_or_short_talk',
    rules: ['short_talk'],
    evidence: {
      totalSec: facts.totalSec,
      talkSec: facts.talkSec,
      recordingDurationSec: facts.recordingDurationSec,
      measuredTalkSec,
      ratio: Math.round((measuredTalkSec / facts.totalSec) * 1000) / 1000,
      maxTalkRatio,
      minTalkSec,
    },
  };
}

export type AttestationClass = 'A' | 'B' | 'C' | 'failed' | 'no_validation' | 'absent' | 'unrecognised';

/** Twilio StirVerstat → what it says about the caller id. Only A and B (full / partial attestation) pass. */
export function attestationOf(stirVerstat: string | null): AttestationClass {
  const v = stirVerstat?.trim() ?? '';
  if (v === '') return 'absent';
  if (v === 'TN-Validation-Passed-A') return 'A';
  if (v === 'TN-Validation-Passed-B') return 'B';
  if (v === 'TN-Validation-Passed-C') return 'C';
  if (/-Failed/i.test(v)) return 'failed';
  if (v === 'No-TN-Validation') return 'no_validation';
  return 'unrecognised';
}

export type { CallerNumberClass };

/**
 * What the caller's number is, without saying it (caller.ts callerIdentity, the one place that decides it):
 * `withheld` (anonymous / restricted / unknown / empty, per provider), `invalid` (not a possible number, or a SIP /
 * client address), `unallocatable` (possible length, outside the numbering plan), `valid`.
 */
export function callerNumberClass(raw: string): CallerNumberClass {
  return callerIdentity(raw).numberClass;
}

function robocallFinding(facts: QualityFacts): QualityFinding | null {
  if (facts.direction !== null && facts.direction !== 'inbound') return null;
  const attestation = facts.stirVerstat === undefined ? 'unknown' : attestationOf(facts.stirVerstat);
  const callerNumber = facts.callerNumber ?? callerNumberClass(facts.from);
  const machine = facts.answeredBy !== null && (facts.answeredBy.startsWith('machine_') || facts.answeredBy === 'fax');
  const rules = [
    ...(attestation === 'A' || attestation === 'B' || attestation === 'unknown' ? [] : ['attestation']),
    ...(callerNumber === 'invalid' || callerNumber === 'unallocatable' ? ['caller_number'] : []),
    ...(machine ? ['machine_detected'] : []),
  ];
  if (rules.length === 0) return null;
  return {
    signal: 'robocall_suspect',
    rules,
    evidence: { attestation, stirVerstat: facts.stirVerstat, callerNumber, answeredBy: facts.answeredBy },
  };
}

/**
 * robocall_suspect by its attestation rule alone, from a stored incoming-call event: the quality pass's for calls
 * rated before that event arrived (rating leaves the rule out then, never guessing). null when the event is not
 * there (`undefined`), the call is not inbound, or the attestation passes (A or B).
 */
export function attestationFinding(facts: Pick<QualityFacts, 'stirVerstat' | 'direction'>): QualityFinding | null {
  if (facts.stirVerstat === undefined) return null;
  if (facts.direction !== null && facts.direction !== 'inbound') return null;
  const attestation = attestationOf(facts.stirVerstat);
  if (attestation === 'A' || attestation === 'B') return null;
  return { signal: 'robocall_suspect', rules: ['attestation'], evidence: { attestation, stirVerstat: facts.stirVerstat } };
}

/** coached_ivr by rule too_fast from one call's IVR timing (also run by the quality pass on stored calls). */
export function tooFastIvrFinding(facts: Pick<QualityFacts, 'ivr'>, config: QualityConfig): QualityFinding | null {
  if (facts.ivr === null) return null;
  const delay = answerDelayMs(facts.ivr);
  if (!(delay < config.coachedIvr.minHumanMs)) return null;
  return { signal: 'coached_ivr', rules: ['too_fast'], evidence: { answerDelayMs: delay, minHumanMs: config.coachedIvr.minHumanMs } };
}

// ---------------------------------------------------------------- repeat caller at rating time

/** Where a call came from: publisher and sub-source. */
export interface SourceRef {
  readonly publisherId: string;
  readonly subSource: string | null;
}

export function sourceKey(s: SourceRef): string {
  return `${s.publisherId}/${s.subSource ?? ''}`;
}

/** A caller's latest call through one source. */
export interface LastSeenEntry extends SourceRef {
  readonly callId: string;
  readonly startedAtMs: number;
}

/**
 * A caller's last-seen record, as the writer keeps it per caller hash: the latest call per source, newest first,
 * at most MAX_SOURCES_PER_CALLER sources (nextLastSeen keeps it so).
 */
export type CallerLastSeen = readonly LastSeenEntry[];
export const MAX_SOURCES_PER_CALLER = 4;

export interface RepeatCallInput extends SourceRef {
  readonly callId: string;
  readonly startedAtMs: number;
}

/**
 * repeat_caller from the caller's last-seen record. Symmetric like the duplicate window (|Δ| < window): the writer
 * rates calls in arrival order, so a later call may already be in the record. The nearest other-source call wins.
 */
export function repeatCallerFrom(lastSeen: CallerLastSeen, call: RepeatCallInput, config: QualityConfig = DEFAULT_QUALITY_CONFIG): QualityFinding | null {
  const windowMs = config.repeatWindowHours * 3_600_000;
  const key = sourceKey(call);
  let best: LastSeenEntry | null = null;
  for (const e of lastSeen) {
    if (e.callId === call.callId || sourceKey(e) === key) continue;
    const apart = Math.abs(e.startedAtMs - call.startedAtMs);
    if (apart >= windowMs) continue;
    if (best === null || apart < Math.abs(best.startedAtMs - call.startedAtMs) || (apart === Math.abs(best.startedAtMs - call.startedAtMs) && e.callId < best.callId)) best = e;
  }
  if (best === null) return null;
  return {
    signal: 'repeat_caller',
    rules: ['other_source'],
    evidence: {
      priorCallId: best.callId,
      priorPublisherId: best.publisherId,
      priorSubSource: best.subSource,
      priorStartedAt: new Date(best.startedAtMs).toISOString(),
      hoursApart: Math.round((Math.abs(best.startedAtMs - call.startedAtMs) / 3_600_000) * 100) / 100,
      windowHours: config.repeatWindowHours,
    },
  };
}

/**
 * The record after this call: its source's entry replaced if this call is later, entries older than the window
 * (measured from the newest start in the record) dropped, at most MAX_SOURCES_PER_CALLER kept (newest).
 */
export function nextLastSeen(lastSeen: CallerLastSeen, call: RepeatCallInput, config: QualityConfig = DEFAULT_QUALITY_CONFIG): CallerLastSeen {
  const key = sourceKey(call);
  const own = lastSeen.find((e) => sourceKey(e) === key);
  const mine: LastSeenEntry = { publisherId: call.publisherId, subSource: call.subSource, callId: call.callId, startedAtMs: call.startedAtMs };
  const keep = own && own.startedAtMs >= call.startedAtMs ? own : mine;
  const all = [keep, ...lastSeen.filter((e) => sourceKey(e) !== key)].sort((a, b) => b.startedAtMs - a.startedAtMs || (a.callId < b.callId ? -1 : 1));
  const newest = all[0]!.startedAtMs;
  const windowMs = config.repeatWindowHours * 3_600_000;
  return all.filter((e) => newest - e.startedAtMs < windowMs).slice(0, MAX_SOURCES_PER_CALLER);
}

// ---------------------------------------------------------------- number blocks

/**
 * The block a caller's number belongs to: country code + the first `digits` national digits (`1-512555` for
 * +1 512 555 0142 with 6). Null for numbers that are not possible numbers (withheld, invalid). Feed the detector
 * this, or a keyed hash of it if blocks must not be stored in clear.
 */
export function numberBlockOf(raw: string, digits: number): string | null {
  const identity = callerIdentity(raw);
  if (identity.numberClass !== 'valid' && identity.numberClass !== 'unallocatable') return null;
  const parsed = parsePhoneNumberFromString(identity.canonical);
  if (!parsed || !parsed.isPossible()) return null;
  return `${parsed.countryCallingCode}-${String(parsed.nationalNumber).slice(0, digits)}`;
}

/**
 * The number block as it is stored and compared (issue 6, "PII"): `<digits>:<keyed hash>`, HMAC-SHA256 under the
 * caller-hash key of `block:<digits>:<block>` (domain-separated from the caller hash, whose input is an E.164 number),
 * 16 base64url characters (96 bits). Blocks of different digit counts never compare equal. Null when numberBlockOf is.
 */
export function keyedNumberBlock(key: string, raw: string, digits: number): string | null {
  const block = numberBlockOf(raw, digits);
  if (block === null) return null;
  return `${digits}:${createHmac('sha256', key).update(`block:${digits}:${block}`, 'utf8').digest('base64url').slice(0, 16)}`;
}

/** The number-block digit count a keyedNumberBlock value was made with (null: not one). */
export function keyedBlockDigits(value: string): number | null {
  const m = /^(\d):[A-Za-z0-9_-]{16}$/.exec(value);
  return m === null ? null : Number(m[1]);
}

// ---------------------------------------------------------------- caller traits

/**
 * What the steps after rating need to know of a caller, without the number (issue 6, "PII"). Recorded on the call
 * item with the first rating, when the number is at hand; the number itself is only kept sealed (`callerEnc`):
 * - `numberClass`: robocall_suspect's `caller_number` rule, on re-rating;
 * - `areaCode`: the NANP area code of a valid +1 number (rating-v2 callerGeo), for the geography rule on re-rating
 *   and in the rating explanation; null otherwise;
 * - `numberBlock`: keyedNumberBlock at the account's velocity.numberBlockDigits then, for the quality pass.
 */
export interface CallerTraits {
  readonly numberClass: CallerNumberClass;
  readonly areaCode: string | null;
  readonly numberBlock: string | null;
}

// ---------------------------------------------------------------- cross-call (streaming)

/** What the streaming detector needs of a call. No number: the caller's keyed hash and number block only. */
export interface CrossCallInput extends SourceRef {
  readonly callId: string;
  readonly startedAtMs: number;
  /** Keyed hash of the caller (caller.ts callerHash); null for a withheld caller (no repeat / caller velocity). */
  readonly callerHash: string | null;
  /** numberBlockOf(from, velocity.numberBlockDigits), or a keyed form of it; null: no block velocity. */
  readonly numberBlock: string | null;
  readonly ivr: IvrTiming | null;
}

/** The feed order: start time, then call id (so ties never depend on arrival order). */
export function compareCrossCallInputs(a: Pick<CrossCallInput, 'startedAtMs' | 'callId'>, b: Pick<CrossCallInput, 'startedAtMs' | 'callId'>): number {
  return a.startedAtMs - b.startedAtMs || (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0);
}

export interface CrossCallStateSize {
  /** Callers with a last-seen record (repeat_caller). */
  readonly callers: number;
  /** Last-seen entries in all records (≤ calls started within repeatWindowHours). */
  readonly repeatEntries: number;
  /** Call times held for velocity (≤ 2 × calls started within velocity.windowMinutes: one per caller, one per block). */
  readonly velocityEntries: number;
  /** Answer delays held for identical timing (≤ calls with IVR timing started within its window). */
  readonly ivrEntries: number;
}

export interface CrossCallDetector {
  /**
   * The cross-call signals of `call` given the calls observed before it (repeat_caller, velocity, coached_ivr by
   * identical_timing). Calls must come in compareCrossCallInputs order; an earlier start throws a RangeError.
   */
  observe(call: CrossCallInput): QualityFinding[];
  stateSize(): CrossCallStateSize;
}

/** FIFO of (time, key) with amortised O(1) shift. */
class TimeQueue<K> {
  private items: { t: number; key: K }[] = [];
  private head = 0;
  push(t: number, key: K): void {
    this.items.push({ t, key });
  }
  /** Pops every entry with t ≤ cutoff, calling `drop` for each. */
  evict(cutoff: number, drop: (key: K, t: number) => void): void {
    while (this.head < this.items.length && this.items[this.head]!.t <= cutoff) {
      const it = this.items[this.head++]!;
      drop(it.key, it.t);
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  get size(): number {
    return this.items.length - this.head;
  }
  *entries(): Iterable<{ t: number; key: K }> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
}

/** Per-key counts of the entries a TimeQueue holds. */
function countDown(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/**
 * Streaming repeat_caller / velocity / identical IVR timing over calls in start order.
 *
 * Memory bound: every structure holds only calls that started within its window of the latest call observed:
 * last-seen records ≤ calls in the last repeatWindowHours (each record ≤ MAX_SOURCES_PER_CALLER entries); velocity
 * counts ≤ 2 entries per call in the last velocity.windowMinutes; IVR delays ≤ 1 per call in the last
 * identicalTimingWindowMinutes. Entries are evicted as the window slides (amortised O(1) per call); the identical-
 * timing check scans the IVR window (O(calls in that window) per call). At 10,000 calls a day and the defaults that
 * is ≤ 30,000 small last-seen entries and a few hundred velocity / IVR entries.
 */
export function createCrossCallDetector(config: QualityConfig = DEFAULT_QUALITY_CONFIG): CrossCallDetector {
  const repeatWindowMs = config.repeatWindowHours * 3_600_000;
  const velocityWindowMs = config.velocity.windowMinutes * 60_000;
  const ivrWindowMs = config.coachedIvr.identicalTimingWindowMinutes * 60_000;

  const lastSeen = new Map<string, CallerLastSeen>();
  const repeatQueue = new TimeQueue<string>();
  const velocityQueue = new TimeQueue<string>();
  const velocityCounts = new Map<string, number>();
  const ivrQueue = new TimeQueue<{ callerKey: string; delayMs: number }>();
  let latest = Number.NEGATIVE_INFINITY;
  let latestId = '';

  function evict(now: number): void {
    repeatQueue.evict(now - repeatWindowMs, (caller) => {
      const kept = (lastSeen.get(caller) ?? []).filter((e) => now - e.startedAtMs < repeatWindowMs);
      if (kept.length === 0) lastSeen.delete(caller);
      else lastSeen.set(caller, kept);
    });
    velocityQueue.evict(now - velocityWindowMs, (key) => countDown(velocityCounts, key));
    ivrQueue.evict(now - ivrWindowMs, () => undefined);
  }

  function velocityFinding(call: CrossCallInput): QualityFinding | null {
    const hits: { scope: 'caller' | 'number_block'; callsInWindow: number; threshold: number; numberBlock?: string }[] = [];
    if (call.callerHash !== null) {
      const n = (velocityCounts.get(`c:${call.callerHash}`) ?? 0) + 1;
      if (n >= config.velocity.count) hits.push({ scope: 'caller', callsInWindow: n, threshold: config.velocity.count });
    }
    if (call.numberBlock !== null) {
      const n = (velocityCounts.get(`b:${call.numberBlock}`) ?? 0) + 1;
      if (n >= config.velocity.blockCount) hits.push({ scope: 'number_block', callsInWindow: n, threshold: config.velocity.blockCount, numberBlock: call.numberBlock });
    }
    if (hits.length === 0) return null;
    return {
      signal: 'velocity',
      rules: hits.map((h) => h.scope),
      evidence: { windowMinutes: config.velocity.windowMinutes, numberBlockDigits: config.velocity.numberBlockDigits, hits },
    };
  }

  function identicalTimingFinding(call: CrossCallInput): QualityFinding | null {
    if (call.ivr === null) return null;
    const delay = answerDelayMs(call.ivr);
    const tol = config.coachedIvr.identicalTimingToleranceMs;
    const me = call.callerHash ?? `call:${call.callId}`;
    const callers = new Set<string>([me]);
    for (const { key } of ivrQueue.entries()) if (Math.abs(key.delayMs - delay) <= tol) callers.add(key.callerKey);
    if (callers.size < config.coachedIvr.identicalTimingMinCallers) return null;
    return {
      signal: 'coached_ivr',
      rules: ['identical_timing'],
      evidence: {
        answerDelayMs: delay,
        matchingCallers: callers.size,
        toleranceMs: tol,
        minCallers: config.coachedIvr.identicalTimingMinCallers,
        windowMinutes: config.coachedIvr.identicalTimingWindowMinutes,
      },
    };
  }

  return {
    observe(call) {
      if (compareCrossCallInputs(call, { startedAtMs: latest, callId: latestId }) < 0)
        throw new RangeError(`calls must be observed in start order: ${call.callId} starts before ${latestId}`);
      latest = call.startedAtMs;
      latestId = call.callId;
      evict(call.startedAtMs);

      const findings: QualityFinding[] = [];
      if (call.callerHash !== null) {
        const record = lastSeen.get(call.callerHash) ?? [];
        const repeat = repeatCallerFrom(record, call, config);
        if (repeat) findings.push(repeat);
        lastSeen.set(call.callerHash, nextLastSeen(record, call, config));
        repeatQueue.push(call.startedAtMs, call.callerHash);
      }
      const velocity = velocityFinding(call);
      if (velocity) findings.push(velocity);
      const timing = identicalTimingFinding(call);
      if (timing) findings.push(timing);

      for (const key of [call.callerHash !== null ? `c:${call.callerHash}` : null, call.numberBlock !== null ? `b:${call.numberBlock}` : null]) {
        if (key === null) continue;
        velocityQueue.push(call.startedAtMs, key);
        velocityCounts.set(key, (velocityCounts.get(key) ?? 0) + 1);
      }
      if (call.ivr !== null)
        ivrQueue.push(call.startedAtMs, { callerKey: call.callerHash ?? `call:${call.callId}`, delayMs: answerDelayMs(call.ivr) });
      return findings.sort(bySignalOrder);
    },
    stateSize() {
      let repeatEntries = 0;
      for (const r of lastSeen.values()) repeatEntries += r.length;
      return { callers: lastSeen.size, repeatEntries, velocityEntries: velocityQueue.size, ivrEntries: ivrQueue.size };
    },
  };
}

// ---------------------------------------------------------------- cross-call flags stored on a call

/**
 * What the scheduled quality pass (shared/app/quality/quality-pass.ts) stored on a rated call: the signals it found from the
 * calls around this one (repeat_caller, velocity, coached_ivr by identical_timing) and from the stored IVR timing
 * (coached_ivr by too_fast), with the rules that fired. FLAGS ONLY: the call was rated (and maybe charged) before;
 * these never change its rating or the ledger. Grown, never shrunk: more calls only ever add signals (later calls
 * arriving late can only raise counts), so the pass adds what is new and keeps what it stored.
 */
export interface CrossCallFlags {
  /** In QUALITY_SIGNALS order, each with the rules that fired. */
  readonly findings: readonly { readonly signal: QualitySignal; readonly rules: readonly string[] }[];
  /** repeat_caller: the other source's call that made it (for a dispute or a QA review); null otherwise. */
  readonly priorCallId: string | null;
  /** coached_ivr: the measured answer delay (ivr-timing.ts); null otherwise. */
  readonly answerDelayMs: number | null;
  /** When the pass first stored a flag on the call. */
  readonly flaggedAt: string;
}

export function crossCallSignalsOf(flags: CrossCallFlags | null | undefined): QualitySignal[] {
  return (flags?.findings ?? []).map((f) => f.signal);
}

/** The flags after adding `findings`, or null when they add no signal or rule (nothing to write). */
export function addCrossCallFindings(prior: CrossCallFlags | null, findings: readonly QualityFinding[], atIso: string): CrossCallFlags | null {
  const rules = new Map<QualitySignal, string[]>((prior?.findings ?? []).map((f) => [f.signal, [...f.rules]]));
  let changed = false;
  let priorCallId = prior?.priorCallId ?? null;
  let answerDelayMs = prior?.answerDelayMs ?? null;
  for (const f of findings) {
    const have = rules.get(f.signal) ?? [];
    for (const r of f.rules) {
      if (have.includes(r)) continue;
      have.push(r);
      changed = true;
    }
    rules.set(f.signal, have);
    if (f.signal === 'repeat_caller' && priorCallId === null && typeof f.evidence.priorCallId === 'string') priorCallId = f.evidence.priorCallId;
    if (f.signal === 'coached_ivr' && answerDelayMs === null && typeof f.evidence.answerDelayMs === 'number') answerDelayMs = f.evidence.answerDelayMs;
  }
  if (!changed) return null;
  return {
    findings: QUALITY_SIGNALS.filter((s) => rules.has(s)).map((signal) => ({ signal, rules: [...rules.get(signal)!].sort() })),
    priorCallId,
    answerDelayMs,
    flaggedAt: prior?.flaggedAt ?? atIso,
  };
}

/**
 * The stored form (a small Map on the call item, docs/CONTRACTS.md): `f` = `signal:rule+rule` space-separated,
 * `pc` the prior call id, `d` the answer delay (ms), `a` when first flagged (epoch ms). Plain values, no AWS types.
 */
export function encodeCrossCallFlags(flags: CrossCallFlags): Record<string, string | number> {
  return {
    f: flags.findings.map((x) => `${x.signal}:${x.rules.join('+')}`).join(' '),
    ...(flags.priorCallId === null ? {} : { pc: flags.priorCallId }),
    ...(flags.answerDelayMs === null ? {} : { d: flags.answerDelayMs }),
    a: Date.parse(flags.flaggedAt),
  };
}

export function decodeCrossCallFlags(raw: unknown): CrossCallFlags | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.f !== 'string' || r.f === '' || typeof r.a !== 'number') return null;
  const findings = r.f
    .split(' ')
    .map((part) => {
      const [signal, rules = ''] = part.split(':');
      return { signal: signal as QualitySignal, rules: rules === '' ? [] : rules.split('+') };
    })
    .filter((x) => (QUALITY_SIGNALS as readonly string[]).includes(x.signal));
  return {
    findings,
    priorCallId: typeof r.pc === 'string' ? r.pc : null,
    answerDelayMs: typeof r.d === 'number' ? r.d : null,
    flaggedAt: new Date(r.a).toISOString(),
  };
}

// ---------------------------------------------------------------- combining and blocking

function bySignalOrder(a: QualityFinding, b: QualityFinding): number {
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

// ---------------------------------------------------------------- per source

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
