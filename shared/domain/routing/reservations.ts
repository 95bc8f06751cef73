/**
 * Money reserved at admission: an admitted pilot call holds the most it can cost against the pilot's caps before
 * the buyer's line rings, so the caps are enforced on the phone line and not only at billing. "The database enforces,
 * the domain decides": these functions return plain data (the condition's limits and the counters' deltas) that an
 * adapter translates into one conditional write; `conditionHolds` and `applyDelta` are the reference semantics the
 * adapter's translation must have (the property tests run against them, the adapter's tests against DynamoDB).
 *
 * Counters. The pilot's counter holds `heldCents` (spent + reserved) beside `spentCents`, and `heldCalls` (billable
 * + reserved) beside `billableCalls`; the day counter holds `heldCents` and `spentCents` of one local day. A
 * condition cannot add two attributes, so the sum is kept as its own attribute and every cap is one comparison:
 *   reserve   heldCents + price ≤ spendCap, heldCalls + 1 ≤ maxBillableCalls, day heldCents + price ≤ dailyCap,
 *             the counter open, no reservation for the call yet (a retried answer reserves once).
 *   settle    the reservation is still held; the charge consumes it: held −(amount − charge), spent +charge;
 *             a charge above the amount (it cannot be: the amount is the contract's highest reachable price) would
 *             need the excess to fit the caps, and the condition says so.
 *   release   a non-billable end: the reservation is still held; held −amount, heldCalls −1.
 *   expire    the same, only once `expiresAtMs` has passed: a lost settlement never holds money forever.
 * Settle, release and expire each require `state = held`, so exactly one of them ends a reservation. A charge that
 * arrives after its reservation expired is an ordinary pilot charge (`directCharge`: held +price within the caps),
 * which may then be refused `over_cap`, as every charge could be before reservations existed.
 *
 * Its life. Taken when an admitted pilot call is about to be dialled; ended ONCE, by rating (settle, or release for a
 * non-billable end), by the answer itself when no target is left to dial (release), or by the sweep once it has
 * expired (`dueForExpiry` picks them, `expire` ends each): a lost callback or a crashed writer never holds the pilot's
 * money for longer than the call could last plus the settle grace. A call whose reservation has ended never takes
 * another: `reservationAbsent` means no reservation in ANY state, so a late retry of an ended call's answer is refused
 * (`ENDED_CALL_REFUSAL`) and never connects on the pilot's money.
 *
 * Invariants (fast-check, any interleaving): heldCents ≤ spendCap and day heldCents ≤ dailyCap at every step;
 * spentCents = the sum of settled charges; when every call has ended, heldCents = spentCents and heldCalls =
 * billableCalls (nothing stays reserved).
 */
import type { CapRefusal, PilotTerms } from '../pilots/caps';
import { pilotDay } from '../pilots/caps';

/** The pilot's counter as stored (absent `heldCents`/`heldCalls` on a counter written before reservations: = spent / billable). */
export interface PilotCounter {
  readonly open: boolean;
  readonly spentCents: number;
  readonly heldCents: number;
  readonly billableCalls: number;
  readonly heldCalls: number;
}

/** One local day of a pilot with a daily cap. */
export interface DayCounter {
  readonly date: string;
  readonly spentCents: number;
  readonly heldCents: number;
}

export type ReservationState = 'held' | 'settled' | 'released' | 'expired';

/** The reservation item, one per (pilot, call). */
export interface Reservation {
  readonly pilotId: string;
  readonly callId: string;
  readonly amountCents: number;
  /** The day counter it holds money on (null: the pilot has no daily cap). */
  readonly day: string | null;
  readonly expiresAtMs: number;
  readonly state: ReservationState;
  /** The charge that consumed it (settled only). */
  readonly chargedCents: number | null;
}

/** What a write adds to the counters (negative: takes away). */
export interface CounterDelta {
  readonly heldCents: number;
  readonly spentCents: number;
  readonly heldCalls: number;
  readonly billableCalls: number;
  readonly day: { readonly date: string; readonly heldCents: number; readonly spentCents: number } | null;
}

/** The condition of a write, as limits: every present field must hold. */
export interface WriteCondition {
  /** The counter exists and is open. */
  readonly counterOpen?: true;
  readonly heldCentsAtMost?: number;
  /** Null: the pilot has no call limit. */
  readonly heldCallsAtMost?: number | null;
  readonly dayHeldCentsAtMost?: { readonly date: string; readonly atMost: number } | null;
  /** No reservation item for this (pilot, call) yet. */
  readonly reservationAbsent?: true;
  /** The reservation item is in state `held`. */
  readonly reservationHeld?: true;
  /** … and its expiry has passed at this instant. */
  readonly reservationExpiredAtMs?: number;
}

