/**
 * The ports several capabilities consume (configuration, secrets, the call store's reads and event writes, recording
 * media, log, telemetry, paging). A port one capability alone consumes lives in that capability's ports.ts. Adapters
 * in shared/adapters implement them with the AWS SDK; tests may implement them in memory. No AWS types appear here.
 */
import type { CampaignItem, NumberItem } from '../../domain/catalog/config';
import type { CallOutcomeOnCall } from '../../domain/outcomes/outcomes';
import type { CallQa } from '../../domain/qa/qa';
import type { CallerTraits } from '../../domain/quality/caller-traits';
import type { CrossCallFlags } from '../../domain/quality/cross-call-flags';
import type { Account, Publisher } from '../../domain/catalog/types';
import type { ApiRole } from '../../domain/kernel/roles';
import type { CallEvent, Provider } from '../../domain/calls/events';
import type { CallNetworkAttribution } from '../../domain/networks/attribution';
import type { MediaCredentials } from '../../domain/recordings/media-auth';
import type { RatingDecision, RecordedRating } from '../../domain/rating/decision';

// ------------------------------------------------------------------ configuration

export interface ApiKeyRecord {
  readonly accountId: string;
  readonly role: ApiRole;
  readonly label?: string;
}

export interface ConfigStore {
  getAccount(accountId: string): Promise<Account | null>;
  /**
   * A campaign with its terms versions. `forInstantMs`: the copy must be exact for calls that started then
   * (a cached copy may be used only if no change written after it was read can be in force then; config.ts).
   */
  getCampaign(accountId: string, campaignId: string, forInstantMs?: number): Promise<CampaignItem | null>;
  /** A tracking number (E.164) with its assignment history, whatever account it belongs to; `forInstantMs` as above. */
  getTrackingNumber(e164: string, forInstantMs?: number): Promise<NumberItem | null>;
  /** An API key by the sha256 hex of the key. */
  getApiKey(keySha256: string): Promise<ApiKeyRecord | null>;
  /** A publisher of the account (cached). */
  getPublisher(accountId: string, publisherId: string): Promise<Publisher | null>;
}

export interface SecretStore {
  /** A named provider secret (e.g. `twilio/acme/auth-token`), resolved under SECRETS_REF. */
  getSecret(name: string): Promise<string>;
  /** A full reference: `env:NAME` or `ssm:/parameter/name`. */
  resolve(ref: string): Promise<string>;
}

// ------------------------------------------------------------------ calls

export interface StoredRecording {
  readonly recordingId: string;
  readonly key: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly durationSec: number | null;
  readonly contentType: string;
  readonly storedAt: string;
}

export interface StoredCall {
  readonly callId: string;
  readonly accountId: string;
  /** Every event slot of the call (fold them with foldCall). */
  readonly events: readonly CallEvent[];
  /** The rating as the item records it (decision.ts RecordedRating); null until the call is rated. */
  readonly rating: RecordedRating | null;
  readonly ratedAt: string | null;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly durationSec: number | null;
  readonly recording: StoredRecording | null;
  /** The CRM outcome in force for the call and how it was matched (shared/domain/outcomes/outcomes.ts); absent: none. */
  readonly outcome?: CallOutcomeOnCall | null;
  /** The QA reviewer's verdict in force (shared/domain/qa/qa.ts); absent: not reviewed. */
  readonly qa?: CallQa | null;
  /**
   * Credits booked against the call's charge (≤ 0, cents) and how many, as the dispute resolution wrote them onto the
   * call item in the same transaction as the ledger's credit entries (dispute-repo.ts): an exact copy, kept so the
   * reports and the daily aggregates read a call whole without reading the ledger. Absent: never credited.
   */
  readonly credits?: { readonly cents: number; readonly count: number } | null;
  /**
   * Reversals of the call's charges (the duplicate window moved its charge to an earlier call of the caller), as the
   * rating transaction that wrote them added them to the call item: the reversed charges' sum (`chargeCents`, ≥ 0),
   * the reversals' sum (`cents`, ≤ 0) and how many. Absent: never reversed. The call's net is then
   * (billable ? amountCents : 0) + chargeCents + credits + cents.
   */
  readonly reversals?: { readonly chargeCents: number; readonly cents: number; readonly count: number } | null;
  /** The caller's number sealed (shared/domain/privacy/pii.ts); absent when anonymous or rated before caller numbers were sealed. */
  readonly callerEnc?: string;
  /** The caller's keyed hash as the rating stored it (shared/domain/calls/caller.ts); absent for a withheld caller. */
  readonly callerHash?: string;
  /** Cross-call quality flags the scheduled quality pass stored (quality-signals.ts CrossCallFlags); absent: none. */
  readonly crossCall?: CrossCallFlags | null;
  /** Items rated before caller numbers were sealed only: the number in clear (read, never written any more). */
  readonly callerE164?: string;
  /**
   * What the first rating recorded of the caller instead of the number (item attribute `ct`): the event
   * slots no longer carry `from` (read back as ''). Absent on items rated before that change, whose slots kept it.
   */
  readonly callerTraits?: CallerTraits;
  /** The legal hold an open dispute keeps on the call's recording (call item `hold`); absent: none. */
  readonly legalHold?: { readonly disputeId: string; readonly at: string } | null;
  /**
   * A deletion request erased the call's personal fields (call item `erasure`); `recordingPending`: its
   * recording was under legal hold and is deleted when the hold is released. Absent: never erased.
   */
  readonly erasure?: { readonly deletionId: string; readonly at: string; readonly recordingPending: boolean } | null;
  /**
   * The network side of a forwarded call (call item `net`), written by the networks' matching pass: the matched
   * claim, the match state and the network's publisher and sub-source. Absent: not a network's call, or not matched yet.
   */
  readonly network?: CallNetworkAttribution | null;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Opaque; null on the last page. */
  readonly cursor: string | null;
}

