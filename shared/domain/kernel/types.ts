/**
 * CallLedger's domain vocabulary. Pure types: no AWS, no I/O. Money is integer cents; units go last in names.
 * Times are ISO-8601 UTC strings (`2026-11-24T02:13:17.000Z`) unless the name ends in `Ms` (epoch millis).
 */

import type { CreditPolicy } from '../disputes/disputes';
import type { Geography, HoursOfOperation, TermsVersion } from '../terms/terms';
import type { PilotTerms } from '../pilots/caps';
import type { QualityConfig } from '../quality/signals';
import type { CampaignEconomics } from '../reports/analytics';

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
   * clear; an event read back from a call item has '' here (issue 6: StoredCall.callerTraits and callerHash say what
   * later steps need of the caller).
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

// ---------------------------------------------------------------- configuration (seed / management API)

export interface Account {
  readonly accountId: string;
  readonly name: string;
  /** IANA time zone the account's periods are measured in. */
  readonly timeZone: string;
  readonly currency: 'USD';
  readonly twilio: {
    readonly accountSid: string;
    /** Name of the secret holding the primary auth token (resolved through the secrets port). */
    readonly authTokenSecret: string;
  };
  /** Quality-signal thresholds and the signals that make a call non-billable (quality-signals.ts); absent: defaults. */
  readonly quality?: QualityConfig;
  /** Issue 6: whether compliance findings make calls non-billable (consent.ts ComplianceSettings); absent: flag only. */
  readonly compliance?: {
    readonly consentMissingNonBillable: boolean;
    readonly dncNonBillable: boolean;
  };
  /** Issue 6: days recordings are kept (retention.ts RECORDING_RETENTION_DAYS); absent: the default, 365. */
  readonly recordingRetentionDays?: number;
}

/** How a publisher says it generates calls (declared on the publisher, for audits and reconciliation). */
export const TRAFFIC_METHODS = ['paid_search', 'social', 'seo', 'comparison', 'affiliate', 'outbound', 'purchased_list', 'other'] as const;
export type TrafficMethod = (typeof TRAFFIC_METHODS)[number];

export interface PublisherContact {
  readonly name: string | null;
  readonly email: string | null;
  readonly phone: string | null;
}

/** A publisher as stored and served by `GET /v1/publishers/{publisherId}` (shared/domain/catalog/config.ts validates it). */
export interface Publisher {
  readonly accountId: string;
  readonly publisherId: string;
  readonly name: string;
  readonly trafficMethods: readonly TrafficMethod[];
  /** Sub-source labels the publisher declares (tracking numbers name one of them, or none). */
  readonly subSources: readonly string[];
  readonly contact: PublisherContact | null;
  readonly creditPolicy: CreditPolicy;
}

/**
 * One flat set of terms: a price, whole-call duration, campaign-scoped duplicates. What a seed file writes as a
 * campaign's first terms (with the optional fields of `ContractTerms`) and what campaign items stored before terms
 * were versioned hold; a `Campaign` holds `TermsVersion`s.
 */
export interface FlatTerms {
  /** Terms version; ledger entries name it. */
  readonly version: number;
  readonly priceCents: number;
  /** Minimum billable connected seconds. */
  readonly bufferSec: number;
  readonly duplicateWindowHours: number;
}

/** A campaign with one set of terms inline: a seed file's shape, and that of items stored before versioned terms. `asCampaign` converts it. */
export interface FlatCampaign {
  readonly accountId: string;
  readonly campaignId: string;
  readonly name: string;
  readonly vertical: string;
  readonly terms: FlatTerms;
}

/**
 * A campaign as stored (main table `CAMP#`) and served: targeting (not versioned) and every version of its
 * contract terms, oldest first (terms.ts: the version in force at an instant is the highest-numbered one
 * effective at or before it).
 */
export interface Campaign {
  readonly accountId: string;
  readonly campaignId: string;
  readonly name: string;
  readonly vertical: string;
  readonly geography: Geography | null;
  readonly hours: HoursOfOperation | null;
  readonly termsVersions: readonly TermsVersion[];
  /** Pilots of this campaign (immutable terms; state lives in each pilot's counter). Absent: none. */
  readonly pilots?: readonly PilotTerms[];
  /** The buyer's economics (the cost ceiling). Absent or null: not entered. */
  readonly economics?: CampaignEconomics | null;
  /** Bumped by every write; writes are conditional on it (optimistic concurrency). */
  readonly rev: number;
  readonly updatedAt: string;
}

/** Who a tracking number sends calls to from `effectiveFrom` on (until a later assignment takes effect). */
export interface NumberAssignment {
  readonly campaignId: string;
  readonly publisherId: string;
  readonly subSource: string | null;
  readonly effectiveFrom: string;
  readonly createdAt: string;
}

/** A tracking number as stored (main table `NUM#`): its account and its assignment history, oldest first. */
export interface TrackingNumber {
  readonly accountId: string;
  /** E.164. */
  readonly number: string;
  readonly assignments: readonly NumberAssignment[];
  readonly rev: number;
  readonly updatedAt: string;
}

/** A tracking number with one assignment, flattened: the one in force at an instant (what rating is given), and the seed file's shape. */
export interface AssignedNumber {
  readonly accountId: string;
  /** E.164. */
  readonly number: string;
  readonly campaignId: string;
  readonly publisherId: string;
  readonly subSource: string | null;
}

export type ApiRole = 'admin' | 'analyst';
