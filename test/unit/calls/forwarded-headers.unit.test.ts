/**
 * The custom SIP headers a forwarded call arrives with, on the canonical call status event (`forwarded`): each
 * carrier's form (Twilio and Vonage `SipHeader_X-…`, Plivo `X-PH-…`, Telnyx `custom_headers`) gives the same
 * provider-neutral map; what is kept is bounded (names, count, lengths), never a credential, never a phone number;
 * the fold reads it order-independently from the call's own events, and the call item keeps it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixtureBody } from '../../../events/carrier-fixtures';
import { decodeSlot, encodeSlot, eventAtRest } from '../../../shared/adapters/calls/call-item';
import type { CallEvent, CallStatusEvent } from '../../../shared/domain/calls/events';
import { forwardedOf, slotName } from '../../../shared/domain/calls/fold';
import { FORWARDED_LIMITS, SIP_HEADER_NAME, forwardedHeaders, isCredentialHeader } from '../../../shared/domain/calls/forwarded';
import { parsePlivoEvent } from '../../../shared/domain/calls/providers/plivo';
import { parseTelnyxEvent } from '../../../shared/domain/calls/providers/telnyx';
import { parseForm, parseTwilioEvent } from '../../../shared/domain/calls/providers/twilio';
import type { ParseOutcome } from '../../../shared/domain/calls/providers/verdicts';
import { parseVonageEvent, parseVonageVoiceRequest, vonageAnswerEvent } from '../../../shared/domain/calls/providers/vonage';
import { readFileSync } from 'node:fs';

const ctx = { accountId: 'acme-roofing', receivedAt: '2026-11-24T15:10:00.500Z' };
const UUID = 'b4a1e2c3-5d6f-4a7b-8c9d-0e1f2a3b4c5d';
const CALLER = '+15125550142';

function twilioForm(name: string): Record<string, string> {
  return parseForm(readFileSync(new URL(`../../../events/fixtures/twilio/${name}`, import.meta.url), 'utf8').trim()) as Record<string, string>;
}

function statusEvent(out: ParseOutcome): CallStatusEvent {
  if (out.kind !== 'event' || out.event.kind !== 'call.status') throw new Error(`not a call status event: ${JSON.stringify(out)}`);
  return out.event;
}

describe('each carrier’s form of the INVITE’s custom SIP headers', () => {
  it('Twilio: SipHeader_<name> on the voice request; DialSipHeader_ (the dialled leg’s answer) and the caller are not kept', () => {
    const event = parseTwilioEvent(
      {
        ...twilioForm('incoming-ringing.form'),
        'SipHeader_X-PH-RetreaverUUID': UUID,
        'SipHeader_X-PH-RetreaverKey': 'k-3f9a0c1d2e',
        'SipHeader_X-Original-Caller': CALLER,
        'DialSipHeader_X-Buyer-Ref': 'B-17',
      },
      ctx,
    ) as CallStatusEvent;
    expect(event.forwarded).toEqual({ 'x-ph-retreaveruuid': UUID });
  });

  it('Twilio: a call without SIP headers has none, and a repeated header is kept only when its values agree', () => {
    expect('forwarded' in parseTwilioEvent(twilioForm('incoming-ringing.form'), ctx)).toBe(false);
    const event = parseTwilioEvent(
      { ...twilioForm('incoming-ringing.form'), 'SipHeader_X-Net-Id': ['N-1', 'N-1'], 'SipHeader_X-Campaign': ['spring', 'autumn'] },
      ctx,
    ) as CallStatusEvent;
    expect(event.forwarded).toEqual({ 'x-net-id': 'N-1' });
  });

  it('Plivo: X-PH-… parameters under their own name', () => {
    const params = { ...parseForm(fixtureBody('plivo', 'answer.form').trim()), 'X-PH-RetreaverUUID': UUID, 'X-PH-Caller': '15125550142' };
    expect(statusEvent(parsePlivoEvent(params, ctx)).forwarded).toEqual({ 'x-ph-retreaveruuid': UUID });
    expect('forwarded' in statusEvent(parsePlivoEvent(parseForm(fixtureBody('plivo', 'answer.form').trim()), ctx))).toBe(false);
  });

  it('Telnyx: custom_headers of call.initiated', () => {
    const body = JSON.parse(fixtureBody('telnyx', 'call-initiated.json'));
    body.data.payload.custom_headers = [{ name: 'X-PH-RetreaverUUID', value: UUID }, { name: 'X-Empty', value: '' }, { name: 7, value: 'x' }, 'junk'];
    expect(statusEvent(parseTelnyxEvent(JSON.stringify(body), ctx)).forwarded).toEqual({ 'x-ph-retreaveruuid': UUID });
    expect('forwarded' in statusEvent(parseTelnyxEvent(fixtureBody('telnyx', 'call-initiated.json'), ctx))).toBe(false);
  });

  it('Vonage: SipHeader_X-… keys', () => {
    const body = { ...JSON.parse(fixtureBody('vonage', 'started.json')), 'SipHeader_X-PH-RetreaverUUID': UUID, 'SipHeader_X-Count': 3 };
    expect(statusEvent(parseVonageEvent(JSON.stringify(body), ctx)).forwarded).toEqual({ 'x-ph-retreaveruuid': UUID });
  });

  it('Vonage voice URL: the answer webhook (where Vonage passes the INVITE\'s headers) carries them onto the incoming call', () => {
    const answer = { to: '15125550101', from: '12065550123', uuid: 'aaaaaaaa-1111-2222-3333-444444444444', conversation_uuid: 'CON-bbbbbbbb-1111-2222-3333-444444444444', 'SipHeader_X-PH-RetreaverUUID': UUID };
    const parsed = parseVonageVoiceRequest(answer);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(vonageAnswerEvent(parsed.request, ctx).forwarded).toEqual({ 'x-ph-retreaveruuid': UUID });
    const plain = parseVonageVoiceRequest({ ...answer, 'SipHeader_X-PH-RetreaverUUID': undefined });
    expect(plain.ok && 'forwarded' in vonageAnswerEvent(plain.request, ctx)).toBe(false);
  });

  it('every carrier gives the same map for the same header', () => {
    const twilio = (parseTwilioEvent({ ...twilioForm('incoming-ringing.form'), 'SipHeader_X-PH-RetreaverUUID': UUID }, ctx) as CallStatusEvent).forwarded;
    const plivo = statusEvent(parsePlivoEvent({ ...parseForm(fixtureBody('plivo', 'answer.form').trim()), 'x-ph-retreaveruuid': UUID }, ctx)).forwarded;
    expect(plivo).toEqual(twilio);
  });
});

describe('what is kept', () => {
  it('never a phone number, a telephony address or the caller’s number inside a value', () => {
    const kept = forwardedHeaders(
      [
        ['X-A', '+1 (512) 555-0199'],
        ['X-B', '5125550199'],
        ['X-C', 'sip:+15125550142@203.0.113.7'],
        ['X-D', 'tel:+15125550142'],
        ['X-E', 'lead-5125550142-x'],
        ['X-F', 'TD-20261124-A981'],
        ['X-G', '12345'],
      ],
      `sip:${CALLER}@203.0.113.7`,
    );
    expect(kept).toEqual({ 'x-f': 'TD-20261124-A981', 'x-g': '12345' });
  });

  it('names X-… only, none named as a credential, values printable and at most 128 characters', () => {
    const kept = forwardedHeaders(
      [
        ['Call-ID', 'a'],
        ['X-', 'a'],
        ['X-Auth', 'a'],
        ['X-Api-Key', 'a'],
        ['X-Shared-Secret', 'a'],
        ['X-Bad Name', 'a'],
        ['X-Long', 'v'.repeat(129)],
        ['X-Ctl', 'a\u0007b'],
        ['X-Ok', ` ${'v'.repeat(128)} `],
      ],
      CALLER,
    );
    expect(kept).toEqual({ 'x-ok': 'v'.repeat(128) });
    expect(isCredentialHeader('X-PH-RetreaverKey')).toBe(true);
    expect(isCredentialHeader('X-PH-RetreaverUUID')).toBe(false);
  });

  it('at most 8 headers and 512 characters, the first in name order', () => {
    const many = Array.from({ length: 12 }, (_, i) => [`X-H${String(i).padStart(2, '0')}`, `v${i}`] as const);
    expect(Object.keys(forwardedHeaders(many, CALLER)!)).toEqual(['x-h00', 'x-h01', 'x-h02', 'x-h03', 'x-h04', 'x-h05', 'x-h06', 'x-h07']);
    const long = Array.from({ length: 6 }, (_, i) => [`X-L${i}`, 'w'.repeat(120)] as const);
    expect(Object.keys(forwardedHeaders(long, CALLER)!)).toEqual(['x-l0', 'x-l1', 'x-l2', 'x-l3']);
  });

  const header = fc.tuple(
    fc.oneof(fc.constantFrom('X-PH-RetreaverUUID', 'x-ph-retreaveruuid', 'X-Net', 'X-Key', 'Via', 'X-'), fc.string({ maxLength: 70 })),
    fc.oneof(fc.string({ maxLength: 140 }), fc.constantFrom(CALLER, '5125550142', UUID), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), fc.integer()),
  );

  it('any input: bounded, no credential, no number, the same whatever the order', () => {
    fc.assert(
      fc.property(fc.array(header, { maxLength: 20 }), fc.integer(), (entries, seed) => {
        const kept = forwardedHeaders(entries, CALLER);
        const reordered = [...entries].sort(() => (seed = (seed * 1103515245 + 12345) | 0) % 3);
        expect(forwardedHeaders(reordered, CALLER)).toEqual(kept);
        if (kept === null) return;
        const names = Object.keys(kept);
        expect(names.length).toBeGreaterThan(0);
        expect(names.length).toBeLessThanOrEqual(FORWARDED_LIMITS.maxHeaders);
        expect(names.reduce((n, k) => n + k.length + kept[k]!.length, 0)).toBeLessThanOrEqual(FORWARDED_LIMITS.maxTotalLength);
        for (const [name, value] of Object.entries(kept)) {
          expect(name).toMatch(SIP_HEADER_NAME);
          expect(name).toBe(name.toLowerCase());
          expect(isCredentialHeader(name)).toBe(false);
          expect(value).toMatch(/^[\x20-\x7e]{1,128}$/);
          expect(value.replace(/\D/g, '')).not.toContain('5125550142');
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('the call’s forwarded headers', () => {
  const ringing = parseTwilioEvent({ ...twilioForm('incoming-ringing.form'), 'SipHeader_X-PH-RetreaverUUID': UUID, 'SipHeader_X-Net': 'early' }, ctx);
  const gather = parseTwilioEvent({ ...twilioForm('incoming-ringing.form'), CallStatus: 'in-progress', Digits: '1', 'SipHeader_X-Net': 'later' }, ctx);
  const completed = parseTwilioEvent({ ...twilioForm('status-completed.form'), CallSid: twilioForm('incoming-ringing.form').CallSid! }, ctx);
  const child = parseTwilioEvent(
    { ...twilioForm('status-completed.form'), CallSid: `CA${'c'.repeat(32)}`, ParentCallSid: twilioForm('incoming-ringing.form').CallSid!, Direction: 'outbound-dial', 'SipHeader_X-PH-RetreaverUUID': 'buyer-side' },
    ctx,
  );

  it('comes from the call’s own events in any order: per header the first event’s value (the incoming call’s); a dialled leg’s never', () => {
    const events: CallEvent[] = [ringing, gather, completed, child];
    const expected = { 'x-ph-retreaveruuid': UUID, 'x-net': 'early' };
    // Not by eventId: the gather's (`…:in-progress:gather`) sorts before the ringing one's.
    expect(gather.eventId < ringing.eventId).toBe(true);
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: 4, maxLength: 4 }), fc.boolean(), (order, twice) => {
        expect(forwardedOf(twice ? [...order, ...order] : order)).toEqual(expected);
      }),
    );
    expect(forwardedOf([completed, child])).toBeNull();
  });

  it('is kept by the call item slot of the event that carried it', () => {
    const slot = encodeSlot(ringing);
    const decoded = decodeSlot(slotName(ringing), unmarshalled(slot), ringing.accountId, ringing.callId);
    expect(decoded).toEqual(eventAtRest(ringing));
    expect((decoded as CallStatusEvent).forwarded).toEqual({ 'x-ph-retreaveruuid': UUID, 'x-net': 'early' });
    expect('forwarded' in decodeSlot(slotName(completed), unmarshalled(encodeSlot(completed)), completed.accountId, completed.callId)).toBe(false);
  });
});

/** A slot's Map as the document client reads it back. */
function unmarshalled(slot: ReturnType<typeof encodeSlot>): Record<string, unknown> {
  const value = (v: { S?: string; N?: string; M?: Record<string, unknown> }): unknown =>
    v.S ?? (v.N !== undefined ? Number(v.N) : Object.fromEntries(Object.entries(v.M ?? {}).map(([k, x]) => [k, value(x as never)])));
  return value(slot as never) as Record<string, unknown>;
}