/** Time range: `from` inclusive, `to` exclusive, ISO-8601 UTC (`toISOString()` form). */
export interface TimeRange {
  readonly from?: string;
  readonly to?: string;
}

export interface CallQuery extends TimeRange {
  readonly accountId: string;
  readonly campaignId?: string;
  readonly publisherId?: string;
  readonly billable?: boolean;
  readonly limit: number;
  readonly cursor?: string;
}

/** The call item as every capability reads and writes it; the rating's own writes are rating/ports.ts CallRatingStore. */
export interface CallStore {
  /** Writes each event into its slot (first write wins), creating the call item if needed. */
  mergeEvents(callId: string, accountId: string, events: readonly CallEvent[]): Promise<void>;
  setRecording(callId: string, recording: StoredRecording): Promise<void>;
  getCall(callId: string, options?: { consistent?: boolean }): Promise<StoredCall | null>;
  /** Rated calls of an account, newest first. */
  listCalls(query: CallQuery): Promise<Page<StoredCall>>;
  /**
   * Records that `accountId` sent events for a call another account owns (they were refused, never applied).
   * Idempotent: a redelivered event adds nothing. Touches nothing of the owner's call.
   */
  recordAccountConflict(args: { accountId: string; callId: string; eventIds: readonly string[]; at: string }): Promise<void>;
}

// ------------------------------------------------------------------ recordings

export interface RecordingMedia {
  /**
   * Downloads `url` (only from the hosts allowed for `provider`) with `credentials` and streams it into storage
   * under `key`; returns what was stored.
   */
  store(args: {
    url: string;
    provider: Provider;
    credentials: MediaCredentials;
    key: string;
    /** S3 object tags stored with it (retention class, hold; shared/domain/recordings/retention.ts). */
    tags?: Readonly<Record<string, string>>;
  }): Promise<{ sha256: string; bytes: number; contentType: string }>;
  /** A presigned GET URL, valid for 15 minutes. */
  presignGet(key: string): Promise<string>;
}

// ------------------------------------------------------------------ observability

export interface Log {
  debug(message: string, attrs?: Record<string, unknown>): void;
  info(message: string, attrs?: Record<string, unknown>): void;
  warn(message: string, attrs?: Record<string, unknown>): void;
  error(message: string, attrs?: Record<string, unknown>): void;
}

export interface Telemetry {
  webhookAccepted(): void;
  /** `reason` is the problem slug (e.g. `bad-signature`). */
  webhookRejected(reason: string): void;
  callRated(decision: RatingDecision): void;
  /** One consumer batch of the ingest queue: messages received and messages failed back to SQS. */
  ingestBatchProcessed(messages: number, failed: number): void;
  /** A call's events were refused because the call belongs to another account (alarmed: metric CallAccountConflict). */
  callAccountConflict(): void;
  recordingStored(bytes: number): void;
  recordingFetchFailed(): void;
}

/** A conditional configuration write lost to a concurrent one (the item's `rev` moved, or it appeared). */
export class ConfigWriteConflict extends Error {
  constructor(what: string) {
    super(`configuration ${what} was changed concurrently`);
    this.name = 'ConfigWriteConflict';
  }
}

