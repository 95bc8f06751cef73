/**
 * Telnyx TeXML requests (the voice URL's instruction fetches) as canonical CallEvents. TeXML posts Twilio's
 * parameter names (CallSid, CallStatus, From, To, Digits, ParentCallSid) but Telnyx's ids (`v3:…`, never a Twilio
 * `CA…`) and Telnyx's STIR fields (ShakenStirAttestation, ShakenStirValidated). The call id is `telnyx:<CallSid>`;
 * the eventId names the fact (the status, and `:gather` for an IVR answer), so a redelivered request is a no-op.
 * Throws BadRequest naming every bad field, never its value (they may be phone numbers). Pure.
 */
import * as z from 'zod';
import { BadRequest } from '../../kernel/problems';
import { fieldErrors } from '../../kernel/errors';
import type { CallStatus, CallStatusEvent } from '../events';
import type { FormParams } from './twilio';
import { stirVerstatOf } from './verdicts';

const STATUSES = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'] as const satisfies readonly CallStatus[];
const id = z.string().regex(/^[A-Za-z0-9:_-]{1,128}$/, 'must be a Telnyx call id');
const text = (max: number) => z.string().max(max, 'is too long');
const optional = (max: number) => text(max).optional().transform((v) => (v === undefined || v === '' ? null : v));

const TexmlRequest = z.object({
  CallSid: id,
  CallStatus: z.enum(STATUSES, { message: `must be one of ${STATUSES.join(', ')}` }),
  From: text(256),
  To: text(64),
  Direction: z.enum(['inbound', 'outbound-api', 'outbound-dial']).optional(),
  Digits: optional(64),
  ParentCallSid: id.optional().or(z.literal('').transform(() => undefined)),
  ShakenStirAttestation: optional(8),
  ShakenStirValidated: optional(8),
});

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export function parseTexmlEvent(params: FormParams, ctx: { accountId: string; receivedAt: string }): CallStatusEvent {
  const values = Object.fromEntries(Object.keys(TexmlRequest.shape).map((k) => [k, one(params[k])]));
  const parsed = TexmlRequest.safeParse(values);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues);
    throw new BadRequest(`Malformed TeXML request parameters: ${errors.map((e) => e.field).join(', ')}.`, errors);
  }
  const p = parsed.data;
  const callId = `telnyx:${p.CallSid}`;
  return {
    kind: 'call.status',
    provider: 'telnyx',
    accountId: ctx.accountId,
    callId,
    // An IVR answer also reports in-progress: a distinct fact, not a duplicate.
    eventId: `${callId}:status:${p.CallStatus}${p.Digits !== null ? ':gather' : ''}`,
    occurredAt: ctx.receivedAt,
    receivedAt: ctx.receivedAt,
    sequenceNumber: null,
    status: p.CallStatus,
    direction: p.Direction ?? null,
    from: p.From,
    to: p.To,
    durationSec: null,
    answeredBy: null,
    stirVerstat: stirVerstatOf(p.ShakenStirAttestation, p.ShakenStirValidated === null ? null : p.ShakenStirValidated === 'true'),
    digits: p.Digits,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: p.ParentCallSid === undefined ? null : `telnyx:${p.ParentCallSid}`,
  };
}
