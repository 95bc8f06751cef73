/**
 * Telnyx TeXML requests (the voice URL's instruction fetches) as canonical CallEvents. TeXML posts Twilio's
 * parameter names (CallSid, CallStatus, From, To, Digits, ParentCallSid) but Telnyx's ids (`v3:…`, never a Twilio
 * `CA…`) and Telnyx's STIR fields (ShakenStirAttestation, ShakenStirValidated). The call id is `telnyx:<CallSid>`;
 * the eventId names the fact (the status, and `:gather` for an IVR answer), so a redelivered request is a no-op.
 * Throws BadRequest naming every bad field, never its value (they may be phone numbers). Pure (node:crypto only).
 */
import { timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { encodeQuery, stateMac } from '../../callflow/state';
import { BadRequest } from '../../kernel/problems';
import { fieldErrors } from '../../kernel/errors';
import type { CallStatus, CallStatusEvent, RecordingStatus, RecordingStatusEvent } from '../events';
import type { FormParams } from './twilio';
import { fieldIssues, refusedFields, stirVerstatOf, type FieldIssue, type ParseContext, type ParseOutcome } from './verdicts';

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

// ------------------------------------------------------------------------------------------------ callbacks

/**
 * TeXML's own callbacks, posted form-encoded to the webhook route like Twilio's (CALL-FLOW §2.6): the application's
 * call-progress callback, a dialled `<Number>`'s statusCallback (the child leg: its CallSid, ParentCallSid the caller's
 * call, CallDuration its talk time) and the recordingStatusCallback. Ids are the TeXML CallSid, as the voice URL's
 * events use them (`telnyx:<CallSid>`), so a call's voice requests, legs and recording fold into the one call. The
 * eventId names the fact (status, or recording and its status), never the delivery: a redelivered callback is a
 * no-op whatever its order. Total: an event, or a refusal naming the bad fields (never their values).
 */
const RECORDING_STATUSES = ['in-progress', 'completed', 'absent', 'failed'] as const satisfies readonly RecordingStatus[];
const wholeSeconds = (min: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return null;
      if (!/^-?\d{1,9}$/.test(v) || Number(v) < min) {
        ctx.addIssue({ code: 'custom', message: `must be whole seconds, at least ${min}` });
        return z.NEVER;
      }
      return Number(v);
    });
/** Telnyx writes `2021-04-28 21:51:18.731479Z`; ISO-8601 and RFC 2822 are read too. */
const texmlTime = z
  .string()
  .max(64)
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return null;
    const ms = Date.parse(/^\d{4}-\d{2}-\d{2} /.test(v) ? v.replace(' ', 'T') : v);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be a timestamp' });
      return z.NEVER;
    }
    return new Date(ms).toISOString();
  });

const TexmlStatusCallback = TexmlRequest.extend({
  CallDuration: wholeSeconds(0),
  Timestamp: texmlTime,
  SequenceNumber: wholeSeconds(0),
});

const TexmlRecordingCallback = z.object({
  CallSid: id,
  RecordingSid: id,
  RecordingStatus: z.enum(RECORDING_STATUSES, { message: `must be one of ${RECORDING_STATUSES.join(', ')}` }),
  RecordingUrl: z
    .string()
    .max(2048)
    .optional()
    .refine((v) => v === undefined || v === '' || /^https?:\/\/\S+$/.test(v), 'must be an http(s) URL'),
  RecordingDuration: wholeSeconds(-1),
  Timestamp: texmlTime,
});

function values(params: FormParams, keys: readonly string[]): { values: Record<string, string | undefined>; repeated: FieldIssue[] } {
  const repeated: FieldIssue[] = [];
  const out: Record<string, string | undefined> = {};
  for (const k of keys) {
    const v = params[k];
    if (Array.isArray(v) && !v.every((x) => x === v[0])) repeated.push({ field: k, message: 'is repeated with different values' });
    out[k] = one(v);
  }
  return { values: out, repeated };
}

