/**
 * The ports several capabilities consume (configuration, secrets, the call store, recording media, log, telemetry,
 * paging). A port one capability alone consumes lives in that capability's ports.ts. Adapters in shared/adapters
 * implement them with the AWS SDK; tests may implement them in memory. No AWS types appear here.
 */
import type { CampaignItem, NumberItem } from '../../domain/catalog/config';
import type { CapRefusal, PilotCharge, PilotMovement } from '../../domain/pilots/caps';
import type { MarkerVersion, WindowState } from '../../domain/rating/duplicate-window';
import type { ChargeEntry, LedgerEntry } from '../../domain/ledger/entries';
import type { CallOutcomeOnCall } from '../../domain/outcomes/outcomes';
import type { CallQa } from '../../domain/qa/qa';
import type { CallerTraits } from '../../domain/quality/caller-traits';
import type { CrossCallFlags } from '../../domain/quality/cross-call-flags';
import type { Account, Publisher } from '../../domain/catalog/types';
import type { ApiRole } from '../../domain/kernel/roles';
import type { CallEvent } from '../../domain/calls/events';
import type { PriorBilled, RatingDecision, ReasonCode, RecordedRating } from '../../domain/rating/decision';

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

/** What is written on the call item together with the rating (once). */
export interface RatedCall {
  readonly decision: RatingDecision;
  readonly ratedAt: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationSec: number;
  /** HMAC of the caller's E.164 number; null when the caller is anonymous or not a phone number. */
  readonly callerHash: string | null;
  /**
   * PII: sealed onto the call item (`callerEnc`) for the account's call detail only; never logged, never in clear.
   * null on a re-rating of an item that no longer carries the number: what it holds is kept.
   */
  readonly callerE164: string | null;
  /**
   * What later steps need of the caller instead of the number (quality-signals.ts CallerTraits; item attribute `ct`).
   * Absent or null: not written (a re-rating keeps what the first rating stored).
   */
  readonly callerTraits?: CallerTraits | null;
}

/** Which duplicate window: a caller (keyed hash) in a scope (a campaign, or `*` for the account: duplicateScopeKey). */
export interface WindowKey {
  readonly scope: string;
  readonly callerHash: string;
}

/** What the stored marker was, so that a write over it is conditional on it being unchanged (the domain's MarkerVersion). */
export type WindowVersion = MarkerVersion;

/** A caller's duplicate window as read (shared/domain/rating/duplicate-window.ts), with what to condition its write on. */
export interface StoredWindow {
  readonly state: WindowState;
  readonly stored: WindowVersion;
}

/** The marker write of a rating transaction: the next state, conditional on the marker still being `expect`. */
export interface WindowWrite {
  readonly key: WindowKey;
  readonly expect: WindowVersion;
  readonly next: WindowState;
}

/**
 * A call already in the duplicate window whose rating the plan changes, written in the same transaction: re-rated a
 * duplicate of `prior` (its charge reversed, or its prior re-pointed), re-rated billable (a new charge), or, when its
 * pilot refused that charge, re-rated `over_cap` (it left the window). Conditional on the item as read (its rating
 * write `ratedAt`, whether it is billable, its credits), so a concurrent credit or rating is never overwritten.
 */
export interface WindowRerate {
  readonly callId: string;
  readonly expectRatedAt: string;
  readonly expectBillable: boolean;
  /** The call's credits as read (≤ 0); null: none. */
  readonly expectCreditCents: number | null;
  readonly ratedAt: string;
  readonly billable: boolean;
  readonly amountCents: number;
  /** The rating's reasons after the change: [] (bills), ['duplicate_caller'] or ['over_cap']. */
  readonly reasons: readonly ReasonCode[];
  /** The billed call it is a duplicate of (null: it bills, or left the window). */
  readonly prior: PriorBilled | null;
  /** The pilot's refusal, for a call re-rated `over_cap`. */
  readonly capRefusal?: CapRefusal;
  /** The entry written with it: its new charge, or the reversal of its live charge; null for a re-point. */
  readonly entry: LedgerEntry | null;
  /** A reversal: the live charge's amount, added to the call's reversed charges (StoredCall.reversals). */
  readonly reversedChargeCents?: number;
  /** Its charge counted on, or given back to, its pilot's counter. */
  readonly pilot: PilotMovement | null;
}

/** A re-rating: the call must still carry the (non-billable) rating written at `expectRatedAt`. */
export interface Rerating {
  readonly expectRatedAt: string;
}

export type CommitOutcome =
  | { readonly outcome: 'committed' }
  /** The call item already carries a rating (another writer won, or this is a redelivery). */
  | { readonly outcome: 'already_rated' }
  /** The duplicate marker is not what the plan was made from: plan again from this one. */
  | { readonly outcome: 'window_changed'; readonly window: StoredWindow }
  /** A call the plan re-rates changed since it was read (a credit, another rating): read it again. */
  | { readonly outcome: 'rerate_stale'; readonly callId: string }
  /** A concurrent transaction touched the same items; re-read and retry. */
  | { readonly outcome: 'conflict' }
  /** A pilot's counter refused the plan's charges (pilot-terms.ts): the latest of them under that pilot is `over_cap`. */
  | { readonly outcome: 'over_cap'; readonly pilotId: string; readonly refusal: CapRefusal };

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

export interface CallStore {
  /** Writes each event into its slot (first write wins), creating the call item if needed. */
  mergeEvents(callId: string, accountId: string, events: readonly CallEvent[]): Promise<void>;
  /**
   * The one TransactWriteItems of a call that bills but for the duplicate rule: the rated call, its charge (null: it
   * is a duplicate), the duplicate marker's next state, the other calls of the window the plan re-rates (with their
   * charges and reversals) and the pilots' counters.
   */
  commitRating(args: {
    callId: string;
    accountId: string;
    events: readonly CallEvent[];
    rated: RatedCall;
    entry: ChargeEntry | null;
    window: WindowWrite | null;
    /** The pilot counter update, for a charged call of a pilot inside its window. */
    pilot?: PilotCharge | null;
    rerates?: readonly WindowRerate[];
    rerate?: Rerating;
  }): Promise<CommitOutcome>;
  /** A plan without an arriving call (a call left the window): the marker's next state and the re-rated calls. */
  commitWindow(args: { accountId: string; window: WindowWrite; rerates: readonly WindowRerate[] }): Promise<Exclude<CommitOutcome, { outcome: 'already_rated' }>>;
  /** The duplicate marker of a caller in a scope (strongly consistent). */
  getWindow(accountId: string, key: WindowKey): Promise<StoredWindow>;
  /**
   * The marker and the calls a plan re-rates, as ONE serializable snapshot (TransactGetItems): a standard read may see
   * a transaction's marker write before its call items', never so here. Null for a call that does not exist.
   */
  readWindowSnapshot(accountId: string, key: WindowKey, callIds: readonly string[]): Promise<{ readonly window: StoredWindow; readonly calls: ReadonlyMap<string, StoredCall | null> }>;
  /** One conditional UpdateItem: slots + rating of a non-billable call. */
  commitNonBillable(args: {
    callId: string;
    accountId: string;
    events: readonly CallEvent[];
    rated: RatedCall;
    rerate?: Rerating;
  }): Promise<Extract<CommitOutcome, { outcome: 'committed' | 'already_rated' | 'conflict' }>>;
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
  /** Downloads `url` with basic auth and streams it into storage under `key`; returns what was stored. */
  store(args: {
    url: string;
    username: string;
    password: string;
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

