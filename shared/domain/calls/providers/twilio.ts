/**
 * Twilio voice webhooks: the X-Twilio-Signature scheme and the mapping from Twilio's form parameters to the
 * canonical CallEvent. Pure: node:crypto only.
 *
 * Signature (form-encoded POST, Twilio's "Secure webhooks" guide): HMAC-SHA1, keyed with the account's primary
 * auth token, over the full URL Twilio requested followed by every POST parameter sorted by name in code-unit
 * order, each as name+value with no delimiter; base64. Repeated names are de-duplicated and sorted by value, as
 * the official helper libraries do.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod/mini';
import { BadRequest, fieldErrors, type FieldError } from '../../kernel/problems';
import type { CallEvent, CallStatus, RecordingStatus } from '../events';
import { forwardedField, headerParams } from '../forwarded';

export type FormParams = Record<string, string | string[]>;

/** Parses an application/x-www-form-urlencoded body; a repeated name becomes a list of its values, in arrival order. */
export function parseForm(body: string): FormParams {
  const out: FormParams = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const prior = out[name];
    if (prior === undefined) out[name] = value;
    else if (Array.isArray(prior)) prior.push(value);
    else out[name] = [prior, value];
  }
  return out;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The string Twilio signs: the URL, then name+value for every parameter in sorted order. */
export function twilioSigningString(url: string, params: FormParams): string {
  let data = url;
  for (const name of Object.keys(params).sort(byCodeUnit)) {
    const value = params[name]!;
    const values = Array.isArray(value) ? [...new Set(value)].sort(byCodeUnit) : [value];
    for (const v of values) data += name + v;
  }
  return data;
}

export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  return createHmac('sha1', authToken).update(twilioSigningString(url, params), 'utf8').digest('base64');
}

/** Constant-time comparison of the expected signature with the header; false for a missing or malformed header. */
export function verifyTwilioSignature(
  authToken: string,
  url: string,
  params: FormParams,
  header: string | undefined,
): boolean {
  if (!header) return false;
  const expected = Buffer.from(twilioSignature(authToken, url, params), 'utf8');
  const given = Buffer.from(header.trim(), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// ------------------------------------------------------------------------------------------------ parsing

const CALL_STATUSES = [
  'queued',
  'initiated',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'no-answer',
  'failed',
  'canceled',
] as const satisfies readonly CallStatus[];

const RECORDING_STATUSES = ['in-progress', 'completed', 'absent', 'failed'] as const satisfies readonly RecordingStatus[];

// zod/mini, not zod: this parser is on the voice function's answer path, whose bundle budget the full build's
// method chains would take most of (the two builds share one core and one message table).
const optionalText = z.pipe(
  z.optional(z.string().check(z.maxLength(512))),
  z.transform((v: string | undefined) => (v === undefined || v.trim() === '' ? null : v.trim())),
);

const optionalInt = (min: number) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((v: string | undefined, ctx) => {
      if (v === undefined || v === '') return null;
      if (!/^-?\d{1,9}$/.test(v)) {
        ctx.issues.push({ code: 'custom', message: 'must be a whole number', input: v });
        return z.NEVER;
      }
      const n = Number(v);
      if (n < min) {
        ctx.issues.push({ code: 'custom', message: `must be at least ${min}`, input: v });
        return z.NEVER;
      }
      return n;
    }),
  );

/** Twilio sends RFC 2822 (`Tue, 03 Jun 2025 15:09:45 +0000`); ISO-8601 is accepted too. */
const optionalTimestamp = z.pipe(
  z.optional(z.string()),
  z.transform((v: string | undefined, ctx) => {
    if (v === undefined || v === '') return null;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) {
      ctx.issues.push({ code: 'custom', message: 'must be an RFC 2822 or ISO-8601 timestamp', input: v });
      return z.NEVER;
    }
    return new Date(ms).toISOString();
  }),
);

const sid = (prefix: string) => z.string({ message: 'is required' }).check(z.regex(new RegExp(`^${prefix}[0-9a-fA-F]{32}$`), `must be ${prefix} followed by 32 hex digits`));

const common = {
  AccountSid: sid('AC'),
  CallSid: sid('CA'),
  Timestamp: optionalTimestamp,
  SequenceNumber: optionalInt(0),
};

