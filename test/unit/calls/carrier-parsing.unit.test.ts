/**
 * The carrier mappings rule by rule: every provider status and hangup cause, the refusals (named fields, never
 * values), the ignored event types, the withheld-caller forms and the number normalisation.
 */
import { describe, expect, it } from 'vitest';
import { fixtureBody } from '../../../events/carrier-fixtures';
import { PLIVO_STATUS, parsePlivoEvent } from '../../../shared/domain/calls/providers/plivo';
import { TELNYX_HANGUP_STATUS, parseTelnyxEvent } from '../../../shared/domain/calls/providers/telnyx';
import { e164IfDigits, type ParseOutcome } from '../../../shared/domain/calls/providers/verdicts';
import { isWithheldCallerId } from '../../../shared/domain/calls/caller';
import { VONAGE_STATUS, parseVonageEvent } from '../../../shared/domain/calls/providers/vonage';
import { parseForm } from '../../../shared/domain/calls/providers/twilio';

const ctx = { accountId: 'acme-roofing', receivedAt: '2026-11-24T16:00:00.000Z' };
const CALLER = '+15125550142';

function telnyxHangup(payload: Record<string, unknown>): ParseOutcome {
  const body = JSON.parse(fixtureBody('telnyx', 'call-hangup-completed.json')) as { data: { payload: Record<string, unknown> } };
  body.data.payload = { ...body.data.payload, ...payload };
  return parseTelnyxEvent(JSON.stringify(body), ctx);
}

function vonage(overrides: Record<string, unknown>, file = 'completed.json'): ParseOutcome {
  return parseVonageEvent(JSON.stringify({ ...JSON.parse(fixtureBody('vonage', file)), ...overrides }), ctx);
}

function plivo(overrides: Record<string, string | string[]>, file = 'hangup.form'): ParseOutcome {
  return parsePlivoEvent({ ...parseForm(fixtureBody('plivo', file)), ...overrides }, ctx);
}

function refusedFieldsOf(out: ParseOutcome): string[] {
  if (out.kind !== 'refused') throw new Error(`not refused: ${JSON.stringify(out)}`);
  expect(JSON.stringify(out)).not.toContain(CALLER.slice(1));
  return out.errors.map((e) => e.field);
}

describe('Telnyx', () => {
  it.each(Object.entries(TELNYX_HANGUP_STATUS))('hangup_cause %s → %s; only a connected call has a duration', (cause, status) => {
    const out = telnyxHangup({ hangup_cause: cause });
    expect(out).toMatchObject({ kind: 'event', event: { status, durationSec: status === 'completed' ? 217 : 0 } });
  });

  it('a hangup without end_time ends at occurred_at; without start_time its length is unknown (null)', () => {
    expect(telnyxHangup({ end_time: undefined })).toMatchObject({ event: { durationSec: 217, occurredAt: '2026-11-24T15:13:37.204Z' } });
    expect(telnyxHangup({ start_time: undefined })).toMatchObject({ event: { durationSec: null } });
  });

  it('refusals name the field and never its value', () => {
    expect(refusedFieldsOf(telnyxHangup({ hangup_cause: 'alien_abduction' }))).toEqual(['data.payload.hangup_cause']);
    expect(refusedFieldsOf(telnyxHangup({ call_leg_id: undefined }))).toEqual(['data.payload.call_leg_id']);
    expect(refusedFieldsOf(telnyxHangup({ to: 'x'.repeat(300) }))).toEqual(['data.payload.to']);
    expect(refusedFieldsOf(parseTelnyxEvent(JSON.stringify({ data: { event_type: 'call.hangup' } }), ctx))).toEqual(['data.id', 'data.payload']);
    expect(parseTelnyxEvent('{"data":', ctx)).toMatchObject({ kind: 'refused', code: 'body_malformed' });
    expect(parseTelnyxEvent(Buffer.from([0xff, 0xfe, 0x7b]), ctx)).toMatchObject({ kind: 'refused', code: 'body_malformed' });
  });

  it('a gather the caller answered nothing to is ignored; an outgoing leg is initiated, not ringing', () => {
    const body = JSON.parse(fixtureBody('telnyx', 'call-gather-ended.json')) as { data: { payload: Record<string, unknown> } };
    body.data.payload.digits = '';
    expect(parseTelnyxEvent(JSON.stringify(body), ctx)).toEqual({ kind: 'ignored', provider: 'telnyx', eventType: 'call.gather.ended' });
    const init = JSON.parse(fixtureBody('telnyx', 'call-initiated.json')) as { data: { payload: Record<string, unknown> } };
    init.data.payload.direction = 'outgoing';
    init.data.payload.shaken_stir_validated = false;
    expect(parseTelnyxEvent(JSON.stringify(init), ctx)).toMatchObject({
      event: { status: 'initiated', direction: 'outbound-api', stirVerstat: 'TN-Validation-Failed-A' },
    });
  });
});

