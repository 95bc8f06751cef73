/**
 * Vonage Voice API event webhooks: the signed-callback JWT and the mapping of JSON events to the canonical
 * CallEvent. Pure: node:crypto only, the clock passed in.
 *
 * Signature (Vonage "signed webhooks"): `Authorization: Bearer <JWT>`, signed HS256 with the account's signature
 * secret (not its API secret). Vonage's own `verifySignature` checks only the JWT signature, so three more checks
 * are ours, as Vonage's guide asks:
 * - the header's `alg` must be HS256: `none` (an unsigned token) and every other algorithm are refused before any
 *   key is touched, so a token cannot choose how it is checked;
 * - the `payload_hash` claim must be the hex SHA-256 of the raw body: the JWT alone does not cover the body;
 * - `iat` must be within 300 s of now either way: the token has no `exp`, so without this a captured request
 *   would replay forever. A token that does carry `exp` or `nbf` is held to them too.
 * An optional expected `api_key` / `application_id` refuses a correctly signed request for another Vonage
 * account or application (the secret is shared or leaked).
 *
 * Ids: Vonage names each leg by `uuid` and the conversation that joins an inbound caller to the legs it is
 * connected to by `conversation_uuid`. Recording and input events carry only the conversation, so the caller's
 * call is `vonage:<conversation_uuid>`: its inbound leg's events map there. An outbound leg (the `connect` to the
 * buyer) is a child leg, `vonage:<uuid>` with parent `vonage:<conversation_uuid>`, whose completed duration is the
 * talk time. Events can arrive out of order and twice; eventIds name the fact, never the delivery.
 */
import { createHash, createHmac } from 'node:crypto';
import * as z from 'zod';
import type { CallStatus, CallStatusEvent, RecordingStatusEvent } from '../events';
import { forwardedField, headerParams, withForwarded } from '../forwarded';
import {
  PROVIDER_ID,
  SIGNATURE_TOLERANCE_SEC,
  bytesEqual,
  e164IfDigits,
  epochSeconds,
  fieldIssues,
  freshness,
  headerValue,
  isoOrNull,
  refuse,
  refusedBody,
  refusedFields,
  secondsBetween,
  utf8Text,
  type FieldIssue,
  type HeaderMap,
  type ParseContext,
  type ParseOutcome,
  type Verification,
} from './verdicts';

export type VonageRefusalCode =
  | 'signature_missing'
  | 'signature_malformed'
  | 'signature_invalid'
  | 'alg_not_allowed'
  | 'claims_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'timestamp_missing'
  | 'timestamp_malformed'
  | 'timestamp_stale'
  | 'timestamp_future'
  | 'payload_hash_missing'
  | 'payload_hash_mismatch'
  | 'account_mismatch'
  | 'credentials_unusable';
export type VonageVerification = Verification<VonageRefusalCode>;

export interface VonageVerifyInput {
  /** The account's signature secrets: normally one, two while it is being replaced. */
  readonly signatureSecrets: readonly string[];
  readonly headers: HeaderMap;
  /** The raw body bytes, exactly as received. */
  readonly body: Uint8Array;
  readonly nowMs: number;
  /** When set, the JWT's `api_key` / `application_id` claims must be these. */
  readonly expected?: { readonly apiKey?: string; readonly applicationId?: string };
}

