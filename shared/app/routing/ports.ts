/** Ports of routing, owned by their consumers: the target API and the voice function. */
import type { AuditEvent } from '../../domain/callflow/machine';
import type { CapRefusal, PilotTerms } from '../../domain/pilots/caps';
import type { AdmissionDecision } from '../../domain/routing/admission';
import type { LeaseTimes } from '../../domain/routing/leases';
import type { Reservation, ReservationWrite } from '../../domain/routing/reservations';
import type { Target } from '../../domain/routing/targets';
import type { RoutingRecord } from '../../domain/routing/audit';
import type { CallSpan, WindowCountWrite } from '../../domain/routing/counters';

/** Destinations in the main table (`ACCT#<accountId>` / `TARGET#<targetId>`). */
export interface TargetStore {
  /** Strongly consistent (the management API). */
  readTarget(accountId: string, targetId: string): Promise<Target | null>;
  /** Throws ConfigWriteConflict unless the stored rev is `expectedRev` (null: the item must not exist). */
  putTarget(target: Target, expectedRev: number | null): Promise<void>;
  /** Every target of the account (the voice function caches them per container; the campaign PUT checks routes against their ids). */
  listTargets(accountId: string): Promise<readonly Target[]>;
}

/** What the voice function writes when it answers a step of a call: one atomic write (adapters/routing/routing-repo.ts). */
export interface AnswerCommit {
  readonly accountId: string;
  readonly callId: string;
  readonly atMs: number;
  /** The reservation admission took for a pilot call (reservations.ts reserve), or none. */
  readonly reservation: { readonly pilot: PilotTerms; readonly write: ReservationWrite } | null;
  /** The target this answer dials when it has a concurrency cap: a lease slot to take (leases.ts). */
  readonly lease: { readonly targetId: string; readonly cap: number; readonly times: LeaseTimes } | null;
  /** The admission decision of this step (null: the step made none). */
  readonly admission: AdmissionDecision | null;
  /** The routing audit this step adds (machine.ts). */
  readonly audit: readonly AuditEvent[];
  readonly flowVersion: number | null;
  /** The tracking number the call was answered for (E.164). */
  readonly trackingNumber: string;
  /** The request's identity within its call (audit.ts answerKey): a retried request appends no second audit. */
  readonly requestKey: string;
}

export type CommitResult =
  | { readonly ok: true }
  /** Every slot of the target is held by live leases of other calls. */
  | { readonly ok: false; readonly failed: 'lease'; readonly targetId: string }
  /** The reservation's condition failed: which cap (reservations.ts reserveRefusal), null when none did (already reserved). */
  | { readonly ok: false; readonly failed: 'reservation'; readonly refusal: CapRefusal | null };

export interface RoutingStore {
  commit(commit: AnswerCommit): Promise<CommitResult>;
  /** Records a step answered by the fail-safe (best effort: the store may be what failed). */
  recordDegraded(accountId: string, callId: string, atMs: number, audit: readonly AuditEvent[]): Promise<void>;
  readRouting(callId: string): Promise<RoutingRecord | null>;
  /** Gives back a reservation this answer took but could not use (no target left to dial). */
  releaseReservation(accountId: string, pilotId: string, held: Reservation, atMs: number): Promise<void>;
}

/** The end of a call's reservation once rating has booked (or refused) its charge. */
export interface ReservationEnder {
  releaseAfterRating(accountId: string, callId: string, atMs: number): Promise<void>;
}

/**
 * A count's outcome with the calls each window holds besides this one: after the count (ok), or as they were when it
 * was refused (the failed write's old item). A window without a cap is not counted: 0.
 */
export type CountResult = { readonly ok: boolean; readonly thisHour: number; readonly today: number };

/** A campaign lease refused: the live leases of the campaign as read (at its cap). */
export type HoldResult = { readonly ok: true } | { readonly ok: false; readonly active: number };

/**
 * The counted caps of admission and routing (domain/routing/counters.ts decides, adapters/routing/admission-counters.ts
 * spells): each method is one conditional write, idempotent per call id.
 */
export interface AdmissionCounters {
  /** Counts the call in its windows if the write's condition holds; else the windows' sizes as they were. */
  count(accountId: string, write: WindowCountWrite): Promise<CountResult>;
  /** Gives a count back (the call was counted and then not connected); absent: nothing. */
  uncount(accountId: string, write: WindowCountWrite): Promise<void>;
  /** Takes a lease slot of the campaign's concurrency cap for the call (its own slot again on a retry). */
  hold(accountId: string, campaignId: string, cap: number, callId: string, atMs: number, span: CallSpan): Promise<HoldResult>;
  /** Gives the call's campaign lease back (conditional on the call holding it; none: nothing). */
  release(accountId: string, campaignId: string, cap: number, callId: string): Promise<void>;
}
