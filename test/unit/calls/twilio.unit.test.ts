import fc from 'fast-check';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../../shared/domain/kernel/problems';
import {
  parseForm,
  parseTwilioEvent,
  twilioSignature,
  twilioSigningString,
  verifyTwilioSignature,
  type FormParams,
} from '../../../shared/domain/calls/providers/twilio';

// Official vectors (Twilio security guide and the helper libraries' unit tests), token 12345.
const guideParams = {
  CallSid: 'CA1234567890ABCDE',
  Caller: '+14158675310',
  Digits: '1234',
  From: '+14158675310',
  To: '+18005551212',
};
const libParams = (n: string) => ({ CallSid: 'CA1234567890ABCDE', Caller: n, Digits: '1234', From: n, To: '+18005551212' });
const VECTORS: [string, FormParams, string][] = [
  ['https://example.com/myapp.php?foo=1&bar=2', guideParams, 'L/OH5YylLD5NRKLltdqwSvS0BnU='],
  ['https://mycompany.com/myapp.php?foo=1&bar=2', guideParams, 'GvWf1cFY/Q7PnoempGyD5oXAezc='],
  ['https://mycompany.com/myapp.php?foo=1&bar=2', libParams('+12349013030'), '0/KCTR6DLpKmkAf8muzZqo1nDgQ='],
  ['https://mycompany.com/myapp.php?foo=1&bar=2', libParams('+14158675309'), 'RSOYDt4T1cUTdK1PDd93/VVr8B8='],
  [
    'https://mycompany.com/myapp.php?foo=1&bar=2',
    { ...libParams('+14158675309'), ReasonConferenceEnded: 'test', Reason: 'Participant' },
    'vOEb5UThFn24KEfnOFLQY2AE5FY=',
  ],
  [
    'https://mycompany.com/myapp.php?foo=1&bar=2',
    { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] },
    'IK+Dwps556ElfBT0I3Rgjkr1wJU=',
  ],
];

describe('X-Twilio-Signature', () => {
  it('builds the documented signing string', () => {
    expect(twilioSigningString('https://example.com/myapp.php?foo=1&bar=2', guideParams)).toBe(
      'https://example.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675310Digits1234From+14158675310To+18005551212',
    );
  });

  it.each(VECTORS)('matches the official vector for %s', (url, params, expected) => {
    expect(twilioSignature('12345', url, params)).toBe(expected);
    expect(verifyTwilioSignature('12345', url, params, expected)).toBe(true);
  });

  it('rejects a missing header, another token, another URL and a tampered parameter', () => {
    const [url, params, sig] = VECTORS[0]!;
    expect(verifyTwilioSignature('12345', url, params, undefined)).toBe(false);
    expect(verifyTwilioSignature('12345', url, params, '')).toBe(false);
    expect(verifyTwilioSignature('54321', url, params, sig)).toBe(false);
    expect(verifyTwilioSignature('12345', `${url}&x=1`, params, sig)).toBe(false);
    expect(verifyTwilioSignature('12345', url, { ...params, Digits: '1235' }, sig)).toBe(false);
    expect(verifyTwilioSignature('12345', url, params, sig.slice(0, -2))).toBe(false);
  });

  it('agrees with the official twilio library on arbitrary parameters', () => {
    const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k.trim() === k && k !== '__proto__');
    fc.assert(
      fc.property(
        fc.dictionary(key, fc.string({ maxLength: 30 }), { maxKeys: 8 }),
        fc.string({ minLength: 1, maxLength: 16 }),
        (params, token) => {
          const url = 'https://hooks.example.com/webhooks/twilio/acme?x=1';
          const ours = twilioSignature(token, url, params);
          expect(ours).toBe(twilio.getExpectedTwilioSignature(token, url, params));
          expect(twilio.validateRequest(token, ours, url, params)).toBe(true);
        },
      ),
    );
  });

  it('round-trips a form body: sign the parsed form, verify the parsed form', () => {
    const body = 'To=%2B15125550101&From=%2B12125550123&CallerCity=NEW+YORK&Empty=';
    const params = parseForm(body);
    expect(params).toEqual({ To: '+15125550101', From: '+12125550123', CallerCity: 'NEW YORK', Empty: '' });
    const sig = twilioSignature('tok', 'http://127.0.0.1:3000/webhooks/twilio/a', params);
    expect(verifyTwilioSignature('tok', 'http://127.0.0.1:3000/webhooks/twilio/a', parseForm(body), sig)).toBe(true);
  });

  it('keeps repeated names as arrays', () => {
    expect(parseForm('a=1&a=2&b=3')).toEqual({ a: ['1', '2'], b: '3' });
  });
});

