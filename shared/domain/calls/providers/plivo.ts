/**
 * Plivo voice callbacks: the X-Plivo-Signature-V3 scheme and the mapping of Plivo's form parameters to the
 * canonical CallEvent. Pure: node:crypto only.
 *
 * Signature (Plivo "request validation", V3, as Plivo's official library builds it):
 * 1. base = `scheme://host[:port]/path` of the URL Plivo was configured with (never rebuilt from the Host header);
 * 2. POST: base, then `?` and the URL's own query sorted by name (`k=v&…`, values decoded) followed by `.` when the
 *    URL has a query, or just `?` when it has none; then every POST parameter sorted by name (code-unit order, a
 *    repeated name's values sorted) as name+value with no separators. With no POST parameters the `?` is left off.
 *    GET: base, then `?` and the URL's query merged with the parameters, sorted, with nothing after;
 * 3. append `.` and the `X-Plivo-Signature-V3-Nonce` header;
 * 4. HMAC-SHA256 with the auth token, base64.
 * The header may hold several comma-separated signatures, one per token Plivo has active while a token is being
 * rotated; the request is genuine when any of them matches the signature under any of the account's tokens.
 * Plivo signs no timestamp: a captured request stays valid, and only idempotent eventIds protect against replay.
 * The parameters signed are the decoded form values, so two encodings of the same values verify alike.
 *
 * Ids: Plivo names each leg `CallUUID`; a leg dialled from a call (`<Dial>`) is `Direction=outbound` and names the
 * caller's leg in `ALegUUID`. The call id is `plivo:<CallUUID>`; a dialled leg is a child with parent
 * `plivo:<ALegUUID>`, whose hangup duration is the talk time.
 */
import { createHmac } from 'node:crypto';
import * as z from 'zod';
import type { FormParams } from './twilio';
import type { CallStatus, CallStatusEvent, RecordingStatusEvent } from '../events';
import { forwardedField, headerParams } from '../forwarded';
import {
  PROVIDER_ID,
  bytesEqual,
  e164IfDigits,
  fieldIssues,
  headerValue,
  isoOrNull,
  refuse,
  refusedFields,
  stirVerstatOf,
  type FieldIssue,
  type HeaderMap,
  type ParseContext,
  type ParseOutcome,
  type Verification,
} from './verdicts';

export type { FormParams };

export const PLIVO_SIGNATURE_HEADER = 'x-plivo-signature-v3';
export const PLIVO_NONCE_HEADER = 'x-plivo-signature-v3-nonce';

export type PlivoRefusalCode = 'signature_missing' | 'signature_invalid' | 'nonce_missing' | 'credentials_unusable';
export type PlivoVerification = Verification<PlivoRefusalCode>;

export interface PlivoVerifyInput {
  /** The account's auth tokens: normally one, the old and the new while a token is being rotated. */
  readonly authTokens: readonly string[];
  readonly method: 'GET' | 'POST';
  /** The full URL Plivo was configured to call (public origin + path + query as configured). */
  readonly url: string;
  /** The decoded form parameters of the body (POST) or none (GET: they are in the URL). */
  readonly params: FormParams;
  readonly headers: HeaderMap;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function valuesOf(v: string | readonly string[]): string[] {
  return (Array.isArray(v) ? [...v] : [v as string]).sort(byCodeUnit);
}

/** `scheme://host[:port]/path` and the decoded query parameters of a URL, split by hand so nothing is re-encoded. */
function splitUrl(url: string): { base: string; query: Map<string, string[]> } {
  const noFragment = url.split('#')[0] ?? '';
  const q = noFragment.indexOf('?');
  const base = q < 0 ? noFragment : noFragment.slice(0, q);
  const query = new Map<string, string[]>();
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(noFragment.slice(q + 1))) query.set(k, [...(query.get(k) ?? []), v]);
  }
  return { base, query };
}

function sortedQuery(params: Map<string, string[]>): string {
  return [...params.keys()]
    .sort(byCodeUnit)
    .flatMap((k) => valuesOf(params.get(k)!).map((v) => `${k}=${v}`))
    .join('&');
}

/** The string Plivo signs, before `.nonce` is appended. */
export function plivoSigningBase(method: 'GET' | 'POST', url: string, params: FormParams): string {
  const { base, query } = splitUrl(url);
  if (method === 'GET') {
    for (const [k, v] of Object.entries(params)) query.set(k, [...(query.get(k) ?? []), ...valuesOf(v)]);
    const q = sortedQuery(query);
    return q === '' ? base : `${base}?${q}`;
  }
  const q = sortedQuery(query);
  const names = Object.keys(params).sort(byCodeUnit);
  let out = base;
  if (q !== '' || names.length > 0) out += `?${q}`;
  if (q !== '' && names.length > 0) out += '.';
  for (const name of names) for (const v of valuesOf(params[name]!)) out += name + v;
  return out;
}

