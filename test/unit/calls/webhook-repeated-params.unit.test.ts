/**
 * Repeated parameters in a Twilio form body (shared/domain/calls/providers/twilio.ts): the signature over them agrees with the
 * official `twilio` library (the oracle) for any repetition, a repeated parameter no rule reads is accepted, a read
 * one is taken when its values agree and refused (400 naming it, values never echoed) when they conflict.
 */
import fc from 'fast-check';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../../shared/domain/kernel/problems';
import { parseForm, parseTwilioEvent, twilioSignature, verifyTwilioSignature } from '../../../shared/domain/calls/providers/twilio';

const AC = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const CA = 'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const ctx = { accountId: 'acme-roofing', receivedAt: '2026-11-24T10:00:00.000Z' };
const URL = 'https://hooks.example.com/webhooks/twilio/acme';
const completed = `AccountSid=${AC}&CallSid=${CA}&CallStatus=completed&CallDuration=200&From=%2B12125550123&To=%2B15125550101`;

describe('repeated form parameters', () => {
  it('property: our signature over repeated names equals the oracle, which validates it', () => {
    const name = fc.constantFrom('SipHeader_X-Campaign', 'Digits', 'a', 'B', 'x_y');
    const pairs = fc.array(fc.tuple(name, fc.string({ maxLength: 12 })), { maxLength: 12 });
    fc.assert(
      fc.property(pairs, fc.string({ minLength: 1, maxLength: 16 }), (list, token) => {
        const body = new URLSearchParams(list).toString();
        const params = parseForm(body);
        const ours = twilioSignature(token, URL, params);
        expect(ours).toBe(twilio.getExpectedTwilioSignature(token, URL, params));
        expect(twilio.validateRequest(token, ours, URL, params)).toBe(true);
        expect(verifyTwilioSignature(token, URL, parseForm(body), ours)).toBe(true);
      }),
    );
  });

  it('accepts a repeated parameter no rule reads, and a read one repeated with one value', () => {
    const e = parseTwilioEvent(parseForm(`${completed}&SipHeader_X-Campaign=spring&SipHeader_X-Campaign=autumn&CallStatus=completed`), ctx);
    expect(e).toMatchObject({ kind: 'call.status', status: 'completed', durationSec: 200 });
  });

  it('a recording callback reads its own parameters: a call field repeated in it is not its business', () => {
    const recording = `AccountSid=${AC}&CallSid=${CA}&RecordingSid=RE0123456789abcdef0123456789abcdef&RecordingStatus=completed&CallStatus=completed&CallStatus=busy`;
    expect(parseTwilioEvent(parseForm(recording), ctx)).toMatchObject({ kind: 'recording.status', recordingStatus: 'completed' });
  });

  it('refuses a read parameter with conflicting values, naming it once and echoing no value', () => {
    try {
      parseTwilioEvent(parseForm(`${completed}&From=%2B13105550199&CallSid=CAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb`), ctx);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BadRequest);
      expect((err as BadRequest).errors).toEqual([
        { field: 'CallSid', message: 'is repeated with different values' },
        { field: 'From', message: 'is repeated with different values' },
      ]);
      expect(JSON.stringify(err)).not.toMatch(/3105550199|2125550123|bbbbbbbb/);
    }
  });
});