const AC = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const CA = 'CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const RE = 'RE0123456789abcdef0123456789abcdef';
const ctx = { accountId: 'acme-roofing', receivedAt: '2026-11-24T10:00:00.000Z' };

describe('parseTwilioEvent', () => {
  it('maps a completed status callback to a call.status event', () => {
    const e = parseTwilioEvent(
      parseForm(
        `AccountSid=${AC}&CallSid=${CA}&CallStatus=completed&From=%2B12125550123&To=%2B15125550101&Direction=inbound` +
          `&CallDuration=340&Duration=6&Timestamp=Tue%2C+03+Jun+2025+15%3A09%3A45+%2B0000&SequenceNumber=2` +
          `&CallbackSource=call-progress-events&FromState=NY&FromZip=10001&FromCountry=US&ToZip=&StirVerstat=TN-Validation-Passed-A`,
      ),
      ctx,
    );
    expect(e).toEqual({
      kind: 'call.status',
      eventId: `twilio:${CA}:status:completed`,
      provider: 'twilio',
      accountId: 'acme-roofing',
      callId: `twilio:${CA}`,
      occurredAt: '2025-06-03T15:09:45.000Z',
      receivedAt: ctx.receivedAt,
      sequenceNumber: 2,
      status: 'completed',
      direction: 'inbound',
      from: '+12125550123',
      to: '+15125550101',
      durationSec: 340,
      answeredBy: null,
      stirVerstat: 'TN-Validation-Passed-A',
      digits: null,
      fromState: 'NY',
      fromZip: '10001',
      fromCountry: 'US',
      parentCallId: null,
    });
  });

  it('uses receivedAt when Twilio sends no Timestamp (the incoming-call webhook)', () => {
    const e = parseTwilioEvent({ AccountSid: AC, CallSid: CA, CallStatus: 'ringing', From: 'anonymous', To: '+15125550101' }, ctx);
    expect(e.occurredAt).toBe(ctx.receivedAt);
    expect(e.kind === 'call.status' && e.durationSec).toBe(null);
  });

  it('gives a <Gather> action callback its own event id', () => {
    const e = parseTwilioEvent(
      { AccountSid: AC, CallSid: CA, CallStatus: 'in-progress', From: '+12125550123', To: '+15125550101', Digits: '1' },
      ctx,
    );
    expect(e.eventId).toBe(`twilio:${CA}:status:in-progress:gather`);
  });

  it('maps a recording status callback', () => {
    const e = parseTwilioEvent(
      {
        AccountSid: AC,
        CallSid: CA,
        RecordingSid: RE,
        RecordingStatus: 'completed',
        RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${AC}/Recordings/${RE}`,
        RecordingDuration: '-1',
      },
      ctx,
    );
    expect(e).toMatchObject({
      kind: 'recording.status',
      eventId: `twilio:${CA}:recording:${RE}:completed`,
      recordingId: RE,
      recordingStatus: 'completed',
      recordingDurationSec: null,
    });
  });

  it('names every malformed field, without echoing values', () => {
    try {
      parseTwilioEvent(
        { AccountSid: 'nope', CallSid: CA, CallStatus: 'exploded', From: '+12125550123', CallDuration: '12.5', Timestamp: 'yesterday' },
        ctx,
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BadRequest);
      const fields = (err as BadRequest).errors!.map((e) => e.field).sort();
      expect(fields).toEqual(['AccountSid', 'CallDuration', 'CallStatus', 'Timestamp', 'To']);
      expect(JSON.stringify(err)).not.toContain('2125550123');
    }
  });

  it('rejects a repeated scalar parameter', () => {
    expect(() =>
      parseTwilioEvent({ AccountSid: AC, CallSid: CA, CallStatus: ['ringing', 'completed'], From: '', To: '+15125550101' }, ctx),
    ).toThrow(/CallStatus/);
  });
});
