/**
 * The per-call quality signals, decided at rating time from one call's facts and its terms: near_buffer_hangup,
 * silent_or_short_talk, robocall_suspect and coached_ivr by rule too_fast (each signal's rules are in signals.ts).
 * Also run by the quality pass on stored calls for the rules that need an event rating did not have
 * (attestationFinding, tooFastIvrFinding).
 */
import type { CallFacts } from '../rating/decision';
import type { ContractTerms } from '../terms/terms';
import { callerNumberClass, type CallerNumberClass } from './caller-traits';
import { answerDelayMs, bySignalOrder, DEFAULT_QUALITY_CONFIG, type IvrTiming, type QualityConfig, type QualityFinding } from './signals';

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
   * stores the number; absent: classified from `from`.
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

/** Seconds the buffer is compared with, exactly as rating (rating/rules.ts) computes them. */
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
