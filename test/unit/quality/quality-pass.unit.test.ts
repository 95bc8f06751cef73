/**
 * The quality pass's pure parts: the stored cross-call flags (grow only, nothing new → nothing to write, compact
 * codec), and how far back the detector must look. The pass itself runs against DynamoDB Local in
 * test/int/quality/quality-pass.int.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { lookBackMs, passCallOf } from '../../../shared/app/quality/quality-pass';
import type { StoredCall } from '../../../shared/app/kernel/ports';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import { attestationFinding } from '../../../shared/domain/quality/call-signals';
import { keyedBlockDigits, keyedNumberBlock } from '../../../shared/domain/quality/caller-traits';
import { addCrossCallFindings, crossCallSignalsOf, decodeCrossCallFlags, encodeCrossCallFlags } from '../../../shared/domain/quality/cross-call-flags';
import { DEFAULT_QUALITY_CONFIG, type QualityFinding } from '../../../shared/domain/quality/signals';

const AT = '2026-03-02T14:00:00.000Z';
const repeat: QualityFinding = { signal: 'repeat_caller', rules: ['other_source'], evidence: { priorCallId: 'twilio:CA1', hoursApart: 3 } };
const velocity = (rules: string[]): QualityFinding => ({ signal: 'velocity', rules, evidence: { hits: [] } });
const identical: QualityFinding = { signal: 'coached_ivr', rules: ['identical_timing'], evidence: { answerDelayMs: 5_053 } };

/** A stored completed status event of call twilio:CA1 (no caller number: slots carry none). */
const completed = (overrides: Partial<CallStatusEvent> = {}): CallStatusEvent => ({
  kind: 'call.status',
  eventId: 'twilio:CA1:status:completed',
  provider: 'twilio',
  accountId: 'acme',
  callId: 'twilio:CA1',
  occurredAt: AT,
  receivedAt: AT,
  sequenceNumber: null,
  status: 'completed',
  direction: 'inbound',
  from: '',
  to: '+15125550100',
  durationSec: 60,
  answeredBy: null,
  stirVerstat: null,
  digits: null,
  fromState: null,
  fromZip: null,
  fromCountry: null,
  parentCallId: null,
  ...overrides,
});

/** A rated, billable stored call twilio:CA1 with these events. */
const storedCall = (events: CallStatusEvent[]): StoredCall => ({
  callId: 'twilio:CA1',
  accountId: 'acme',
  events,
  rating: { billable: true, amountCents: 100, reasons: [], campaignId: 'c', publisherId: 'p', subSource: null, termsVersion: 1, recorded: {} },
  ratedAt: AT,
  startedAt: AT,
  endedAt: AT,
  durationSec: 60,
  recording: null,
});

describe('cross-call flags', () => {
  it('adds signals and rules, in signal order, keeping the first evidence and time; nothing new is null', () => {
    expect(addCrossCallFindings(null, [], AT)).toBeNull();
    const first = addCrossCallFindings(null, [velocity(['number_block']), repeat], AT)!;
    expect(first).toEqual({
      findings: [
        { signal: 'repeat_caller', rules: ['other_source'] },
        { signal: 'velocity', rules: ['number_block'] },
      ],
      priorCallId: 'twilio:CA1',
      answerDelayMs: null,
      flaggedAt: AT,
    });
    expect(addCrossCallFindings(first, [repeat, velocity(['number_block'])], '2026-03-03T00:00:00.000Z')).toBeNull();
    const grown = addCrossCallFindings(first, [{ ...repeat, evidence: { priorCallId: 'twilio:CA9' } }, velocity(['caller']), identical], '2026-03-03T00:00:00.000Z')!;
    expect(grown.findings).toEqual([
      { signal: 'repeat_caller', rules: ['other_source'] },
      { signal: 'velocity', rules: ['caller', 'number_block'] },
      { signal: 'coached_ivr', rules: ['identical_timing'] },
    ]);
    expect(grown).toMatchObject({ priorCallId: 'twilio:CA1', answerDelayMs: 5_053, flaggedAt: AT });
    expect(crossCallSignalsOf(grown)).toEqual(['repeat_caller', 'velocity', 'coached_ivr']);
    expect(crossCallSignalsOf(null)).toEqual([]);
  });

  it('round-trips through the compact stored form, which carries no number', () => {
    const flags = addCrossCallFindings(null, [repeat, velocity(['caller', 'number_block']), identical], AT)!;
    const stored = encodeCrossCallFlags(flags);
    expect(stored).toEqual({ f: 'repeat_caller:other_source velocity:caller+number_block coached_ivr:identical_timing', pc: 'twilio:CA1', d: 5_053, a: Date.parse(AT) });
    expect(decodeCrossCallFlags(stored)).toEqual(flags);
    expect(decodeCrossCallFlags({ f: '', a: 1 })).toBeNull();
    expect(decodeCrossCallFlags('x')).toBeNull();
    expect(decodeCrossCallFlags({ f: 'not_a_signal:x velocity:caller', a: 0 })?.findings).toEqual([{ signal: 'velocity', rules: ['caller'] }]);
  });
});

