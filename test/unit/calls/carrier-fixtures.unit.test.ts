/**
 * The carrier fixtures (events/fixtures/{telnyx,vonage,plivo}): each signed request verifies with our verifier and
 * with the carrier's official library, each body parses into the event its name says, and a whole call's events
 * fold to the same call whatever order they arrive in.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  FIXTURE_ACCOUNT_ID,
  fixtureBody,
  fixtureFiles,
  signedRequests,
  signedRequestsFile,
  testKeys,
  type Carrier,
} from '../../../events/carrier-fixtures';
import { parsePlivoEvent, verifyPlivoSignature } from '../../../shared/domain/calls/providers/plivo';
import { parseTelnyxEvent, verifyTelnyxSignature } from '../../../shared/domain/calls/providers/telnyx';
import type { ParseOutcome } from '../../../shared/domain/calls/providers/verdicts';
import { parseVonageEvent, verifyVonageSignature } from '../../../shared/domain/calls/providers/vonage';
import { callTimes, foldCall, gatheredDigits, isChildLeg, owningCallId, talkSeconds } from '../../../shared/domain/calls/fold';
import { parseForm } from '../../../shared/domain/calls/providers/twilio';
import type { CallEvent, CallStatusEvent } from '../../../shared/domain/calls/events';
import { plivoOracle, telnyxOracle, vonageOracle } from '../../support/carrier-oracles';
import { readFileSync } from 'node:fs';

const ctx = { accountId: FIXTURE_ACCOUNT_ID, receivedAt: '2026-11-24T16:00:00.000Z' };

function parse(carrier: Carrier, file: string): ParseOutcome {
  const body = fixtureBody(carrier, file);
  if (carrier === 'telnyx') return parseTelnyxEvent(Buffer.from(body), ctx);
  if (carrier === 'vonage') return parseVonageEvent(Buffer.from(body), ctx);
  return parsePlivoEvent(parseForm(body), ctx);
}

function eventOf(carrier: Carrier, file: string): CallEvent {
  const out = parse(carrier, file);
  if (out.kind !== 'event') throw new Error(`${carrier}/${file}: ${JSON.stringify(out)}`);
  return out.event;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('signed-requests.json', () => {
  it.each(['telnyx', 'vonage', 'plivo'] as const)('%s: the committed file is what the fixtures and test keys give', (carrier) => {
    const committed = readFileSync(new URL(`../../../events/fixtures/${carrier}/signed-requests.json`, import.meta.url), 'utf8');
    expect(committed).toBe(signedRequestsFile(carrier));
  });

  it('every Telnyx fixture verifies with our verifier and with the telnyx SDK at its signing instant', async () => {
    const keys = testKeys('telnyx');
    for (const r of signedRequests('telnyx')) {
      const body = fixtureBody('telnyx', r.file);
      expect(verifyTelnyxSignature({ publicKeys: [keys.account.publicKey], headers: r.headers, body: Buffer.from(body), nowMs: r.signedAtSec * 1000 })).toEqual({
        ok: true,
        provider: 'telnyx',
      });
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(r.signedAtSec * 1000);
      expect(await telnyxOracle([keys.account.publicKey], r.headers, body)).toBe(true);
      vi.useRealTimers();
    }
  });

  it('every Vonage fixture verifies with our verifier and with @vonage/jwt plus the guide’s checks', () => {
    const k = testKeys('vonage');
    for (const r of signedRequests('vonage')) {
      const body = Buffer.from(fixtureBody('vonage', r.file));
      const nowMs = r.signedAtSec * 1000;
      expect(verifyVonageSignature({ signatureSecrets: [k.signatureSecret], headers: r.headers, body, nowMs, expected: { apiKey: k.apiKey } }).ok).toBe(true);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(nowMs);
      expect(vonageOracle([k.signatureSecret], r.headers, body, k.apiKey)).toBe(true);
      vi.useRealTimers();
    }
  });

  it('every Plivo fixture verifies with our verifier and with plivo validateV3Signature', () => {
    const k = testKeys('plivo');
    for (const r of signedRequests('plivo')) {
      const params = parseForm(fixtureBody('plivo', r.file));
      const input = { authTokens: [k.authToken], method: 'POST' as const, url: r.url!, params, headers: r.headers };
      expect(verifyPlivoSignature(input)).toEqual({ ok: true, provider: 'plivo' });
      expect(plivoOracle([k.authToken], r.url!, params, r.headers)).toBe(true);
    }
  });
});

describe('Telnyx fixtures → CallEvent', () => {
  const leg = 'telnyx:7f3c9a1e-2b4d-4c6e-8f0a-1b2c3d4e5f60';

  it('the incoming call is the ringing event, with the verified attestation in StirVerstat words', () => {
    expect(eventOf('telnyx', 'call-initiated.json')).toEqual({
      eventId: `${leg}:status:ringing`,
      provider: 'telnyx',
      accountId: 'acme-roofing',
      callId: leg,
      occurredAt: '2026-11-24T15:10:00.120Z',
      receivedAt: ctx.receivedAt,
      sequenceNumber: null,
      kind: 'call.status',
      status: 'ringing',
      direction: 'inbound',
      from: '+15125550142',
      to: '+15125550101',
      durationSec: null,
      answeredBy: null,
      stirVerstat: 'TN-Validation-Passed-A',
      digits: null,
      fromState: null,
      fromZip: null,
      fromCountry: null,
      parentCallId: null,
    });
  });

  it('answered, gather and hangup: in-progress, in-progress with digits, completed with start_time → end_time', () => {
    expect(eventOf('telnyx', 'call-answered.json')).toMatchObject({ eventId: `${leg}:status:in-progress`, status: 'in-progress', digits: null });
    expect(eventOf('telnyx', 'call-gather-ended.json')).toMatchObject({ eventId: `${leg}:status:in-progress:gather`, digits: '1' });
    const hangup = eventOf('telnyx', 'call-hangup-completed.json') as CallStatusEvent;
    expect(hangup).toMatchObject({ eventId: `${leg}:status:completed`, status: 'completed', durationSec: 217, occurredAt: '2026-11-24T15:13:37.204Z' });
    expect(callTimes(hangup)).toMatchObject({ startedAt: '2026-11-24T15:10:00.204Z', durationSec: 217 });
  });

  it('busy and no-answer hangups are terminal with 0 seconds; machine detection is the leg’s answeredBy', () => {
    expect(eventOf('telnyx', 'busy-call-hangup.json')).toMatchObject({ status: 'busy', durationSec: 0 });
    expect(eventOf('telnyx', 'no-answer-call-hangup.json')).toMatchObject({ status: 'no-answer', durationSec: 0 });
    expect(eventOf('telnyx', 'transfer-leg-machine-detection-ended.json')).toMatchObject({
      callId: 'telnyx:8a4d0b2f-3c5e-4d7f-9a1b-2c3d4e5f6a71',
      eventId: 'telnyx:8a4d0b2f-3c5e-4d7f-9a1b-2c3d4e5f6a71:status:in-progress:amd',
      answeredBy: 'machine_start',
    });
  });

  it('the saved recording: its id, the wav URL and its length', () => {
    expect(eventOf('telnyx', 'call-recording-saved.json')).toMatchObject({
      kind: 'recording.status',
      callId: leg,
      eventId: `${leg}:recording:b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e:completed`,
      recordingStatus: 'completed',
      recordingUrl: expect.stringMatching(/^https:\/\/.+\.wav\?/),
      recordingDurationSec: 212,
    });
  });

  it('an event type that carries no billing fact is acknowledged and ignored', () => {
    expect(parse('telnyx', 'call-speak-ended.json')).toEqual({ kind: 'ignored', provider: 'telnyx', eventType: 'call.speak.ended' });
  });
});

describe('Vonage fixtures → CallEvent', () => {
  const call = 'vonage:CON-4f1e2d3c-5b6a-4789-8a9b-0c1d2e3f4a5b';

  it('the inbound leg’s events belong to the conversation; numbers gain their +', () => {
    expect(eventOf('vonage', 'started.json')).toMatchObject({ callId: call, status: 'initiated', direction: 'inbound', from: '+15125550142', to: '+15125550101' });
    expect(eventOf('vonage', 'ringing.json')).toMatchObject({ eventId: `${call}:status:ringing`, occurredAt: '2026-11-24T15:10:00.450Z' });
    expect(eventOf('vonage', 'answered.json')).toMatchObject({ eventId: `${call}:status:in-progress`, durationSec: null });
    expect(eventOf('vonage', 'input-dtmf.json')).toMatchObject({ eventId: `${call}:status:in-progress:gather`, digits: '1' });
    expect(eventOf('vonage', 'completed.json')).toMatchObject({
      eventId: `${call}:status:completed`,
      durationSec: 217,
      occurredAt: '2026-11-24T15:13:37.000Z',
      parentCallId: null,
    });
  });

  it('the buyer leg is a child of the conversation; busy / unanswered legs are terminal with 0 seconds', () => {
    expect(eventOf('vonage', 'buyer-leg-completed.json')).toMatchObject({
      callId: 'vonage:b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e',
      parentCallId: call,
      direction: 'outbound-dial',
      durationSec: 190,
    });
    expect(eventOf('vonage', 'busy-buyer-leg.json')).toMatchObject({ status: 'busy', durationSec: 0, parentCallId: 'vonage:CON-5a2f3e4d-6c7b-4890-9bac-1d2e3f4a5b6c' });
    expect(eventOf('vonage', 'unanswered-buyer-leg.json')).toMatchObject({ status: 'no-answer', durationSec: 0 });
    expect(eventOf('vonage', 'machine-buyer-leg.json')).toMatchObject({
      callId: 'vonage:b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e',
      eventId: 'vonage:b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e:status:in-progress:amd',
      answeredBy: 'machine_start',
      parentCallId: call,
    });
  });

  it('the record event is the conversation’s recording', () => {
    expect(eventOf('vonage', 'record.json')).toMatchObject({
      kind: 'recording.status',
      callId: call,
      recordingId: 'c9d8e7f6-a5b4-4c3d-9e2f-1a0b9c8d7e6f',
      recordingUrl: 'https://api.nexmo.com/v1/files/c9d8e7f6-a5b4-4c3d-9e2f-1a0b9c8d7e6f',
      recordingDurationSec: 212,
    });
  });
});

describe('Plivo fixtures → CallEvent', () => {
  const call = 'plivo:c5a1e2f3-4b6d-4e8f-9a0b-1c2d3e4f5a6b';

  it('answer, GetDigits and hangup of the caller’s leg', () => {
    expect(eventOf('plivo', 'answer.form')).toMatchObject({
      eventId: `${call}:status:ringing`,
      direction: 'inbound',
      from: '+15125550142',
      to: '+15125550101',
      stirVerstat: 'TN-Validation-Passed-A',
      occurredAt: ctx.receivedAt,
    });
    expect(eventOf('plivo', 'getdigits.form')).toMatchObject({ eventId: `${call}:status:in-progress:gather`, digits: '1' });
    expect(eventOf('plivo', 'hangup.form')).toMatchObject({
      eventId: `${call}:status:completed`,
      durationSec: 217,
      occurredAt: '2026-11-24T15:13:37.000Z',
    });
  });

  it('a dialled leg names the caller’s leg as its parent; busy and no-answer legs last 0 seconds', () => {
    expect(eventOf('plivo', 'buyer-leg-hangup.form')).toMatchObject({
      callId: 'plivo:d6b2f3a4-5c7e-4f90-8b1c-2d3e4f5a6b7c',
      parentCallId: call,
      direction: 'outbound-dial',
      durationSec: 190,
    });
    expect(eventOf('plivo', 'busy-buyer-leg-hangup.form')).toMatchObject({ status: 'busy', durationSec: 0 });
    expect(eventOf('plivo', 'no-answer-buyer-leg-hangup.form')).toMatchObject({ status: 'no-answer', durationSec: 0 });
  });

  it('the recording callback', () => {
    expect(eventOf('plivo', 'recording.form')).toMatchObject({
      kind: 'recording.status',
      callId: call,
      eventId: `${call}:recording:f8d4b5c6-7e9a-4b12-8d3e-4f5a6b7c8d9e:completed`,
      recordingDurationSec: 212,
      occurredAt: '2026-11-24T15:13:33.004Z',
    });
  });
});

describe('a whole call through each carrier folds the same, in any arrival order', () => {
  function shuffled<T>(items: readonly T[], seed: number): T[] {
    const out = [...items];
    let s = seed;
    for (let i = out.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const j = s % (i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  const lifecycles: Record<Carrier, string[]> = {
    telnyx: ['call-initiated.json', 'call-answered.json', 'call-gather-ended.json', 'call-hangup-completed.json', 'call-recording-saved.json'],
    vonage: ['started.json', 'ringing.json', 'answered.json', 'input-dtmf.json', 'buyer-leg-completed.json', 'completed.json', 'record.json', 'machine-buyer-leg.json'],
    plivo: ['answer.form', 'getdigits.form', 'buyer-leg-hangup.form', 'hangup.form', 'recording.form'],
  };

  it.each(['telnyx', 'vonage', 'plivo'] as const)('%s: completed, 217 s, digits 1, one recording; duplicates are no-ops', (carrier) => {
    const events = lifecycles[carrier].map((f) => eventOf(carrier, f));
    const owner = owningCallId(events[0]!);
    const views = [1, 2, 3, 4, 5].map((seed) => {
      const delivered = shuffled([...events, ...events.slice(0, 3)], seed);
      return foldCall(delivered.filter((e) => owningCallId(e) === owner));
    });
    for (const view of views) {
      expect(view).toEqual(views[0]);
      expect(view.status).toBe('completed');
      expect(view.terminal?.durationSec).toBe(217);
      expect(view.recordings).toHaveLength(1);
    }
    expect(gatheredDigits(events)).toBe('1');
    const children = events.filter(isChildLeg);
    expect(talkSeconds(children)).toBe(carrier === 'telnyx' ? null : 190);
  });

  it('every fixture of a carrier names a distinct fact (distinct eventIds)', () => {
    for (const carrier of ['telnyx', 'vonage', 'plivo'] as const) {
      const ids = fixtureFiles(carrier)
        .map((f) => parse(carrier, f))
        .flatMap((o) => (o.kind === 'event' ? [o.event.eventId] : []));
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});
