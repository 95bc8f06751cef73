/**
 * Telnyx Call Control (Voice API v2) webhooks: the Ed25519 signature scheme and the mapping of JSON `call.*` events
 * to the canonical CallEvent. Pure: node:crypto only, the clock passed in.
 *
 * Signature: `telnyx-signature-ed25519` is the base64 of a 64-byte Ed25519 signature over the UTF-8 bytes of
 * `${telnyx-timestamp}|${raw body}`, made with the Telnyx account's key; it verifies with the account's public key
 * (Mission Control publishes it as the base64 of the raw 32 bytes). The body is used exactly as received: a body
 * parsed and serialised again has other bytes and does not verify. `telnyx-timestamp` is Unix seconds and must be
 * within 300 s of now in either direction, as Telnyx's own SDK enforces: a captured request cannot be replayed later.
 *
 * Ids: a Telnyx call leg keeps its `call_leg_id` on every event, recordings included, so the leg is the call id,
 * `telnyx:<call_leg_id>` (as a Twilio CallSid names one leg). `call_session_id` groups the legs of one phone call,
 * but only `call.initiated` says whether a leg is incoming or outgoing, so the session cannot tell, event by event,
 * which leg is the caller's: it is not used as an id, and Telnyx legs have no parent (a leg the application
 * transfers to is a call of its own, to the buyer's line). `call_control_id` is a command handle, not an identity.
 *
 * Telnyx does not order its deliveries, retries them (with `meta.attempt` counting up) and may send one twice, so
 * every eventId names the fact, never the delivery: a redelivered event gets the same eventId and the writer's
 * first-write-wins slot makes it a no-op.
 */
import { createPublicKey, verify as ed25519Verify, type KeyObject } from 'node:crypto';
import * as z from 'zod';
import type { CallStatus, CallStatusEvent, RecordingStatusEvent } from '../events';
import { headerList, withForwarded } from '../forwarded';
import {
  PROVIDER_ID,
  SIGNATURE_TOLERANCE_SEC,
  e164IfDigits,
  fieldIssues,
  freshness,
  headerValue,
  isoOrNull,
  refuse,
  refusedBody,
  refusedFields,
  secondsBetween,
  stirVerstatOf,
  strictBase64,
  utf8Text,
  type HeaderMap,
  type ParseContext,
  type ParseOutcome,
  type Verification,
} from './verdicts';

export const TELNYX_SIGNATURE_HEADER = 'telnyx-signature-ed25519';
export const TELNYX_TIMESTAMP_HEADER = 'telnyx-timestamp';

export type TelnyxRefusalCode =
  | 'signature_missing'
  | 'signature_malformed'
  | 'signature_invalid'
  | 'timestamp_missing'
  | 'timestamp_malformed'
  | 'timestamp_stale'
  | 'timestamp_future'
  | 'credentials_unusable';
export type TelnyxVerification = Verification<TelnyxRefusalCode>;

export interface TelnyxVerifyInput {
  /**
   * The account's Ed25519 public keys: normally one, two while a key is being replaced. Each is the base64 of the
   * raw 32-byte key as Mission Control shows it; the base64 of an SPKI DER key and a PEM key are accepted too.
   */
  readonly publicKeys: readonly string[];
  readonly headers: HeaderMap;
  /** The raw body bytes, exactly as received (base64-decoded when API Gateway encoded them). */
  readonly body: Uint8Array;
  readonly nowMs: number;
}

/** The DER prefix that makes 32 raw Ed25519 key bytes an SPKI public key (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An Ed25519 public key from its published text, or null when the text is not one. */
export function telnyxPublicKey(text: string): KeyObject | null {
  const t = text.trim();
  try {
    let key: KeyObject;
    if (t.startsWith('-----BEGIN')) key = createPublicKey(t);
    else {
      const bytes = strictBase64(t);
      if (bytes === null) return null;
      const der = bytes.length === 32 ? Buffer.concat([ED25519_SPKI_PREFIX, bytes]) : bytes;
      key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    }
    return key.asymmetricKeyType === 'ed25519' ? key : null;
  } catch {
    return null;
  }
}