describe('the pass window', () => {
  it('looks back the longest detector window', () => {
    expect(lookBackMs(DEFAULT_QUALITY_CONFIG)).toBe(72 * 3_600_000);
    expect(lookBackMs({ ...DEFAULT_QUALITY_CONFIG, repeatWindowHours: 0.25, velocity: { ...DEFAULT_QUALITY_CONFIG.velocity, windowMinutes: 45 } })).toBe(60 * 60_000);
  });
});

describe('the caller number block the pass compares (the slots carry no number)', () => {
  const KEY = 'k'.repeat(64);
  const callOf = (from: string, callerTraits?: StoredCall['callerTraits']): StoredCall => ({
    ...storedCall([completed({ from })]),
    ...(callerTraits === undefined ? {} : { callerTraits }),
  });

  it('keys a block per digit count: same block same value, other block or digit count another, no clear digits', () => {
    const a = keyedNumberBlock(KEY, '+15125550142', 6)!;
    expect(a).toMatch(/^6:[A-Za-z0-9_-]{16}$/);
    expect(a).not.toContain('512555');
    expect(keyedNumberBlock(KEY, '+15125559999', 6)).toBe(a);
    expect(keyedNumberBlock(KEY, '+15125560142', 6)).not.toBe(a);
    expect(keyedNumberBlock(KEY, '+15125550142', 7)).toMatch(/^7:/);
    expect(keyedNumberBlock('other'.repeat(13), '+15125550142', 6)).not.toBe(a);
    expect(keyedNumberBlock(KEY, 'anonymous', 6)).toBeNull();
    expect(keyedBlockDigits(a)).toBe(6);
    expect(keyedBlockDigits('1-512555')).toBeNull();
  });

  it('uses the keyed block the rating recorded at the configured digit count, else none; legacy items their clear number', () => {
    const block = keyedNumberBlock(KEY, '+15125550142', 6)!;
    const traits = { numberClass: 'valid' as const, areaCode: '512', numberBlock: block };
    expect(passCallOf(callOf('', traits), DEFAULT_QUALITY_CONFIG)?.numberBlock).toBe(block);
    const sevenDigits = { ...DEFAULT_QUALITY_CONFIG, velocity: { ...DEFAULT_QUALITY_CONFIG.velocity, numberBlockDigits: 7 } };
    expect(passCallOf(callOf('', traits), sevenDigits)?.numberBlock).toBeNull();
    expect(passCallOf(callOf('', { ...traits, numberBlock: null }), DEFAULT_QUALITY_CONFIG)?.numberBlock).toBeNull();
    // Rated before caller numbers were sealed: no traits, the number in the slot.
    expect(passCallOf(callOf('+15125550142'), DEFAULT_QUALITY_CONFIG)?.numberBlock).toBe('1-512555');
    // A new item never yields a block from its (empty) `from`.
    expect(passCallOf(callOf(''), DEFAULT_QUALITY_CONFIG)?.numberBlock).toBeNull();
  });
});

describe('the attestation rule on a stored incoming-call event (calls rated before it arrived)', () => {
  const ringing = (stirVerstat: string | null) => completed({ eventId: 'twilio:CA1:status:ringing', status: 'ringing', durationSec: null, stirVerstat });

  it('flags robocall_suspect when the stored attestation is C, failed or missing, and never guesses without the event', () => {
    expect(attestationFinding({ stirVerstat: 'TN-Validation-Failed-A', direction: 'inbound' })).toMatchObject({ signal: 'robocall_suspect', rules: ['attestation'] });
    expect(attestationFinding({ stirVerstat: 'TN-Validation-Passed-C', direction: null })?.rules).toEqual(['attestation']);
    expect(attestationFinding({ stirVerstat: null, direction: 'inbound' })?.evidence).toMatchObject({ attestation: 'absent' });
    expect(attestationFinding({ stirVerstat: 'TN-Validation-Passed-A', direction: 'inbound' })).toBeNull();
    expect(attestationFinding({ stirVerstat: 'TN-Validation-Failed-A', direction: 'outbound-dial' as never })).toBeNull();
    expect(attestationFinding({ stirVerstat: undefined, direction: 'inbound' })).toBeNull();
    expect(passCallOf(storedCall([ringing('TN-Validation-Failed-B'), completed()]), DEFAULT_QUALITY_CONFIG)?.attestation).toMatchObject({ rules: ['attestation'] });
    expect(passCallOf(storedCall([ringing('TN-Validation-Passed-B'), completed()]), DEFAULT_QUALITY_CONFIG)?.attestation).toBeNull();
    // No incoming-call event stored: no evidence, no flag.
    expect(passCallOf(storedCall([completed()]), DEFAULT_QUALITY_CONFIG)?.attestation).toBeNull();
  });
});