export function plivoSignature(authToken: string, method: 'GET' | 'POST', url: string, params: FormParams, nonce: string): string {
  return createHmac('sha256', authToken).update(`${plivoSigningBase(method, url, params)}.${nonce}`, 'utf8').digest('base64');
}

export function verifyPlivoSignature(input: PlivoVerifyInput): PlivoVerification {
  const header = headerValue(input.headers, PLIVO_SIGNATURE_HEADER);
  if (!header) return refuse('plivo', 'signature_missing', 'The X-Plivo-Signature-V3 header is missing.');
  const nonce = headerValue(input.headers, PLIVO_NONCE_HEADER);
  if (!nonce) return refuse('plivo', 'nonce_missing', 'The X-Plivo-Signature-V3-Nonce header is missing.');
  const tokens = input.authTokens.filter((t) => t.length > 0);
  if (tokens.length === 0) return refuse('plivo', 'credentials_unusable', 'The account has no Plivo auth token.');
  const given = header.split(',').map((s) => Buffer.from(s, 'utf8'));
  for (const token of tokens) {
    const expected = Buffer.from(plivoSignature(token, input.method, input.url, input.params, nonce), 'utf8');
    if (given.some((g) => bytesEqual(g, expected))) return { ok: true, provider: 'plivo' };
  }
  return refuse('plivo', 'signature_invalid', 'No X-Plivo-Signature-V3 signature matches the request.');
}

// ------------------------------------------------------------------------------------------------ parsing

/** Plivo `CallStatus` → the ledger's; Plivo's `timeout` is a dialled leg nobody answered. */
export const PLIVO_STATUS = {
  ringing: 'ringing',
  'in-progress': 'in-progress',
  completed: 'completed',
  busy: 'busy',
  failed: 'failed',
  timeout: 'no-answer',
  'no-answer': 'no-answer',
  cancel: 'canceled',
  canceled: 'canceled',
  cancelled: 'canceled',
} as const satisfies Record<string, CallStatus>;
type PlivoStatus = keyof typeof PLIVO_STATUS;

const id = z.string().regex(PROVIDER_ID, 'must be an id (letters, digits, :._-; at most 128)');
const optionalText = z
  .string()
  .max(512)
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? null : v.trim()));
const optionalSeconds = z
  .string()
  .regex(/^\d{0,9}$/, 'must be whole seconds')
  .optional()
  .transform((v) => (v === undefined || v === '' ? null : Number(v)));
/** Plivo times are `YYYY-MM-DD HH:MM:SS` in UTC; ISO-8601 is accepted too. */
const optionalTime = z
  .string()
  .max(64)
  .optional()
  .refine((v) => v === undefined || v === '' || plivoTime(v) !== null, 'must be a time (YYYY-MM-DD HH:MM:SS, UTC)')
  .transform((v) => (v === undefined ? null : plivoTime(v)));

export function plivoTime(v: string): string | null {
  const t = v.trim();
  return /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(t) ? isoOrNull(`${t.replace(' ', 'T')}Z`) : isoOrNull(t);
}

const Call = z.object({
  CallUUID: id,
  From: z.string().max(256, 'is too long').optional(),
  To: z.string().max(256, 'is too long').optional(),
  Direction: z.enum(['inbound', 'outbound']).optional(),
  ALegUUID: id.optional().or(z.literal('')),
});

