/**
 * The one canonical, provider-neutral call event (documented in events/CALL-EVENT.md) and what travels on the ingest
 * queue. Pure types: no AWS, no I/O. Times are ISO-8601 UTC strings (`2026-11-24T02:13:17.000Z`) unless the name
 * ends in `Ms` (epoch millis); units go last in names.
 */

/** The carriers whose webhooks map to CallEvent (call ids are `<provider>:<id>`, so theirs never collide). */
export type Provider = 'twilio' | 'telnyx' | 'vonage' | 'plivo';

/** Every status a provider can report for a call leg, normalised (Twilio's names). */
export type CallStatus =
  | 'queued'
  | 'initiated'
  | 'ringing'
  | 'in-progress'
  | 'completed'
  | 'busy'
  | 'no-answer'
  | 'failed'
  | 'canceled';

export const TERMINAL_STATUSES: ReadonlySet<CallStatus> = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

export type RecordingStatus = 'in-progress' | 'completed' | 'absent' | 'failed';

interface CallEventBase {
  /** Deterministic idempotency key of the delivery's meaning, e.g. `twilio:CA…:status:completed` or `twilio:CA…:recording:RE…:completed`. */
  readonly eventId: string;
  readonly provider: Provider;
  readonly accountId: string;
  /** Provider-qualified call id: `twilio:<CallSid>`, `telnyx:<call_leg_id>`, `vonage:<conversation_uuid>` or `vonage:<uuid>`, `plivo:<CallUUID>`. */
  readonly callId: string;
  /** When the provider says the event happened (Twilio `Timestamp`), else when we received it. */
  readonly occurredAt: string;
  /** When our ingest function accepted the webhook. */
  readonly receivedAt: string;
  /** Provider sequence number per call, when given (Twilio `SequenceNumber`). */
  readonly sequenceNumber: number | null;
}

/** A call status change (Twilio voice status callback or the incoming-call webhook). */
export interface CallStatusEvent extends CallEventBase {
  readonly kind: 'call.status';
  readonly status: CallStatus;
  readonly direction: 'inbound' | 'outbound-api' | 'outbound-dial' | null;
  /**
   * Caller as sent (E.164 when it is a phone number; may be `anonymous`, `client:x`, a SIP URI). PII: never stored in
   * clear; an event read back from a call item has '' here (StoredCall.callerTraits and callerHash say what later
   * steps need of the caller).
   */
  readonly from: string;
  /** The tracking number dialled, E.164. */
  readonly to: string;
  /** Seconds of this leg, on terminal events (Twilio `CallDuration`). */
  readonly durationSec: number | null;
  readonly answeredBy: string | null;
  readonly stirVerstat: string | null;
  readonly digits: string | null;
  readonly fromState: string | null;
  readonly fromZip: string | null;
  readonly fromCountry: string | null;
  readonly parentCallId: string | null;
  /**
   * The custom SIP headers (`X-…`) the call arrived with, as its carrier passed them (Twilio and Vonage `SipHeader_X-…`,
   * Plivo `X-PH-…`, Telnyx `custom_headers`): lower-cased names, bounded, never a credential or a phone number
   * (forwarded.ts). How a network that forwarded the call passes its own call id. Absent when none was kept.
   */
  readonly forwarded?: Readonly<Record<string, string>>;
}

/** A recording status callback. */
export interface RecordingStatusEvent extends CallEventBase {
  readonly kind: 'recording.status';
  readonly recordingId: string;
  readonly recordingStatus: RecordingStatus;
  readonly recordingUrl: string | null;
  readonly recordingDurationSec: number | null;
}

/** The one canonical, provider-neutral event. Documented in events/CALL-EVENT.md. */
export type CallEvent = CallStatusEvent | RecordingStatusEvent;

/** What travels on the ingest queue: the canonical event plus the raw delivery, kept for re-rating. */
export interface IngestMessage {
  readonly v: 1;
  readonly event: CallEvent;
  readonly raw: {
    readonly contentType: string;
    /** The request body exactly as received (UTF-8 text). */
    readonly body: string;
    readonly receivedAt: string;
  };
}