export interface ReservationWrite {
  readonly condition: WriteCondition;
  readonly delta: CounterDelta;
  /** The reservation item after the write (null: the write touches none). */
  readonly reservation: Reservation | null;
}

/** How long a reservation is held: the whole call at most (every ring timeout + the call's time limit) + the writer's lag. */
export interface HoldBudget {
  readonly ringSec: number;
  readonly maxCallSec: number;
  readonly settleGraceSec: number;
}

/** The reservation an admitted pilot call takes (with its write), for the highest price the call can reach. */
export function reserve(pilot: PilotTerms, callId: string, amountCents: number, admittedAtMs: number, budget: HoldBudget): ReservationWrite {
  const day = pilot.dailyCapCents === null ? null : pilotDay(pilot, admittedAtMs);
  return {
    condition: {
      counterOpen: true,
      reservationAbsent: true,
      heldCentsAtMost: pilot.spendCapCents - amountCents,
      heldCallsAtMost: pilot.maxBillableCalls === null ? null : pilot.maxBillableCalls - 1,
      dayHeldCentsAtMost: day === null || pilot.dailyCapCents === null ? null : { date: day, atMost: pilot.dailyCapCents - amountCents },
    },
    delta: { heldCents: amountCents, spentCents: 0, heldCalls: 1, billableCalls: 0, day: day === null ? null : { date: day, heldCents: amountCents, spentCents: 0 } },
    reservation: {
      pilotId: pilot.pilotId,
      callId,
      amountCents,
      day,
      expiresAtMs: admittedAtMs + (budget.ringSec + budget.maxCallSec + budget.settleGraceSec) * 1000,
      state: 'held',
      chargedCents: null,
    },
  };
}

/** Rating's charge consuming the reservation (`chargeCents` 0 is a release). */
export function settle(pilot: PilotTerms, held: Reservation, chargeCents: number): ReservationWrite {
  if (chargeCents === 0) return release(held);
  const excess = Math.max(0, chargeCents - held.amountCents);
  const dayCap = pilot.dailyCapCents;
  return {
    condition: {
      reservationHeld: true,
      ...(excess > 0
        ? {
            heldCentsAtMost: pilot.spendCapCents - excess,
            dayHeldCentsAtMost: held.day === null || dayCap === null ? null : { date: held.day, atMost: dayCap - excess },
          }
        : {}),
    },
    delta: {
      heldCents: chargeCents - held.amountCents,
      spentCents: chargeCents,
      heldCalls: 0,
      billableCalls: 1,
      day: held.day === null ? null : { date: held.day, heldCents: chargeCents - held.amountCents, spentCents: chargeCents },
    },
    reservation: { ...held, state: 'settled', chargedCents: chargeCents },
  };
}

/** A non-billable end gives the whole reservation back. */
export function release(held: Reservation): ReservationWrite {
  return {
    condition: { reservationHeld: true },
    delta: giveBack(held),
    reservation: { ...held, state: 'released', chargedCents: null },
  };
}

/** The sweeper's release of a reservation nobody settled, once it has expired. */
export function expire(held: Reservation, nowMs: number): ReservationWrite {
  return {
    condition: { reservationHeld: true, reservationExpiredAtMs: nowMs },
    delta: giveBack(held),
    reservation: { ...held, state: 'expired', chargedCents: null },
  };
}

function giveBack(held: Reservation): CounterDelta {
  return {
    heldCents: -held.amountCents,
    spentCents: 0,
    heldCalls: -1,
    billableCalls: 0,
    day: held.day === null ? null : { date: held.day, heldCents: -held.amountCents, spentCents: 0 },
  };
}

/** A pilot charge with no live reservation (it expired first, or the call was connected by the fail-safe). */
export function directCharge(pilot: PilotTerms, chargeCents: number, startedAtMs: number): ReservationWrite {
  const day = pilot.dailyCapCents === null ? null : pilotDay(pilot, startedAtMs);
  return {
    condition: {
      counterOpen: true,
      heldCentsAtMost: pilot.spendCapCents - chargeCents,
      heldCallsAtMost: pilot.maxBillableCalls === null ? null : pilot.maxBillableCalls - 1,
      dayHeldCentsAtMost: day === null || pilot.dailyCapCents === null ? null : { date: day, atMost: pilot.dailyCapCents - chargeCents },
    },
    delta: { heldCents: chargeCents, spentCents: chargeCents, heldCalls: 1, billableCalls: 1, day: day === null ? null : { date: day, heldCents: chargeCents, spentCents: chargeCents } },
    reservation: null,
  };
}