/** A verified TeXML callback (form parameters) as the canonical CallEvent. */
export function parseTexmlCallback(params: FormParams, ctx: ParseContext): ParseOutcome {
  const isRecording = one(params.RecordingSid) !== undefined && one(params.RecordingStatus) !== undefined;
  const schema = isRecording ? TexmlRecordingCallback : TexmlStatusCallback;
  const { values: read, repeated } = values(params, Object.keys(schema.shape));
  if (repeated.length > 0) return refusedFields('telnyx', 'TeXML callback', repeated);
  if (isRecording) {
    const parsed = TexmlRecordingCallback.safeParse(read);
    if (!parsed.success) return refusedFields('telnyx', 'TeXML recording callback', fieldIssues(parsed.error.issues));
    const r = parsed.data;
    const callId = `telnyx:${r.CallSid}`;
    const event: RecordingStatusEvent = {
      kind: 'recording.status',
      provider: 'telnyx',
      accountId: ctx.accountId,
      callId,
      eventId: `${callId}:recording:${r.RecordingSid}:${r.RecordingStatus}`,
      occurredAt: r.Timestamp ?? ctx.receivedAt,
      receivedAt: ctx.receivedAt,
      sequenceNumber: null,
      recordingId: r.RecordingSid,
      recordingStatus: r.RecordingStatus,
      recordingUrl: r.RecordingUrl ? r.RecordingUrl : null,
      recordingDurationSec: r.RecordingDuration === null || r.RecordingDuration < 0 ? null : r.RecordingDuration,
    };
    return { kind: 'event', event };
  }
  const parsed = TexmlStatusCallback.safeParse(read);
  if (!parsed.success) return refusedFields('telnyx', 'TeXML status callback', fieldIssues(parsed.error.issues));
  const p = parsed.data;
  const callId = `telnyx:${p.CallSid}`;
  const event: CallStatusEvent = {
    kind: 'call.status',
    provider: 'telnyx',
    accountId: ctx.accountId,
    callId,
    eventId: `${callId}:status:${p.CallStatus}${p.Digits !== null ? ':gather' : ''}`,
    occurredAt: p.Timestamp ?? ctx.receivedAt,
    receivedAt: ctx.receivedAt,
    sequenceNumber: p.SequenceNumber,
    status: p.CallStatus,
    direction: p.Direction ?? (p.ParentCallSid === undefined ? null : 'outbound-dial'),
    from: p.From,
    to: p.To,
    durationSec: p.CallDuration,
    answeredBy: null,
    stirVerstat: stirVerstatOf(p.ShakenStirAttestation, p.ShakenStirValidated === null ? null : p.ShakenStirValidated === 'true'),
    digits: p.Digits,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: p.ParentCallSid === undefined ? null : `telnyx:${p.ParentCallSid}`,
  };
  return { kind: 'event', event };
}

/** The routing context of a dialled leg's callback, as the voice URL wrote it; or why it does not authenticate. */
export type LegContext =
  | { readonly ok: true; readonly route: string; readonly position: number; readonly targetId: string }
  | { readonly ok: false; readonly errors: readonly FieldIssue[] };

/**
 * The `?leg=dial&route&pos&target&st` query of a TeXML dialled leg's statusCallback (callflow/machine.ts dialVerb).
 * Telnyx signs the body, not the URL, so the context is trusted only when `st` is the MAC, under the account's state
 * key, of the caller's call id and the context in its canonical order (callflow/state.ts eventsPath): a context
 * moved to another target, position or call is refused. Null: the query names no dialled leg.
 */
export function texmlLegContext(query: URLSearchParams, parentCallId: string, stateKey: string): LegContext | null {
  if (query.get('leg') !== 'dial') return null;
  const route = query.get('route') ?? '';
  const pos = query.get('pos') ?? '';
  const targetId = query.get('target') ?? '';
  const want = stateMac(stateKey, parentCallId, encodeQuery([['leg', 'dial'], ['route', route], ['pos', pos], ['target', targetId]]));
  const given = query.get('st') ?? '';
  const authentic = /^\d$/.test(pos) && given.length === want.length && timingSafeEqual(Buffer.from(given), Buffer.from(want));
  if (!authentic) return { ok: false, errors: [{ field: 'st', message: 'does not authenticate this leg for this call' }] };
  return { ok: true, route, position: Number(pos), targetId };
}