/** The bytes Telnyx signs: the timestamp header, `|`, then the raw body. */
export function telnyxSignedBytes(timestamp: string, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}|`, 'utf8'), body]);
}

export function verifyTelnyxSignature(input: TelnyxVerifyInput): TelnyxVerification {
  const signature = headerValue(input.headers, TELNYX_SIGNATURE_HEADER);
  if (!signature) return refuse('telnyx', 'signature_missing', 'The telnyx-signature-ed25519 header is missing.');
  const timestamp = headerValue(input.headers, TELNYX_TIMESTAMP_HEADER);
  if (!timestamp) return refuse('telnyx', 'timestamp_missing', 'The telnyx-timestamp header is missing.');
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(Number(timestamp))) {
    return refuse('telnyx', 'timestamp_malformed', 'The telnyx-timestamp header must be Unix seconds.');
  }
  const fresh = freshness(Number(timestamp), input.nowMs, SIGNATURE_TOLERANCE_SEC);
  if (fresh === 'stale') {
    return refuse('telnyx', 'timestamp_stale', `The request was signed more than ${SIGNATURE_TOLERANCE_SEC} s ago.`);
  }
  if (fresh === 'future') {
    return refuse('telnyx', 'timestamp_future', `The request is signed more than ${SIGNATURE_TOLERANCE_SEC} s in the future.`);
  }
  const sig = strictBase64(signature);
  if (sig === null || sig.length !== 64) {
    return refuse('telnyx', 'signature_malformed', 'The telnyx-signature-ed25519 header is not a base64 Ed25519 signature.');
  }
  const keys = input.publicKeys.map(telnyxPublicKey).filter((k): k is KeyObject => k !== null);
  if (keys.length === 0) {
    return refuse('telnyx', 'credentials_unusable', 'The account has no usable Telnyx public key.');
  }
  const message = telnyxSignedBytes(timestamp, input.body);
  if (keys.some((key) => ed25519Verify(null, message, key, sig))) return { ok: true, provider: 'telnyx' };
  return refuse('telnyx', 'signature_invalid', 'The telnyx-signature-ed25519 header does not match the request.');
}

// ------------------------------------------------------------------------------------------------ parsing

/** `call.hangup` `hangup_cause` → status. A call that ended normally, or on its time limit, was connected. */
export const TELNYX_HANGUP_STATUS = {
  normal_clearing: 'completed',
  time_limit: 'completed',
  user_busy: 'busy',
  call_rejected: 'busy',
  no_answer: 'no-answer',
  timeout: 'no-answer',
  originator_cancel: 'canceled',
  not_found: 'failed',
  unspecified: 'failed',
} as const satisfies Record<string, CallStatus>;
type HangupCause = keyof typeof TELNYX_HANGUP_STATUS;

/** Answering-machine detection results → Twilio's `AnsweredBy` words, which rating's machine rule reads. */
export const TELNYX_ANSWERED_BY = {
  human: 'human',
  human_residence: 'human',
  human_business: 'human',
  machine: 'machine_start',
  fax_detected: 'fax',
  silence: 'unknown',
  not_sure: 'unknown',
} as const;
type AmdResult = keyof typeof TELNYX_ANSWERED_BY;

/** The event types that carry a billing fact; every other well-formed `call.*` event is acknowledged and ignored. */
export const TELNYX_MAPPED_EVENT_TYPES = [
  'call.initiated',
  'call.answered',
  'call.gather.ended',
  'call.machine.detection.ended',
  'call.machine.premium.detection.ended',
  'call.hangup',
  'call.recording.saved',
  'call.recording.error',
] as const;
type MappedType = (typeof TELNYX_MAPPED_EVENT_TYPES)[number];

const id = z.string().regex(PROVIDER_ID, 'must be an id (letters, digits, :._-; at most 128)');
const optionalTime = z
  .string()
  .max(64)
  .nullish()
  .refine((v) => v === null || v === undefined || isoOrNull(v) !== null, 'must be an ISO-8601 time');
const party = z.string().max(256, 'is too long').nullish();
const url = z
  .string()
  .max(2048)
  .regex(/^https?:\/\/\S+$/, 'must be an http(s) URL')
  .nullish();

const Envelope = z.object({
  data: z.object({
    event_type: z.string().min(1, 'is required').max(128),
    id,
    occurred_at: optionalTime,
    payload: z.record(z.string(), z.unknown()),
  }),
});

const Leg = z.object({ call_leg_id: id, from: party, to: party });

const PAYLOADS = {
  'call.initiated': Leg.extend({
    direction: z.enum(['incoming', 'outgoing']).nullish(),
    start_time: optionalTime,
    shaken_stir_attestation: z.string().max(8).nullish(),
    shaken_stir_validated: z.boolean().nullish(),
  }),
  'call.answered': Leg.extend({ start_time: optionalTime }),
  'call.gather.ended': Leg.extend({
    digits: z
      .string()
      .max(128)
      .regex(/^[0-9*#A-D]*$/, 'must contain only 0-9, *, # and A-D')
      .nullish(),
  }),
  'call.machine.detection.ended': Leg.extend({ result: z.enum(Object.keys(TELNYX_ANSWERED_BY) as [AmdResult]) }),
  'call.machine.premium.detection.ended': Leg.extend({ result: z.enum(Object.keys(TELNYX_ANSWERED_BY) as [AmdResult]) }),
  'call.hangup': Leg.extend({
    hangup_cause: z.enum(Object.keys(TELNYX_HANGUP_STATUS) as [HangupCause], {
      message: `must be one of ${Object.keys(TELNYX_HANGUP_STATUS).join(', ')}`,
    }),
    start_time: optionalTime,
    end_time: optionalTime,
  }),
  'call.recording.saved': Leg.extend({
    recording_id: id.nullish(),
    recording_started_at: optionalTime,
    recording_ended_at: optionalTime,
    recording_urls: z.object({ wav: url, mp3: url }).nullish(),
    public_recording_urls: z.object({ wav: url, mp3: url }).nullish(),
  }),
  'call.recording.error': Leg.extend({ recording_id: id.nullish() }),
} satisfies Record<MappedType, z.ZodType>;

function isMapped(eventType: string): eventType is MappedType {
  return (TELNYX_MAPPED_EVENT_TYPES as readonly string[]).includes(eventType);
}

interface Parsed<T extends MappedType> {
  readonly type: T;
  readonly eventId: string;
  readonly occurredAt: string | null;
  readonly p: z.infer<(typeof PAYLOADS)[T]>;
}

/**
 * Maps a verified Telnyx Call Control webhook body to the canonical CallEvent. Total: any bytes give an event, an
 * ignored event type, or a refusal naming the bad fields.
 */
export function parseTelnyxEvent(body: Uint8Array | string, ctx: ParseContext): ParseOutcome {
  const text = utf8Text(body);
  let json: unknown;
  try {
    json = text === null ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (json === undefined) return refusedBody('telnyx', 'The body is not JSON.');
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) return refusedFields('telnyx', 'Telnyx webhook', fieldIssues(envelope.error.issues));
  const { event_type: type, id: eventUuid, occurred_at, payload } = envelope.data.data;
  if (!isMapped(type)) return { kind: 'ignored', provider: 'telnyx', eventType: type };
  const p = PAYLOADS[type].safeParse(payload);
  if (!p.success) return refusedFields('telnyx', `Telnyx ${type} event`, fieldIssues(p.error.issues, 'data.payload'));
  // The INVITE's custom SIP headers (call.initiated, call.answered): how a network that forwarded the call passes its id.
  return withForwarded(toEvent({ type, eventId: eventUuid, occurredAt: isoOrNull(occurred_at), p: p.data } as Parsed<MappedType>, ctx), headerList(payload.custom_headers));
}

function toEvent(parsed: Parsed<MappedType>, ctx: ParseContext): ParseOutcome {
  switch (parsed.type) {
    case 'call.initiated': {
      const p = parsed.p as Parsed<'call.initiated'>['p'];
      // An incoming leg's first event is the incoming call itself, which the ledger knows as `ringing`.
      const incoming = p.direction === 'incoming';
      return status(parsed, ctx, incoming ? 'ringing' : 'initiated', {
        direction: p.direction === undefined || p.direction === null ? null : incoming ? 'inbound' : 'outbound-api',
        stirVerstat: stirVerstatOf(p.shaken_stir_attestation ?? null, p.shaken_stir_validated ?? null),
      });
    }
    case 'call.answered':
      return status(parsed, ctx, 'in-progress', {});
    case 'call.gather.ended': {
      const digits = (parsed.p as Parsed<'call.gather.ended'>['p']).digits ?? '';
      // A gather the caller answered nothing to says nothing the ledger keeps (the fold reads no digits either way).
      if (digits === '') return { kind: 'ignored', provider: 'telnyx', eventType: parsed.type };
      return status(parsed, ctx, 'in-progress', { digits }, ':gather');
    }
    case 'call.machine.detection.ended':
    case 'call.machine.premium.detection.ended': {
      const result = (parsed.p as Parsed<'call.machine.detection.ended'>['p']).result;
      return status(parsed, ctx, 'in-progress', { answeredBy: TELNYX_ANSWERED_BY[result] }, ':amd');
    }
    case 'call.hangup':
      return hangup(parsed as Parsed<'call.hangup'>, ctx);
    case 'call.recording.saved':
    case 'call.recording.error':
      return recording(parsed as Parsed<'call.recording.saved' | 'call.recording.error'>, ctx);
  }
}

function base(parsed: Parsed<MappedType>, ctx: ParseContext, occurredAt: string | null) {
  return {
    provider: 'telnyx' as const,
    accountId: ctx.accountId,
    callId: `telnyx:${parsed.p.call_leg_id}`,
    occurredAt: occurredAt ?? parsed.occurredAt ?? ctx.receivedAt,
    receivedAt: ctx.receivedAt,
    sequenceNumber: null,
  };
}

function status(
  parsed: Parsed<MappedType>,
  ctx: ParseContext,
  callStatus: CallStatus,
  fields: Partial<Pick<CallStatusEvent, 'direction' | 'stirVerstat' | 'digits' | 'answeredBy' | 'durationSec'>>,
  suffix = '',
  occurredAt: string | null = null,
): ParseOutcome {
  const b = base(parsed, ctx, occurredAt);
  const event: CallStatusEvent = {
    ...b,
    kind: 'call.status',
    eventId: `${b.callId}:status:${callStatus}${suffix}`,
    status: callStatus,
    direction: fields.direction ?? null,
    from: e164IfDigits(parsed.p.from ?? ''),
    to: e164IfDigits(parsed.p.to ?? ''),
    durationSec: fields.durationSec ?? null,
    answeredBy: fields.answeredBy ?? null,
    stirVerstat: fields.stirVerstat ?? null,
    digits: fields.digits ?? null,
    fromState: null,
    fromZip: null,
    fromCountry: null,
    parentCallId: null,
  };
  return { kind: 'event', event };
}

/**
 * The terminal event. `call.hangup` carries no duration: a connected call lasted from `start_time` to `end_time`
 * (or the event's `occurred_at` when `end_time` is absent), in whole seconds; a call that never connected lasted 0,
 * as Twilio reports it. The event's time is the call's end, so the fold's start (end − duration) is `start_time`.
 */
function hangup(parsed: Parsed<'call.hangup'>, ctx: ParseContext): ParseOutcome {
  const p = parsed.p;
  const callStatus = TELNYX_HANGUP_STATUS[p.hangup_cause];
  const endedAt = isoOrNull(p.end_time) ?? parsed.occurredAt;
  const durationSec = callStatus === 'completed' ? secondsBetween(isoOrNull(p.start_time), endedAt) : 0;
  return status(parsed, ctx, callStatus, { durationSec }, '', endedAt);
}

function recording(parsed: Parsed<'call.recording.saved' | 'call.recording.error'>, ctx: ParseContext): ParseOutcome {
  const b = base(parsed, ctx, null);
  // Telnyx names the recording on newer payloads; otherwise the event's own id (the same on every retry) does.
  const recordingId = parsed.p.recording_id ?? parsed.eventId;
  if (parsed.type === 'call.recording.error') {
    const event: RecordingStatusEvent = {
      ...b,
      kind: 'recording.status',
      eventId: `${b.callId}:recording:${recordingId}:failed`,
      recordingId,
      recordingStatus: 'failed',
      recordingUrl: null,
      recordingDurationSec: null,
    };
    return { kind: 'event', event };
  }
  const p = parsed.p as Parsed<'call.recording.saved'>['p'];
  // The private URLs need the account's API key and expire after 10 minutes; the fetcher takes them first.
  const recordingUrl =
    p.recording_urls?.wav ?? p.recording_urls?.mp3 ?? p.public_recording_urls?.wav ?? p.public_recording_urls?.mp3 ?? null;
  const event: RecordingStatusEvent = {
    ...b,
    kind: 'recording.status',
    eventId: `${b.callId}:recording:${recordingId}:completed`,
    recordingId,
    recordingStatus: 'completed',
    recordingUrl,
    recordingDurationSec: secondsBetween(isoOrNull(p.recording_started_at), isoOrNull(p.recording_ended_at)),
  };
  return { kind: 'event', event };
}
