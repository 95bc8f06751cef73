/**
 * Use case: the sweep of expired pilot reservations (functions/sweep-reservations.ts, every minute). A reservation
 * whose call was never rated (a lost status callback, a crashed writer, an answer whose write failed half way) would
 * hold the pilot's money forever; once its expiry has passed (the call's whole possible length plus the settle
 * grace, reservations.ts reserve) the sweep ends it with the domain's `expire` write, so the money is admitted again.
 *
 * For every live pilot: read its counter's live entries, expire those due (`dueForExpiry`), and prune the `{ended:
 * true}` markers counters written before ended entries were removed still carry. Idempotent and safe to run
 * concurrently with itself, with rating and with the answers: every end is conditional on the entry (reservation-
 * writes.ts), so a settle, a release or another sweep racing it wins, exactly once. One pilot's failure is counted
 * and logged; the others are swept; the run then fails (the function's error alarm) and the next run retries.
 * Logs carry counts and ids only, never a caller's number.
 */
import { dueForExpiry, type Reservation } from '../../domain/routing/reservations';
import type { Log } from '../kernel/ports';

/** What the sweep reads and writes (adapters/routing/routing-repo.ts, with the pilot registry for `livePilots`). */
export interface ReservationSweepStore {
  /** The pilots the enforcer watches (every account's, until reported). */
  livePilots(): Promise<readonly { readonly accountId: string; readonly pilotId: string }[]>;
  /** The counter's live reservations and pre-existing ended markers (null: no counter). */
  counterEntries(accountId: string, pilotId: string): Promise<{ readonly live: readonly Reservation[]; readonly endedMarkers: readonly string[] } | null>;
  /** Ends an expired reservation (pointer `expired`, entry removed, money back); false: something else ended it first. */
  expireReservation(accountId: string, pilotId: string, held: Reservation, nowMs: number): Promise<boolean>;
  /** Removes one pre-existing ended marker (its call's pointer marked ended first); false: already gone. */
  pruneEndedMarker(accountId: string, pilotId: string, callId: string, atMs: number): Promise<boolean>;
}

export interface SweepDeps {
  readonly store: ReservationSweepStore;
  readonly now: () => Date;
  readonly log: Log;
}

export interface SweepOptions {
  /** Reservations expired (and markers pruned) per pilot and run; the next run takes the rest. */
  readonly perPilot?: number;
  /** Pilots swept at once. */
  readonly concurrency?: number;
}

export interface SweepSummary {
  readonly pilots: number;
  /** Live reservations found. */
  readonly live: number;
  /** Expired by this run (their money admitted again). */
  readonly expired: number;
  /** Due, but ended by someone else first (a settle, a release, another sweep). */
  readonly endedElsewhere: number;
  readonly markersPruned: number;
  readonly failed: number;
}

const PER_PILOT = 200;

export async function sweepReservations(deps: SweepDeps, options: SweepOptions = {}): Promise<SweepSummary> {
  const pilots = [...(await deps.store.livePilots())];
  const summary = { pilots: pilots.length, live: 0, expired: 0, endedElsewhere: 0, markersPruned: 0, failed: 0 };
  const worker = async () => {
    for (let p = pilots.shift(); p !== undefined; p = pilots.shift()) {
      try {
        const one = await sweepPilot(p.accountId, p.pilotId, deps, options.perPilot ?? PER_PILOT);
        summary.live += one.live;
        summary.expired += one.expired;
        summary.endedElsewhere += one.endedElsewhere;
        summary.markersPruned += one.markersPruned;
        if (one.expired > 0 || one.markersPruned > 0) deps.log.info('reservations swept', { accountId: p.accountId, pilotId: p.pilotId, ...one });
      } catch (err) {
        // One pilot's failure must not stop the others; the next run tries again.
        summary.failed += 1;
        deps.log.error('sweep-reservations: pilot failed', { accountId: p.accountId, pilotId: p.pilotId, error: err instanceof Error ? err.name : 'unknown' });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return summary;
}

async function sweepPilot(accountId: string, pilotId: string, deps: SweepDeps, limit: number) {
  const out = { live: 0, expired: 0, endedElsewhere: 0, markersPruned: 0 };
  const entries = await deps.store.counterEntries(accountId, pilotId);
  if (entries === null) return out;
  out.live = entries.live.length;
  const nowMs = deps.now().getTime();
  for (const r of dueForExpiry(entries.live, nowMs, limit)) {
    if (await deps.store.expireReservation(accountId, pilotId, r, nowMs)) out.expired += 1;
    else out.endedElsewhere += 1;
  }
  for (const callId of entries.endedMarkers.slice(0, limit)) if (await deps.store.pruneEndedMarker(accountId, pilotId, callId, nowMs)) out.markersPruned += 1;
  return out;
}