/** The only algorithm a Vonage signed callback uses. */
export const VONAGE_JWT_ALG = 'HS256';

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function jsonObject(base64url: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(base64url, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function sha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The JWT signature Vonage computes: base64url HMAC-SHA256 of `header.claims` with the signature secret. */
export function vonageJwtSignature(secret: string, signingInput: string): string {
  return createHmac('sha256', secret).update(signingInput, 'utf8').digest('base64url');
}

export function verifyVonageSignature(input: VonageVerifyInput): VonageVerification {
  const authorization = headerValue(input.headers, 'authorization');
  if (!authorization) return refuse('vonage', 'signature_missing', 'The Authorization header is missing.');
  const bearer = /^Bearer +(\S+) *$/i.exec(authorization);
  const parts = bearer?.[1]?.split('.') ?? [];
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) {
    return refuse('vonage', 'signature_malformed', 'The Authorization header is not a bearer JWT.');
  }
  const [encodedHeader, encodedClaims, signature] = parts as [string, string, string];
  const header = jsonObject(encodedHeader);
  if (header === null || typeof header.alg !== 'string') {
    return refuse('vonage', 'signature_malformed', 'The JWT header is not a JSON object naming its algorithm.');
  }
  if (header.alg !== VONAGE_JWT_ALG) {
    return refuse('vonage', 'alg_not_allowed', `The JWT must be signed ${VONAGE_JWT_ALG}.`);
  }
  const secrets = input.signatureSecrets.filter((s) => s.length > 0);
  if (secrets.length === 0) return refuse('vonage', 'credentials_unusable', 'The account has no Vonage signature secret.');
  const given = Buffer.from(signature, 'utf8');
  const signingInput = `${encodedHeader}.${encodedClaims}`;
  if (!secrets.some((s) => bytesEqual(given, Buffer.from(vonageJwtSignature(s, signingInput), 'utf8')))) {
    return refuse('vonage', 'signature_invalid', 'The JWT signature does not match.');
  }
  const claims = jsonObject(encodedClaims);
  if (claims === null) return refuse('vonage', 'claims_invalid', 'The JWT claims are not a JSON object.');
  return checkClaims(claims, input);
}

function checkClaims(claims: Record<string, unknown>, input: VonageVerifyInput): VonageVerification {
  const now = epochSeconds(input.nowMs);
  const { exp, nbf, iat } = claims;
  if ((exp !== undefined && typeof exp !== 'number') || (nbf !== undefined && typeof nbf !== 'number')) {
    return refuse('vonage', 'claims_invalid', 'The JWT exp and nbf claims must be numbers.');
  }
  if (typeof exp === 'number' && now >= exp) return refuse('vonage', 'token_expired', 'The JWT has expired.');
  if (typeof nbf === 'number' && nbf > now) return refuse('vonage', 'token_not_yet_valid', 'The JWT is not valid yet.');
  if (iat === undefined) return refuse('vonage', 'timestamp_missing', 'The JWT has no iat claim.');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    return refuse('vonage', 'timestamp_malformed', 'The JWT iat claim must be Unix seconds.');
  }
  const fresh = freshness(iat, input.nowMs, SIGNATURE_TOLERANCE_SEC);
  if (fresh === 'stale') return refuse('vonage', 'timestamp_stale', `The JWT was issued more than ${SIGNATURE_TOLERANCE_SEC} s ago.`);
  if (fresh === 'future') {
    return refuse('vonage', 'timestamp_future', `The JWT is issued more than ${SIGNATURE_TOLERANCE_SEC} s in the future.`);
  }
  if (typeof claims.payload_hash !== 'string') return refuse('vonage', 'payload_hash_missing', 'The JWT has no payload_hash claim.');
  if (!bytesEqual(Buffer.from(claims.payload_hash, 'utf8'), Buffer.from(sha256Hex(input.body), 'utf8'))) {
    return refuse('vonage', 'payload_hash_mismatch', 'The body is not the one the JWT was signed for.');
  }
  const expected = input.expected;
  if (
    (expected?.apiKey !== undefined && claims.api_key !== expected.apiKey) ||
    (expected?.applicationId !== undefined && claims.application_id !== expected.applicationId)
  ) {
    return refuse('vonage', 'account_mismatch', 'The JWT belongs to another Vonage account or application.');
  }
  return { ok: true, provider: 'vonage' };
}

// ------------------------------------------------------------------------------------------------ parsing

/** Vonage call statuses → the ledger's. A declined call (`rejected`) is not connected, as a busy line is not. */
export const VONAGE_STATUS = {
  started: 'initiated',
  ringing: 'ringing',
  answered: 'in-progress',
  completed: 'completed',
  busy: 'busy',
  cancelled: 'canceled',
  unanswered: 'no-answer',
  timeout: 'no-answer',
  rejected: 'busy',
  failed: 'failed',
} as const satisfies Record<string, CallStatus>;

/** Answering-machine detection results (sent as their own status, naming the leg `call_uuid`). */
export const VONAGE_ANSWERED_BY = { human: 'human', machine: 'machine_start' } as const;

