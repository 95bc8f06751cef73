/**
 * IVR answer timing from real-shaped Twilio requests (shared/domain/quality/ivr-timing.ts): the incoming-call webhook and the
 * <Gather> action carry no Timestamp, so the delay is measured between their receipts on our ingest clock; anything
 * less than both requests, or a gather before the webhook, is no measurement. The per-call rule too_fast then fires on
 * a coached answer and not on a human one.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isChildLeg } from '../../../shared/domain/calls/fold';
import { hasIvrRequests, ivrTimingOf } from '../../../shared/domain/quality/ivr-timing';
import { callSignals, type QualityFacts } from '../../../shared/domain/quality/call-signals';
import { answerDelayMs } from '../../../shared/domain/quality/signals';
import { parseForm, parseTwilioEvent } from '../../../shared/domain/calls/providers/twilio';
import type { CallEvent } from '../../../shared/domain/calls/events';

const T0 = Date.parse('2026-03-02T14:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const ringingBody = readFileSync('events/fixtures/twilio/incoming-ringing.form', 'utf8');

function request(body: string, receivedAtMs: number, override: Record<string, string> = {}): CallEvent {
  return parseTwilioEvent({ ...parseForm(body), ...override }, { accountId: 'acme-roofing', receivedAt: at(receivedAtMs) });
}
const ringing = (ms: number) => request(ringingBody, ms);
/** The <Gather> action: the same voice-request parameters, CallStatus in-progress, Digits and FinishedOnKey. */
const gather = (ms: number, digits = '1') => request(ringingBody, ms, { CallStatus: 'in-progress', Digits: digits, FinishedOnKey: '' });

const facts = (ivr: QualityFacts['ivr']): QualityFacts => ({
  status: 'completed',
  from: '+15125550142',
  totalSec: 240,
  talkSec: 220,
  answeredBy: null,
  stirVerstat: 'TN-Validation-Passed-A',
  direction: 'inbound',
  recordingDurationSec: null,
  ivr,
});

describe('IVR timing from the incoming-call webhook and the gather action', () => {
  it('neither request carries a provider Timestamp: both times are our receipts', () => {
    for (const e of [ringing(0), gather(3_000)]) expect(e.occurredAt).toBe(e.receivedAt);
  });

  it('measures webhook receipt → gather receipt, in any order of events, on the call itself only', () => {
    const events = [gather(4_250), ringing(0)];
    expect(ivrTimingOf(events)).toEqual({ promptStartedAtMs: T0, answeredAtMs: T0 + 4_250 });
    expect(answerDelayMs(ivrTimingOf(events)!)).toBe(4_250);
    expect(hasIvrRequests(events)).toEqual({ incoming: true, gather: true });
    // A dialled child leg's ringing is not the caller's incoming call.
    const child = request(ringingBody, -1_000, { Direction: 'outbound-dial', ParentCallSid: 'CA0123456789abcdef0123456789abcdef', CallSid: 'CAffffffffffffffffffffffffffffffff' });
    expect(isChildLeg(child)).toBe(true);
    expect(ivrTimingOf([child, gather(900)])).toBeNull();
  });

  it('is no measurement without both requests, or with the gather received first (a clock step)', () => {
    expect(ivrTimingOf([ringing(0)])).toBeNull();
    expect(ivrTimingOf([gather(300)])).toBeNull();
    expect(ivrTimingOf([ringing(1_000), gather(1_000)])).toBeNull();
    expect(ivrTimingOf([ringing(1_000), gather(400)])).toBeNull();
    expect(hasIvrRequests([ringing(0)])).toEqual({ incoming: true, gather: false });
  });

  it('takes the earliest gather in hand (the slot keeps the first delivery; a retry arrives later)', () => {
    expect(ivrTimingOf([ringing(0), gather(5_000), gather(700)])?.answeredAtMs).toBe(T0 + 700);
  });

  it('feeds too_fast: a 200 ms answer is coached, a 3 s answer is a person', () => {
    const coached = callSignals(facts(ivrTimingOf([ringing(0), gather(200)])), { bufferSec: 90, durationBasis: 'total' });
    expect(coached).toEqual([{ signal: 'coached_ivr', rules: ['too_fast'], evidence: { answerDelayMs: 200, minHumanMs: 1_500 } }]);
    expect(callSignals(facts(ivrTimingOf([ringing(0), gather(3_000)])), { bufferSec: 90, durationBasis: 'total' })).toEqual([]);
    expect(callSignals(facts(ivrTimingOf([gather(200)])), { bufferSec: 90, durationBasis: 'total' })).toEqual([]);
  });
});
