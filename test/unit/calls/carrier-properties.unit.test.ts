/**
 * Properties of the carrier verifiers and parsers, over generated inputs:
 * - any single-byte change to a signed body is refused (Plivo signs decoded parameters: there a change is refused
 *   exactly when it changes the parameters, and the official library agrees case by case);
 * - parsing is total: any JSON, any bytes, any form gives an event, an ignored type or a typed refusal, never a throw;
 * - eventIds are deterministic: a redelivery (new signature, new timestamp, new attempt counter, other key or field
 *   order, other receipt time) maps to the same eventId, so the writer's slots dedupe it.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PLIVO_FIXTURE_URL, fixtureBody, fixtureFiles, testKeys } from '../../../events/carrier-fixtures';
import { signPlivo, signTelnyx, vonageJwt } from '../../../events/carrier-signing';
import { TELNYX_MAPPED_EVENT_TYPES, parseTelnyxEvent, verifyTelnyxSignature } from '../../../shared/domain/calls/providers/telnyx';
import { parsePlivoEvent, verifyPlivoSignature } from '../../../shared/domain/calls/providers/plivo';
import type { ParseOutcome } from '../../../shared/domain/calls/providers/verdicts';
import { parseVonageEvent, verifyVonageSignature } from '../../../shared/domain/calls/providers/vonage';
import { parseForm } from '../../../shared/domain/calls/providers/twilio';
import { plivoOracle, telnyxOracle } from '../../support/carrier-oracles';

const ctx = { accountId: 'acme-roofing', receivedAt: '2026-11-24T16:00:00.000Z' };
const T = 1795533218;

afterEach(() => {
  vi.useRealTimers();
});

/** A body with one byte replaced by another value. */
const mutation = (length: number) => fc.record({ at: fc.nat({ max: length - 1 }), xor: fc.integer({ min: 1, max: 255 }) });
function mutate(body: Buffer, m: { at: number; xor: number }): Buffer {
  const out = Buffer.from(body);
  out[m.at] = out[m.at]! ^ m.xor;
  return out;
}

/** What every outcome must look like, whatever the input. */
function wellFormed(out: ParseOutcome, provider: string): void {
  expect(['event', 'ignored', 'refused']).toContain(out.kind);
  if (out.kind === 'refused') {
    expect(['body_malformed', 'fields_invalid']).toContain(out.code);
    if (out.code === 'fields_invalid') expect(out.errors.length).toBeGreaterThan(0);
  }
  if (out.kind === 'event') {
    const e = out.event;
    expect(e.provider).toBe(provider);
    expect(e.callId.startsWith(`${provider}:`)).toBe(true);
    expect(e.eventId.startsWith(`${e.callId}:`)).toBe(true);
    expect(new Date(e.occurredAt).toISOString()).toBe(e.occurredAt);
    if (e.kind === 'call.status') expect(e.durationSec === null || (Number.isInteger(e.durationSec) && e.durationSec >= 0)).toBe(true);
  }
}

describe('a single-byte change to a signed body is refused', () => {
  it('Telnyx: every fixture, any byte, any new value → signature_invalid', () => {
    const k = testKeys('telnyx');
    for (const file of fixtureFiles('telnyx')) {
      const body = Buffer.from(fixtureBody('telnyx', file));
      const headers = signTelnyx(k.account.privateKeyPem, body, T);
      fc.assert(
        fc.property(mutation(body.length), (m) => {
          const v = verifyTelnyxSignature({ publicKeys: [k.account.publicKey], headers, body: mutate(body, m), nowMs: T * 1000 });
          return !v.ok && v.code === 'signature_invalid';
        }),
        { numRuns: 60 },
      );
    }
  });

  it('Telnyx: the SDK refuses the same mutations', async () => {
    const k = testKeys('telnyx');
    const body = Buffer.from(fixtureBody('telnyx', 'call-hangup-completed.json'));
    const headers = signTelnyx(k.account.privateKeyPem, body, T);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T * 1000);
    await fc.assert(
      fc.asyncProperty(mutation(body.length), async (m) => !(await telnyxOracle([k.account.publicKey], headers, mutate(body, m).toString('utf8')))),
      { numRuns: 60 },
    );
  });

  it('Vonage: every fixture, any byte, any new value → payload_hash_mismatch', () => {
    const k = testKeys('vonage');
    for (const file of fixtureFiles('vonage')) {
      const body = Buffer.from(fixtureBody('vonage', file));
      const headers = { authorization: `Bearer ${vonageJwt(k.signatureSecret, body, { iat: T, jti: 'j', api_key: k.apiKey, application_id: k.applicationId })}` };
      fc.assert(
        fc.property(mutation(body.length), (m) => {
          const v = verifyVonageSignature({ signatureSecrets: [k.signatureSecret], headers, body: mutate(body, m), nowMs: T * 1000 });
          return !v.ok && v.code === 'payload_hash_mismatch';
        }),
        { numRuns: 60 },
      );
    }
  });

  it('Plivo: refused exactly when the change alters the decoded parameters, as plivo validateV3Signature decides', () => {
    const k = testKeys('plivo');
    let refused = 0;
    for (const file of fixtureFiles('plivo')) {
      const body = Buffer.from(fixtureBody('plivo', file));
      const params = parseForm(body.toString('utf8'));
      const headers = signPlivo([k.authToken], PLIVO_FIXTURE_URL, params, '12345678901234567890');
      fc.assert(
        fc.property(mutation(body.length), (m) => {
          const changed = parseForm(mutate(body, m).toString('utf8'));
          const v = verifyPlivoSignature({ authTokens: [k.authToken], method: 'POST', url: PLIVO_FIXTURE_URL, params: changed, headers });
          const same = isDeepStrictEqual(changed, params);
          if (!v.ok) refused++;
          return v.ok === same && plivoOracle([k.authToken], PLIVO_FIXTURE_URL, changed, headers) === v.ok;
        }),
        { numRuns: 60 },
      );
    }
    expect(refused).toBeGreaterThan(0);
  });
});

