/** Ports of routing, owned by their consumers: the target API and the voice function. */
import type { AuditEvent } from '../../domain/callflow/machine';
import type { CapRefusal, PilotTerms } from '../../domain/pilots/caps';
import type { AdmissionDecision } from '../../domain/routing/admission';
import type { LeaseTimes } from '../../domain/routing/leases';
import type { Reservation, ReservationWrite } from '../../domain/routing/reservations';
import type { Target } from '../../domain/routing/targets';
import type { RoutingRecord } from '../../domain/routing/audit';

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