const StatusForm = Call.extend({
  CallStatus: z.enum(Object.keys(PLIVO_STATUS) as [PlivoStatus], {
    message: `must be one of ${Object.keys(PLIVO_STATUS).join(', ')}`,
  }),
  Duration: optionalSeconds,
  EndTime: optionalTime,
  Digits: z
    .string()
    .max(128)
    .regex(/^[0-9*#]*$/, 'must contain only 0-9, * and #')
    .optional(),
  Machine: z.enum(['true', 'false']).optional(),
  STIRAttestation: optionalText,
  STIRVerification: optionalText,
});

const RecordingForm = Call.extend({
  RecordingID: id,
  RecordUrl: z.string().max(2048).regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
  RecordingDuration: optionalSeconds,
  RecordingEndMs: z.string().regex(/^\d{1,15}$/, 'must be epoch milliseconds').optional(),
});

/** Every parameter must appear once: a repeated scalar is ambiguous, so it is refused. */
function singleValued(params: FormParams): { values: Record<string, string>; errors: FieldIssue[] } {
  const values: Record<string, string> = {};
  const errors: FieldIssue[] = [];
  for (const [name, v] of Object.entries(params)) {
    if (Array.isArray(v)) errors.push({ field: name, message: 'must appear once' });
    else values[name] = v as string;
  }
  return { values, errors };
}

/**
 * Plivo's STIR/SHAKEN parameters in Twilio's StirVerstat words: `Verified` is a validated attestation,
 * `Not Verified` a failed one, `Not Applicable` no validation at all.
 */
function plivoStir(attestation: string | null, verification: string | null): string | null {
  if (verification !== null && /^not applicable$/i.test(verification)) return 'No-TN-Validation';
  if (verification === null) return null;
  return stirVerstatOf(attestation, /^verified$/i.test(verification));
}

/**
 * Maps a verified Plivo callback (answer, ring, hangup, GetDigits action, machine detection or recording) to the
 * canonical CallEvent. A form with `RecordUrl` or `RecordingID` is a recording callback; anything else a call
 * status. Total: any form gives an event or a refusal naming the bad fields.
 */
export function parsePlivoEvent(params: FormParams, ctx: ParseContext): ParseOutcome {
  const { values, errors: shapeErrors } = singleValued(params);
  const isRecording = (values.RecordUrl ?? '') !== '' || (values.RecordingID ?? '') !== '';
  const parsed = (isRecording ? RecordingForm : StatusForm).safeParse(values);
  const errors = [...shapeErrors, ...(parsed.success ? [] : fieldIssues(parsed.error.issues))];
  const what = `Plivo ${isRecording ? 'recording' : 'call'} callback`;
  if (!parsed.success || errors.length > 0) return refusedFields('plivo', what, errors);
  const c = parsed.data;
  const child = c.Direction === 'outbound' && c.ALegUUID !== undefined && c.ALegUUID !== '' && c.ALegUUID !== c.CallUUID;
  const callId = `plivo:${c.CallUUID}`;
  const b = {
    provider: 'plivo' as const,
    accountId: ctx.accountId,
    callId,
    receivedAt: ctx.receivedAt,
    sequenceNumber: null,
  };
  if ('RecordingID' in c) {
    const endMs = c.RecordingEndMs === undefined ? null : Number(c.RecordingEndMs);
    const event: RecordingStatusEvent = {
      ...b,
      occurredAt: endMs === null ? ctx.receivedAt : new Date(endMs).toISOString(),
      kind: 'recording.status',
      eventId: `${callId}:recording:${c.RecordingID}:completed`,
      recordingId: c.RecordingID,
      recordingStatus: 'completed',
      recordingUrl: c.RecordUrl,
      recordingDurationSec: c.RecordingDuration,
    };
    return { kind: 'event', event };
  }
  const s = c as z.infer<typeof StatusForm>;
  const callStatus = PLIVO_STATUS[s.CallStatus];
  const terminal = callStatus !== 'ringing' && callStatus !== 'in-progress';
  const digits = s.Digits === undefined || s.Digits === '' ? null : s.Digits;
  const answeredBy = s.Machine === undefined ? null : s.Machine === 'true' ? 'machine_start' : 'human';
  const suffix = digits !== null ? ':gather' : answeredBy !== null ? ':amd' : '';
  const event: CallStatusEvent = {
    ...b,
    // A hangup's EndTime is when the call ended; the fold's start is that minus Duration.
    occurredAt: (terminal ? s.EndTime : null) ?? ctx.receivedAt,
    kind: 'call.status',
    eventId: `${callId}:status:${callStatus}${suffix}`,
    status: callStatus,
    direction: c.Direction === undefined ? null : c.Direction === 'inbound' ? 'inbound' : child ? 'outbound-dial' : 'outbound-api',
    from: e164IfDigits(c.From ?? ''),
    to: e164IfDigits(c.To ?? ''),
    durationSec: terminal ? (callStatus === 'completed' ? s.Duration : (s.Duration ?? 0)) : null,
    answeredBy,
    stirVerstat: plivoStir(s.STIRAttestation, s.STIRVerification),
    digits,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: child ? `plivo:${c.ALegUUID}` : null,
    // Plivo passes the INVITE's custom SIP headers as parameters of their own name, all prefixed `X-PH-`.
    ...forwardedField(headerParams(values, 'X-PH-', true), c.From ?? ''),
  };
  return { kind: 'event', event };
}