/** Statuses that carry no billing fact: acknowledged and ignored. */
export const VONAGE_IGNORED_STATUSES = ['disconnected', 'transfer'] as const;

const STATUSES = [...Object.keys(VONAGE_STATUS), ...Object.keys(VONAGE_ANSWERED_BY), ...VONAGE_IGNORED_STATUSES] as string[] as [string, ...string[]];

const id = z.string().regex(PROVIDER_ID, 'must be an id (letters, digits, :._-; at most 128)');
const time = z
  .string()
  .max(64)
  .nullish()
  .refine((v) => v === null || v === undefined || v === '' || isoOrNull(v) !== null, 'must be an ISO-8601 time');
const party = z.string().max(256, 'is too long').nullish();
const seconds = z
  .union([z.number().int().min(0), z.string().regex(/^\d{1,9}$/, 'must be whole seconds'), z.literal('')])
  .nullish();

const StatusEvent = z.object({
  status: z.enum(STATUSES, { message: `must be one of ${STATUSES.join(', ')}` }),
  uuid: id.nullish(),
  call_uuid: id.nullish(),
  conversation_uuid: id,
  direction: z.enum(['inbound', 'outbound']).nullish(),
  from: party,
  to: party,
  timestamp: time,
  start_time: time,
  end_time: time,
  duration: seconds,
});

const RecordEvent = z.object({
  recording_url: z.string().max(2048).regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
  recording_uuid: id,
  conversation_uuid: id,
  start_time: time,
  end_time: time,
  timestamp: time,
});