/**
 * What a late retry of an ended call's answer is refused as: the call's reservation is over (settled, released or
 * expired), so for this call the pilot is closed; the call is answered as any refused pilot call is.
 */
export const ENDED_CALL_REFUSAL: CapRefusal = 'closed';

/**
 * The live reservations the sweep ends now: those whose expiry has passed (`expire`'s own condition), oldest first,
 * at most `limit` (one run's share; the next run takes the rest).
 */
export function dueForExpiry(live: readonly Reservation[], nowMs: number, limit: number): Reservation[] {
  return live
    .filter((r) => r.state === 'held' && r.expiresAtMs <= nowMs)
    .sort((a, b) => a.expiresAtMs - b.expiresAtMs || (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0))
    .slice(0, Math.max(0, limit));
}

/** The counter of a pilot before its first write. */
export function openCounter(): PilotCounter {
  return { open: true, spentCents: 0, heldCents: 0, billableCalls: 0, heldCalls: 0 };
}

/** The reference semantics of a write's condition against the items as they are. */
export function conditionHolds(
  c: WriteCondition,
  counter: PilotCounter | null,
  day: DayCounter | null,
  reservation: Reservation | null,
  nowMs?: number,
): boolean {
  if (c.counterOpen && (counter === null || !counter.open)) return false;
  if (c.heldCentsAtMost !== undefined && (counter?.heldCents ?? 0) > c.heldCentsAtMost) return false;
  if (c.heldCallsAtMost !== undefined && c.heldCallsAtMost !== null && (counter?.heldCalls ?? 0) > c.heldCallsAtMost) return false;
  if (c.dayHeldCentsAtMost) {
    const held = day !== null && day.date === c.dayHeldCentsAtMost.date ? day.heldCents : 0;
    if (held > c.dayHeldCentsAtMost.atMost) return false;
  }
  if (c.reservationAbsent && reservation !== null) return false;
  if (c.reservationHeld && reservation?.state !== 'held') return false;
  if (c.reservationExpiredAtMs !== undefined && (reservation === null || reservation.expiresAtMs > (nowMs ?? c.reservationExpiredAtMs))) return false;
  return true;
}

/** The counters after a write that succeeded. */
export function applyDelta(counter: PilotCounter, delta: CounterDelta): PilotCounter {
  return {
    open: counter.open,
    spentCents: counter.spentCents + delta.spentCents,
    heldCents: counter.heldCents + delta.heldCents,
    billableCalls: counter.billableCalls + delta.billableCalls,
    heldCalls: counter.heldCalls + delta.heldCalls,
  };
}

export function applyDayDelta(day: DayCounter | null, delta: CounterDelta): DayCounter | null {
  if (delta.day === null) return day;
  const base = day !== null && day.date === delta.day.date ? day : { date: delta.day.date, spentCents: 0, heldCents: 0 };
  return { date: base.date, spentCents: base.spentCents + delta.day.spentCents, heldCents: base.heldCents + delta.day.heldCents };
}

/**
 * Which limit refused a reservation, from the items as they were when its write failed (null: none did; the write
 * failed for another reason, e.g. a retried answer whose reservation already exists). Read in the order rating's
 * capRefusal reads a charge's refusal, so both name the same limit.
 */
export function reserveRefusal(write: ReservationWrite, counter: PilotCounter | null, day: DayCounter | null): CapRefusal | null {
  const c = write.condition;
  if (counter === null || !counter.open) return 'closed';
  if (c.heldCentsAtMost !== undefined && counter.heldCents > c.heldCentsAtMost) return 'spend_cap';
  if (c.heldCallsAtMost !== undefined && c.heldCallsAtMost !== null && counter.heldCalls > c.heldCallsAtMost) return 'max_calls';
  if (c.dayHeldCentsAtMost) {
    const held = day !== null && day.date === c.dayHeldCentsAtMost.date ? day.heldCents : 0;
    if (held > c.dayHeldCentsAtMost.atMost) return 'daily_cap';
  }
  return null;
}