describe('parsing is total', () => {
  it('any JSON value or any bytes, as a Telnyx or Vonage body', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')), fc.uint8Array({ maxLength: 300 }).map(Buffer.from)), (body) => {
        wellFormed(parseTelnyxEvent(body, ctx), 'telnyx');
        wellFormed(parseVonageEvent(body, ctx), 'vonage');
      }),
      { numRuns: 600 },
    );
  });

  const value = fc.oneof(fc.jsonValue(), fc.uuid(), fc.constantFrom('+15125550142', '', 'normal_clearing', 'user_busy', 'incoming', '2026-11-24T15:10:00Z'));

  it('Telnyx envelopes of every mapped type with arbitrary payload fields', () => {
    const keys = ['call_leg_id', 'call_session_id', 'from', 'to', 'direction', 'start_time', 'end_time', 'hangup_cause', 'digits', 'result', 'recording_id', 'recording_urls', 'recording_started_at', 'shaken_stir_attestation', 'shaken_stir_validated'];
    const envelope = fc.record({
      data: fc.record({
        event_type: fc.constantFrom(...TELNYX_MAPPED_EVENT_TYPES, 'call.bridged', ''),
        id: fc.oneof(fc.uuid(), fc.string()),
        occurred_at: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string()),
        payload: fc.dictionary(fc.constantFrom(...keys), value),
      }, { requiredKeys: [] }),
    });
    fc.assert(fc.property(envelope, (e) => wellFormed(parseTelnyxEvent(JSON.stringify(e), ctx), 'telnyx')), { numRuns: 600 });
  });

  it('Vonage events with arbitrary known fields', () => {
    const keys = ['status', 'uuid', 'call_uuid', 'conversation_uuid', 'direction', 'from', 'to', 'timestamp', 'duration', 'start_time', 'end_time', 'recording_url', 'recording_uuid', 'dtmf'];
    const status = fc.constantFrom('started', 'ringing', 'answered', 'completed', 'busy', 'machine', 'human', 'transfer', 'weird');
    const event = fc.dictionary(fc.constantFrom(...keys), fc.oneof(value, status, fc.record({ digits: fc.string() })));
    fc.assert(fc.property(event, (e) => wellFormed(parseVonageEvent(JSON.stringify(e), ctx), 'vonage')), { numRuns: 600 });
  });

  it('Plivo: any form body, and forms of known parameters with arbitrary (and repeated) values', () => {
    const keys = ['CallUUID', 'From', 'To', 'Direction', 'ALegUUID', 'CallStatus', 'Duration', 'EndTime', 'Digits', 'Machine', 'RecordingID', 'RecordUrl', 'RecordingDuration', 'RecordingEndMs', 'STIRVerification', 'STIRAttestation'];
    const form = fc.dictionary(fc.constantFrom(...keys), fc.oneof(fc.string(), fc.uuid(), fc.constantFrom('completed', 'outbound', 'true', '12'), fc.array(fc.string(), { minLength: 2, maxLength: 3 })));
    fc.assert(
      fc.property(fc.oneof(form, fc.string().map(parseForm)), (params) => wellFormed(parsePlivoEvent(params, ctx), 'plivo')),
      { numRuns: 600 },
    );
  });
});