const InputEvent = z.object({
  uuid: id.nullish(),
  conversation_uuid: id,
  from: party,
  to: party,
  timestamp: time,
  dtmf: z
    .object({
      digits: z
        .string()
        .max(128)
        .regex(/^[0-9*#]*$/, 'must contain only 0-9, * and #')
        .nullish(),
    })
    .nullish(),
});

/**
 * Maps a verified Vonage event-webhook body to the canonical CallEvent. A body with `recording_url` is a record
 * event, one with `dtmf` or `speech` an input event, anything else a call status. Total: any bytes give an event,
 * an ignored event, or a refusal naming the bad fields.
 */
export function parseVonageEvent(body: Uint8Array | string, ctx: ParseContext): ParseOutcome {
  const text = utf8Text(body);
  let json: unknown;
  try {
    json = text === null ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return refusedBody('vonage', 'The body is not a JSON object.');
  const obj = json as Record<string, unknown>;
  if ('recording_url' in obj || 'recording_uuid' in obj) return record(obj, ctx);
  if ('dtmf' in obj || 'speech' in obj) return input(obj, ctx);
  // `SipHeader_X-…`: the INVITE's custom SIP headers, how a network that forwarded the call passes its id.
  return withForwarded(statusEvent(obj, ctx), headerParams(obj, 'SipHeader_'));
}

function common(callId: string, ctx: ParseContext, occurredAt: string | null) {
  return {
    provider: 'vonage' as const,
    accountId: ctx.accountId,
    callId,
    occurredAt: occurredAt ?? ctx.receivedAt,
    receivedAt: ctx.receivedAt,
    sequenceNumber: null,
  };
}

function statusEvent(obj: Record<string, unknown>, ctx: ParseContext): ParseOutcome {
  const parsed = StatusEvent.safeParse(obj);
  if (!parsed.success) return refusedFields('vonage', 'Vonage event', fieldIssues(parsed.error.issues));
  const e = parsed.data;
  if ((VONAGE_IGNORED_STATUSES as readonly string[]).includes(e.status)) {
    return { kind: 'ignored', provider: 'vonage', eventType: e.status };
  }
  const amd = e.status in VONAGE_ANSWERED_BY ? VONAGE_ANSWERED_BY[e.status as keyof typeof VONAGE_ANSWERED_BY] : null;
  // Machine detection runs on the leg being connected, and its event names that leg `call_uuid`, without a direction.
  const legId = amd !== null ? (e.call_uuid ?? e.uuid) : e.uuid;
  const direction = e.direction ?? (amd !== null ? 'outbound' : null);
  const missing = [
    ...(legId ? [] : [{ field: amd !== null ? 'call_uuid' : 'uuid', message: 'is required' }]),
    ...(direction ? [] : [{ field: 'direction', message: 'is required' }]),
  ];
  if (missing.length > 0 || !legId || !direction) return refusedFields('vonage', 'Vonage event', missing);

  const callStatus: CallStatus = amd !== null ? 'in-progress' : VONAGE_STATUS[e.status as keyof typeof VONAGE_STATUS];
  const child = direction === 'outbound';
  const callId = child ? `vonage:${legId}` : `vonage:${e.conversation_uuid}`;
  const terminalAt = callStatus === 'completed' ? (isoOrNull(e.end_time) ?? isoOrNull(e.timestamp)) : isoOrNull(e.timestamp);
  const b = common(callId, ctx, terminalAt);
  const event: CallStatusEvent = {
    ...b,
    kind: 'call.status',
    eventId: `${callId}:status:${callStatus}${amd !== null ? ':amd' : ''}`,
    status: callStatus,
    direction: child ? 'outbound-dial' : 'inbound',
    from: e164IfDigits(e.from ?? ''),
    to: e164IfDigits(e.to ?? ''),
    durationSec: durationOf(callStatus, e.duration, e.start_time, e.end_time),
    answeredBy: amd,
    stirVerstat: null,
    digits: null,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: child ? `vonage:${e.conversation_uuid}` : null,
  };
  return { kind: 'event', event };
}

/**
 * `completed` carries the leg's `duration` (seconds, sent as a string); without it, end − start. Any other
 * terminal status means the leg never connected: 0, as Twilio reports it. Progress events have no duration.
 */
function durationOf(
  callStatus: CallStatus,
  duration: number | string | null | undefined,
  start: string | null | undefined,
  end: string | null | undefined,
): number | null {
  if (callStatus === 'completed') {
    if (duration !== null && duration !== undefined && duration !== '') return Number(duration);
    return secondsBetween(isoOrNull(start), isoOrNull(end));
  }
  return callStatus === 'busy' || callStatus === 'no-answer' || callStatus === 'failed' || callStatus === 'canceled' ? 0 : null;
}

function record(obj: Record<string, unknown>, ctx: ParseContext): ParseOutcome {
  const parsed = RecordEvent.safeParse(obj);
  if (!parsed.success) return refusedFields('vonage', 'Vonage record event', fieldIssues(parsed.error.issues));
  const r = parsed.data;
  const b = common(`vonage:${r.conversation_uuid}`, ctx, isoOrNull(r.end_time) ?? isoOrNull(r.timestamp));
  const event: RecordingStatusEvent = {
    ...b,
    kind: 'recording.status',
    eventId: `${b.callId}:recording:${r.recording_uuid}:completed`,
    recordingId: r.recording_uuid,
    recordingStatus: 'completed',
    recordingUrl: r.recording_url,
    recordingDurationSec: secondsBetween(isoOrNull(r.start_time), isoOrNull(r.end_time)),
  };
  return { kind: 'event', event };
}

/** The caller's keypad answer to an NCCO `input` action, which runs on the inbound leg the NCCO controls. */
function input(obj: Record<string, unknown>, ctx: ParseContext): ParseOutcome {
  const parsed = InputEvent.safeParse(obj);
  if (!parsed.success) return refusedFields('vonage', 'Vonage input event', fieldIssues(parsed.error.issues));
  const i = parsed.data;
  const digits = i.dtmf?.digits ?? '';
  if (digits === '') return { kind: 'ignored', provider: 'vonage', eventType: 'input' };
  const b = common(`vonage:${i.conversation_uuid}`, ctx, isoOrNull(i.timestamp));
  const event: CallStatusEvent = {
    ...b,
    kind: 'call.status',
    eventId: `${b.callId}:status:in-progress:gather`,
    status: 'in-progress',
    direction: 'inbound',
    from: e164IfDigits(i.from ?? ''),
    to: e164IfDigits(i.to ?? ''),
    durationSec: null,
    answeredBy: null,
    stirVerstat: null,
    digits,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: null,
  };
  return { kind: 'event', event };
}

// ------------------------------------------------------------------------------------------------ voice URL

/**
 * What Vonage signs of a GET request (its answer_url's default method): no body, so `payload_hash` is the SHA-256 of
 * the query's parameters as a JSON object, in the order they were sent, without whitespace (Vonage's support
 * guide on verifying Voice API webhooks). A repeated parameter keeps its last value, as a JSON object would.
 */
export function vonageQueryPayload(rawQuery: string): string {
  const obj: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) obj[k] = v;
  return JSON.stringify(obj);
}

const VoiceRequest = z.object({
  conversation_uuid: id,
  uuid: id.nullish(),
  from: party,
  to: party,
  status: z.string().max(32).nullish(),
  direction: z.enum(['inbound', 'outbound']).nullish(),
  duration: seconds,
  dtmf: z
    .object({
      digits: z.string().max(128).regex(/^[0-9*#]*$/, 'must contain only 0-9, * and #').nullish(),
      timed_out: z.union([z.boolean(), z.enum(['true', 'false'])]).nullish(),
    })
    .nullish(),
});

/** A Vonage voice request (the answer webhook, an `input`'s or a `connect`'s eventUrl, an `onAnswer` url), read. */
export interface VonageVoiceRequest {
  /** The conversation that joins the caller to the legs CallLedger connects: the call (`vonage:<conversation_uuid>`). */
  readonly conversationUuid: string;
  readonly uuid: string | null;
  /** E.164 (Vonage sends numbers without `+`). */
  readonly from: string;
  readonly to: string;
  /** The leg's status on a connect's event; null on the answer webhook and an input's event. */
  readonly status: string | null;
  readonly durationSec: number | null;
  /** The keys pressed for an `input` ('' when it timed out). */
  readonly digits: string;
  /** Custom SIP headers of the incoming call (`SipHeader_X-…`), as [header, value]: a network's call id rides here. */
  readonly sipHeaders: readonly (readonly [string, unknown])[];
}

export type VonageVoiceParse = { readonly ok: true; readonly request: VonageVoiceRequest } | { readonly ok: false; readonly errors: readonly FieldIssue[] };

/** Reads a voice request's fields from its JSON body (POST) or its query (GET); names every bad field, never its value. */
export function parseVonageVoiceRequest(fields: unknown): VonageVoiceParse {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return { ok: false, errors: [{ field: '(body)', message: 'must be a JSON object' }] };
  const parsed = VoiceRequest.safeParse(fields);
  if (!parsed.success) return { ok: false, errors: fieldIssues(parsed.error.issues) };
  const r = parsed.data;
  const duration = r.duration === null || r.duration === undefined || r.duration === '' ? null : Number(r.duration);
  return {
    ok: true,
    request: {
      conversationUuid: r.conversation_uuid,
      uuid: r.uuid ?? null,
      from: e164IfDigits(r.from ?? ''),
      to: e164IfDigits(r.to ?? ''),
      status: r.status ?? null,
      durationSec: duration,
      digits: r.dtmf?.digits ?? '',
      sipHeaders: headerParams(fields as Record<string, unknown>, 'SipHeader_'),
    },
  };
}

/**
 * The incoming call as the ledger's event, from the answer webhook: the inbound leg (`vonage:<conversation_uuid>`, as
 * its event_url events name it) ringing at the voice URL. Its eventId is its own (`:answer`): the event_url's
 * `ringing` is a separate delivery of a nearby fact, and the answer's arrival is when CallLedger served the prompt.
 */
export function vonageAnswerEvent(r: VonageVoiceRequest, ctx: ParseContext): CallStatusEvent {
  const b = common(`vonage:${r.conversationUuid}`, ctx, null);
  return {
    ...b,
    kind: 'call.status',
    eventId: `${b.callId}:status:ringing:answer`,
    status: 'ringing',
    direction: 'inbound',
    from: r.from,
    to: r.to,
    durationSec: null,
    answeredBy: null,
    stirVerstat: null,
    digits: null,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: null,
    // The answer webhook is where Vonage passes the INVITE's custom headers: a forwarding network's call id.
    ...forwardedField(r.sipHeaders, r.from),
  };
}
