/**
 * The ports the rating use cases consume (rate-call.ts, rerate-call.ts, process-ingest-batch.ts, duplicate-window.ts):
 * the rating's writes to the call store (its transaction, the duplicate window), the block list, compliance and consent
 * readers, the recording-job queue and the raw archive, and the errors their adapters throw. The call store's reads
 * and event writes every capability shares (shared/app/kernel/ports.ts CallStore). No AWS types here.
 */
import type { CallEvent, IngestMessage } from '../../domain/calls/events';
import type { CapRefusal, PilotCharge, PilotMovement } from '../../domain/pilots/caps';
import type { MarkerVersion, WindowState } from '../../domain/rating/duplicate-window';
import type { ChargeEntry, LedgerEntry } from '../../domain/ledger/entries';
import type { CallerTraits } from '../../domain/quality/caller-traits';
import type { PriorBilled, RatingDecision, ReasonCode } from '../../domain/rating/decision';
import type { StoredCall } from '../kernel/ports';
import type { RecordingJob } from '../recordings/ports';

/**
 * The account's block list, as the ledger writer reads it: is this caller (keyed hash) blocked for a call that
 * started at `forInstantMs`? Entries take effect CONFIG_LEAD_MS after they are written, like every other change
 * a cached reader must see (config.ts), so a cached copy may serve.
 */
export interface BlockListReader {
  blockedCaller(accountId: string, callerHash: string, forInstantMs: number): Promise<{ readonly blockId: string } | null>;
}

/**
 * Compliance as the ledger writer reads it. `dncListed`: the account's DNC lists that list this caller
 * (keyed hash) for a call that started at `forInstantMs` (entries take effect CONFIG_LEAD_MS after they are
 * written, so a cached answer may serve; shared/adapters/compliance/dnc-repo.ts), or null.
 */
export interface ComplianceReader {
  dncListed(accountId: string, callerHash: string, forInstantMs: number): Promise<{ readonly listIds: readonly string[] } | null>;
}

/**
 * Consent evidence: the latest evidence for this caller captured at or before `startedAtMs` and within
 * CONSENT_VALIDITY_DAYS (shared/domain/compliance/consent.ts), or null. Uncached (shared/adapters/compliance/consent-repo.ts).
 */
export interface ConsentReader {
  consentFor(accountId: string, callerHash: string, startedAtMs: number): Promise<{ readonly certificateId: string | null; readonly capturedAt: string } | null>;
}

export interface RecordingJobQueue {
  send(job: RecordingJob): Promise<void>;
}

export interface RawArchive {
  /** Writes the batch, one object per (account, UTC day of receipt). Same batchId → same keys (retry-safe). */
  archiveBatch(batchId: string, messages: readonly IngestMessage[]): Promise<void>;
}

/** A single-item write collided with a concurrent transaction on the same item; safe to retry. */
export class WriteConflict extends Error {
  constructor(what: string) {
    super(`write conflict on ${what}`);
    this.name = 'WriteConflict';
  }
}

/** An event names a call that already belongs to another account (a CallSid collision or a forgery). */
export class CallAccountMismatch extends Error {
  constructor(readonly callId: string) {
    super(`call ${callId} belongs to another account`);
    this.name = 'CallAccountMismatch';
  }
}

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

/** The call store as the rating writes it (implemented with CallStore by shared/adapters/calls/main-repo.ts). */
export interface CallRatingStore {
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
}