describe('Vonage', () => {
  it.each(Object.entries(VONAGE_STATUS))('status %s → %s', (vonageStatus, status) => {
    const out = vonage({ status: vonageStatus, duration: vonageStatus === 'completed' ? '217' : undefined });
    const terminalNotConnected = ['busy', 'no-answer', 'failed', 'canceled'].includes(status);
    expect(out).toMatchObject({ kind: 'event', event: { status, durationSec: status === 'completed' ? 217 : terminalNotConnected ? 0 : null } });
  });

  it('duration as a number or missing (then end − start)', () => {
    expect(vonage({ duration: 217 })).toMatchObject({ event: { durationSec: 217 } });
    expect(vonage({ duration: undefined })).toMatchObject({ event: { durationSec: 217 } });
  });

  it('disconnected and transfer are ignored; an input without digits too', () => {
    expect(vonage({ status: 'disconnected' })).toMatchObject({ kind: 'ignored', eventType: 'disconnected' });
    expect(vonage({ status: 'transfer' })).toMatchObject({ kind: 'ignored', eventType: 'transfer' });
    expect(vonage({ dtmf: { digits: '', timed_out: true } }, 'input-dtmf.json')).toMatchObject({ kind: 'ignored', eventType: 'input' });
  });

  it('refusals name the field and never its value', () => {
    expect(refusedFieldsOf(vonage({ direction: undefined }))).toEqual(['direction']);
    expect(refusedFieldsOf(vonage({ status: 'teleported' }))).toEqual(['status']);
    expect(refusedFieldsOf(vonage({ duration: '-3' }))).toEqual(['duration']);
    expect(refusedFieldsOf(vonage({ recording_url: 'ftp://x' }, 'record.json'))).toEqual(['recording_url']);
    expect(parseVonageEvent('[1,2]', ctx)).toMatchObject({ kind: 'refused', code: 'body_malformed' });
  });
});

describe('Plivo', () => {
  it.each(Object.entries(PLIVO_STATUS))('CallStatus %s → %s', (plivoStatus, status) => {
    const out = plivo({ CallStatus: plivoStatus });
    const terminal = status !== 'ringing' && status !== 'in-progress';
    expect(out).toMatchObject({ kind: 'event', event: { status, durationSec: terminal ? 217 : null } });
  });

  it('STIR verification in StirVerstat words; machine detection as answeredBy', () => {
    expect(plivo({ STIRVerification: 'Not Verified', STIRAttestation: 'B' })).toMatchObject({ event: { stirVerstat: 'TN-Validation-Failed-B' } });
    expect(plivo({ STIRVerification: 'Not Applicable' })).toMatchObject({ event: { stirVerstat: 'No-TN-Validation' } });
    expect(plivo({ CallStatus: 'in-progress', Machine: 'true' }, 'answer.form')).toMatchObject({
      event: { answeredBy: 'machine_start', eventId: 'plivo:c5a1e2f3-4b6d-4e8f-9a0b-1c2d3e4f5a6b:status:in-progress:amd' },
    });
  });

  it('an outbound leg without ALegUUID is a call of its own', () => {
    expect(plivo({ ALegUUID: '' }, 'buyer-leg-hangup.form')).toMatchObject({ event: { parentCallId: null, direction: 'outbound-api' } });
  });

  it('refusals name the field and never its value', () => {
    expect(refusedFieldsOf(plivo({ To: [CALLER, '+15125550101'] }))).toEqual(['To']);
    expect(refusedFieldsOf(plivo({ CallStatus: 'exploded' }))).toEqual(['CallStatus']);
    expect(refusedFieldsOf(plivo({ EndTime: 'yesterday' }))).toEqual(['EndTime']);
    expect(refusedFieldsOf(plivo({ CallUUID: 'bad uuid!' }))).toEqual(['CallUUID']);
  });
});

describe('withheld callers and numbers', () => {
  it.each(['telnyx', 'vonage', 'plivo'] as const)('%s: privacy words and SIP anonymous are withheld, numbers are not (one caller identity for every provider)', (provider) => {
    for (const raw of ['anonymous', 'Anonymous', ' RESTRICTED ', '', 'sip:anonymous@anonymous.invalid']) expect(isWithheldCallerId(raw, provider)).toBe(true);
    for (const raw of ['+15125550142', '15125550142', 'sip:+15125550142@sip.telnyx.com']) expect(isWithheldCallerId(raw, provider)).toBe(false);
  });

  it('digits without + become E.164; anything else is kept as sent', () => {
    expect(e164IfDigits('447700900000')).toBe('+447700900000');
    expect(e164IfDigits('+15125550142')).toBe('+15125550142');
    expect(e164IfDigits('anonymous')).toBe('anonymous');
    expect(e164IfDigits('0123')).toBe('0123');
  });
});
