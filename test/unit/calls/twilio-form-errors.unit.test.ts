/**
 * The 400 of a malformed Twilio form names each bad parameter with a message of its own (shared/domain/calls/
 * providers/twilio.ts): the messages are the parser's, not a schema library's defaults, so every function that
 * bundles the parser (webhook ingest, voice URL) answers the same words whichever zod build it loads.
 */
import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../../shared/domain/kernel/problems';
import { parseTwilioEvent } from '../../../shared/domain/calls/providers/twilio';

const ctx = { accountId: 'acme-roofing', receivedAt: '2026-11-24T10:00:00.000Z' };

function errorsOf(params: Record<string, string>) {
  try {
    parseTwilioEvent(params, ctx);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequest);
    return (err as BadRequest).errors;
  }
  throw new Error('expected a refusal');
}

describe('Twilio form refusals', () => {
  it('a missing required parameter is "is required", each named', () => {
    expect(errorsOf({ CallStatus: 'completed' })).toEqual([
      { field: 'AccountSid', message: 'is required' },
      { field: 'CallSid', message: 'is required' },
      { field: 'From', message: 'is required' },
      { field: 'To', message: 'is required' },
    ]);
  });

  it('bad values get the parameter\'s own rule, never the value', () => {
    const errors = errorsOf({
      AccountSid: 'ACnothex',
      CallSid: `CA${'b'.repeat(32)}`,
      CallStatus: 'ringing-ish',
      From: '+12125550123',
      To: '+15125550101',
      CallDuration: '12.5',
      Timestamp: 'yesterday',
      Digits: '12a',
    });
    expect(errors).toEqual([
      { field: 'AccountSid', message: 'must be AC followed by 32 hex digits' },
      { field: 'Timestamp', message: 'must be an RFC 2822 or ISO-8601 timestamp' },
      { field: 'CallStatus', message: 'must be one of queued, initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled' },
      { field: 'CallDuration', message: 'must be a whole number' },
      { field: 'Digits', message: 'must contain only 0-9, * and #' },
    ]);
    expect(JSON.stringify(errors)).not.toContain('+1212');
  });

  it('an empty ParentCallSid is no parent; a recording URL must be http(s)', () => {
    const ok = parseTwilioEvent({ AccountSid: `AC${'a'.repeat(32)}`, CallSid: `CA${'b'.repeat(32)}`, CallStatus: 'completed', From: '', To: '+15125550101', ParentCallSid: '' }, ctx);
    expect(ok.kind === 'call.status' && ok.parentCallId).toBe(null);
    expect(errorsOf({ AccountSid: `AC${'a'.repeat(32)}`, CallSid: `CA${'b'.repeat(32)}`, RecordingSid: `RE${'c'.repeat(32)}`, RecordingStatus: 'completed', RecordingUrl: 'ftp://x' })).toEqual([
      { field: 'RecordingUrl', message: 'must be an http(s) URL' },
    ]);
  });
});