describe('a redelivered event maps to the same eventId', () => {
  const receivedAt = fc.date({ min: new Date('2026-11-24T15:00:00Z'), max: new Date('2026-11-25T15:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());

  function shuffleKeys(v: unknown, seed: number): unknown {
    if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, seed));
    if (typeof v !== 'object' || v === null) return v;
    const entries = Object.entries(v);
    const rotated = entries.slice(seed % Math.max(entries.length, 1)).concat(entries.slice(0, seed % Math.max(entries.length, 1)));
    return Object.fromEntries(rotated.map(([k, x]) => [k, shuffleKeys(x, seed + 1)]));
  }

  it('Telnyx: a retry (attempt counter up, re-signed later, keys reordered) verifies and keeps its eventId', () => {
    const k = testKeys('telnyx');
    for (const file of fixtureFiles('telnyx')) {
      const original = parseTelnyxEvent(fixtureBody('telnyx', file), ctx);
      fc.assert(
        fc.property(fc.integer({ min: 2, max: 20 }), fc.nat({ max: 3600 }), fc.nat(), receivedAt, (attempt, delaySec, seed, at) => {
          const body = JSON.parse(fixtureBody('telnyx', file)) as { meta: { attempt: number } };
          body.meta.attempt = attempt;
          const raw = Buffer.from(JSON.stringify(shuffleKeys(body, seed)));
          const headers = signTelnyx(k.account.privateKeyPem, raw, T + delaySec);
          expect(verifyTelnyxSignature({ publicKeys: [k.account.publicKey], headers, body: raw, nowMs: (T + delaySec) * 1000 }).ok).toBe(true);
          const again = parseTelnyxEvent(raw, { ...ctx, receivedAt: at });
          expect(again.kind).toBe(original.kind);
          if (again.kind === 'event' && original.kind === 'event') {
            expect(again.event.eventId).toBe(original.event.eventId);
            expect(again.event.callId).toBe(original.event.callId);
          }
        }),
        { numRuns: 25 },
      );
    }
  });

  it('Vonage: a new JWT (iat, jti) over the same event, keys reordered, keeps its eventId', () => {
    const k = testKeys('vonage');
    for (const file of fixtureFiles('vonage')) {
      const original = parseVonageEvent(fixtureBody('vonage', file), ctx);
      fc.assert(
        fc.property(fc.nat({ max: 3600 }), fc.uuid(), fc.nat(), receivedAt, (delaySec, jti, seed, at) => {
          const raw = Buffer.from(JSON.stringify(shuffleKeys(JSON.parse(fixtureBody('vonage', file)), seed)));
          const token = vonageJwt(k.signatureSecret, raw, { iat: T + delaySec, jti, api_key: k.apiKey, application_id: k.applicationId });
          const v = verifyVonageSignature({ signatureSecrets: [k.signatureSecret], headers: { authorization: `Bearer ${token}` }, body: raw, nowMs: (T + delaySec) * 1000 });
          expect(v.ok).toBe(true);
          const again = parseVonageEvent(raw, { ...ctx, receivedAt: at });
          if (again.kind === 'event' && original.kind === 'event') expect(again.event.eventId).toBe(original.event.eventId);
          else expect(again.kind).toBe(original.kind);
        }),
        { numRuns: 25 },
      );
    }
  });

  it('Plivo: a new nonce, another parameter order, another token during rotation keep the eventId', () => {
    const k = testKeys('plivo');
    for (const file of fixtureFiles('plivo')) {
      const original = parsePlivoEvent(parseForm(fixtureBody('plivo', file)), ctx);
      fc.assert(
        fc.property(fc.stringMatching(/^\d{20}$/), fc.nat(), fc.boolean(), receivedAt, (nonce, seed, rotated, at) => {
          const pairs = [...new URLSearchParams(fixtureBody('plivo', file))];
          const reordered = pairs.slice(seed % pairs.length).concat(pairs.slice(0, seed % pairs.length));
          const params = parseForm(new URLSearchParams(reordered).toString());
          const tokens = rotated ? [k.previousAuthToken, k.authToken] : [k.authToken];
          const headers = signPlivo(tokens, PLIVO_FIXTURE_URL, params, nonce);
          expect(verifyPlivoSignature({ authTokens: [k.authToken], method: 'POST', url: PLIVO_FIXTURE_URL, params, headers }).ok).toBe(true);
          const again = parsePlivoEvent(params, { ...ctx, receivedAt: at });
          if (again.kind === 'event' && original.kind === 'event') expect(again.event.eventId).toBe(original.event.eventId);
          else expect(again.kind).toBe(original.kind);
        }),
        { numRuns: 25 },
      );
    }
  });
});