const CallStatusForm = z.object({
  ...common,
  CallStatus: z.enum(CALL_STATUSES, { message: `must be one of ${CALL_STATUSES.join(', ')}` }),
  From: z.string({ message: 'is required' }).check(z.maxLength(256, 'is too long')),
  To: z.string({ message: 'is required' }).check(z.minLength(1, 'is required'), z.maxLength(256, 'is too long')),
  Direction: z.optional(z.enum(['inbound', 'outbound-api', 'outbound-dial'])),
  CallDuration: optionalInt(0),
  AnsweredBy: optionalText,
  StirVerstat: optionalText,
  Digits: z.optional(z.string().check(z.maxLength(64), z.regex(/^[0-9*#]*$/, 'must contain only 0-9, * and #'))),
  FromState: optionalText,
  FromZip: optionalText,
  FromCountry: optionalText,
  ParentCallSid: z.optional(z.union([sid('CA'), z.pipe(z.literal(''), z.transform(() => undefined))])),
});

const RecordingForm = z.object({
  ...common,
  RecordingSid: sid('RE'),
  RecordingStatus: z.enum(RECORDING_STATUSES, { message: `must be one of ${RECORDING_STATUSES.join(', ')}` }),
  RecordingUrl: z.optional(z.string().check(z.refine((v: string) => v === '' || /^https?:\/\/[^\s]+$/.test(v), 'must be an http(s) URL'))),
  // Twilio reports -1 while a recording's length is unknown.
  RecordingDuration: optionalInt(-1),
});

/** The parameters each callback's parsing reads; every other one is only signed over and archived with the raw body. */
const CALL_PARAMETERS: ReadonlySet<string> = new Set(Object.keys(CallStatusForm.shape));
const RECORDING_PARAMETERS: ReadonlySet<string> = new Set(Object.keys(RecordingForm.shape));

/**
 * One value per parameter the parsing reads. A name may be repeated in a form body, and Twilio's signature covers
 * every value (twilioSigningString). A repeated parameter nothing reads (a custom SIP header, `SipHeader_X-Campaign=
 * spring&SipHeader_X-Campaign=autumn`) is accepted: its values stay, in order, in the raw body the archive keeps. A
 * read parameter repeated with one value is that value. With different values it is refused, 400 naming it: Twilio
 * sends one CallSid, one CallStatus and one duration per request, so such a request is not one of its callbacks, and
 * taking any one of the values would rate a call on a guess.
 */
function readValues(params: FormParams, read: ReadonlySet<string>): { values: Record<string, string>; errors: FieldError[] } {
  const values: Record<string, string> = {};
  const errors: FieldError[] = [];
  for (const [name, v] of Object.entries(params)) {
    if (!read.has(name)) continue;
    if (!Array.isArray(v)) values[name] = v;
    else if (v.every((x) => x === v[0])) values[name] = v[0]!;
    else errors.push({ field: name, message: 'is repeated with different values' });
  }
  return { values, errors };
}

/**
 * Maps a verified Twilio voice or recording status callback to the canonical CallEvent.
 * A form carrying RecordingSid is a recording status callback; anything else is a call status change.
 * Throws BadRequest naming every bad field (never echoing values: they may be phone numbers).
 */
export function parseTwilioEvent(params: FormParams, ctx: { accountId: string; receivedAt: string }): CallEvent {
  // A recording status callback carries RecordingStatus; a call's (or a dialled leg's) status callback may also name the
  // call's recording (RecordingSid, RecordingUrl, RecordingDuration) when the <Dial> recorded, and is still a status.
  const isRecording = [params.RecordingSid ?? []].flat().some((sid) => sid !== '') && params.RecordingStatus !== undefined;
  const { values, errors: shapeErrors } = readValues(params, isRecording ? RECORDING_PARAMETERS : CALL_PARAMETERS);
  const parsed = (isRecording ? RecordingForm : CallStatusForm).safeParse(values);
  // A parameter refused for its conflicting values is not also reported missing.
  const repeated = new Set(shapeErrors.map((e) => e.field));
  const errors = [...shapeErrors, ...(parsed.success ? [] : fieldErrors(parsed.error.issues).filter((e) => !repeated.has(e.field)))];
  if (!parsed.success || errors.length > 0) {
    throw new BadRequest(
      `Malformed Twilio ${isRecording ? 'recording' : 'call'} status parameters: ${errors.map((e) => e.field).join(', ')}.`,
      errors,
    );
  }

  const base = {
    provider: 'twilio' as const,
    accountId: ctx.accountId,
    callId: `twilio:${parsed.data.CallSid}`,
    occurredAt: parsed.data.Timestamp ?? ctx.receivedAt,
    receivedAt: ctx.receivedAt,
    sequenceNumber: parsed.data.SequenceNumber,
  };

  if ('RecordingSid' in parsed.data) {
    const r = parsed.data;
    return {
      ...base,
      kind: 'recording.status',
      eventId: `${base.callId}:recording:${r.RecordingSid}:${r.RecordingStatus}`,
      recordingId: r.RecordingSid,
      recordingStatus: r.RecordingStatus,
      recordingUrl: r.RecordingUrl ? r.RecordingUrl : null,
      recordingDurationSec: r.RecordingDuration === null || r.RecordingDuration < 0 ? null : r.RecordingDuration,
    };
  }

  const c = parsed.data;
  const digits = c.Digits === undefined || c.Digits === '' ? null : c.Digits;
  return {
    ...base,
    kind: 'call.status',
    // A <Gather> action callback also reports `in-progress`: it is a distinct event, not a duplicate.
    eventId: `${base.callId}:status:${c.CallStatus}${digits !== null ? ':gather' : ''}`,
    status: c.CallStatus,
    direction: c.Direction ?? null,
    from: c.From,
    to: c.To,
    durationSec: c.CallDuration,
    answeredBy: c.AnsweredBy,
    stirVerstat: c.StirVerstat,
    digits,
    fromState: c.FromState,
    fromZip: c.FromZip,
    fromCountry: c.FromCountry,
    parentCallId: c.ParentCallSid ? `twilio:${c.ParentCallSid}` : null,
    // A call to a SIP domain names each X- header of the INVITE `SipHeader_<name>` (never `DialSipHeader_`, the
    // dialled SIP leg's answer): how a network that forwarded the call passes its call id.
    ...forwardedField(headerParams(params, 'SipHeader_'), c.From),
  };
}
