/**
 * Pilot campaigns, the part rating needs: the immutable terms of a pilot and which pilot, if any,
 * governs a call. Pure, no I/O.
 *
 * Where pilot terms live. A pilot's terms (publishers, window, caps) are immutable once created and are kept in
 * the campaign's configuration item (`Campaign.pilots`), so the ledger writer gets them with the campaign
 * it already reads (cached, under the same CONFIG_LEAD_MS rule as terms versions: a pilot is created at least
 * CONFIG_LEAD_MS before its window opens). What changes while a pilot runs (spend, billable calls, open or
 * closed) lives in the pilot's counter item, which the rating transaction updates and conditions on: the cap is
 * enforced by DynamoDB, never by a cached copy.
 *
 * Which calls a pilot governs. A pilot governs the calls of its campaign from any of its publishers that start at
 * or after its creation (calls before it are history, rated as they were). Of those, a call is charged only if it
 * starts inside the window [startsAt, endsAt) and the counter still allows it: `outside_window` otherwise,
 * `over_cap` when the counter refuses (cap, daily cap, call count, or the pilot was closed or stopped). When
 * several pilots of the campaign name the publisher, the one whose window holds the call's start governs it
 * (windows of pilots sharing a publisher never overlap: the API refuses that); if none does, the most recently
 * created one (the call is then outside its window). To keep buying from a publisher after its pilot, the buyer
 * creates the next pilot: a piloted source is bought only through pilots.
 */
import { wallTime } from '../kernel/zoned-time';

export interface PilotTerms {
  readonly pilotId: string;
  readonly publisherIds: readonly string[];
  /** Inclusive ISO instant. */
  readonly startsAt: string;
  /** Exclusive ISO instant. */
  readonly endsAt: string;
  readonly spendCapCents: number;
  readonly dailyCapCents: number | null;
  readonly maxBillableCalls: number | null;
  /** IANA zone of the daily cap's days (the campaign's hours zone, else the account's). */
  readonly timeZone: string;
  readonly createdAt: string;
}

export interface PilotMatch {
  readonly pilot: PilotTerms;
  readonly inWindow: boolean;
}

/** The pilot governing a call of `publisherId` that started at `startedAtMs`, or null when none does. */
export function pilotForCall(pilots: readonly PilotTerms[] | undefined, publisherId: string, startedAtMs: number): PilotMatch | null {
  if (pilots === undefined || pilots.length === 0) return null;
  let latest: PilotTerms | null = null;
  for (const p of pilots) {
    if (!p.publisherIds.includes(publisherId) || Date.parse(p.createdAt) > startedAtMs) continue;
    if (Date.parse(p.startsAt) <= startedAtMs && startedAtMs < Date.parse(p.endsAt)) return { pilot: p, inWindow: true };
    if (latest === null || p.createdAt > latest.createdAt || (p.createdAt === latest.createdAt && p.pilotId > latest.pilotId)) latest = p;
  }
  return latest === null ? null : { pilot: latest, inWindow: false };
}

/** The daily cap's day of an instant: `YYYY-MM-DD` in the pilot's zone. */
export function pilotDay(pilot: Pick<PilotTerms, 'timeZone'>, atMs: number): string {
  const w = wallTime(atMs, pilot.timeZone);
  return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

/** Why the counter refused a charge (from the counter items as they were when the transaction failed). */
export type CapRefusal = 'closed' | 'spend_cap' | 'daily_cap' | 'max_calls';

/** What the rating transaction adds for a pilot's charge: the counter update and its conditions' limits. */
export interface PilotCharge {
  readonly accountId: string;
  readonly pilotId: string;
  readonly priceCents: number;
  readonly spendCapCents: number;
  readonly maxBillableCalls: number | null;
  /** Null when the pilot has no daily cap. */
  readonly day: { readonly date: string; readonly dailyCapCents: number } | null;
}

export function pilotCharge(accountId: string, pilot: PilotTerms, priceCents: number, startedAtMs: number): PilotCharge {
  return {
    accountId,
    pilotId: pilot.pilotId,
    priceCents,
    spendCapCents: pilot.spendCapCents,
    maxBillableCalls: pilot.maxBillableCalls,
    day: pilot.dailyCapCents === null ? null : { date: pilotDay(pilot, startedAtMs), dailyCapCents: pilot.dailyCapCents },
  };
}

/** The counter's state as the rating transaction reads it back on failure. */
export interface CounterImage {
  readonly open: boolean;
  readonly spentCents: number;
  readonly billableCalls: number;
}

/** Which limit refused `charge`, given the counters as they were (null: none did; the failure was elsewhere). */
export function capRefusal(charge: PilotCharge, total: CounterImage | null, daySpentCents: number | null): CapRefusal | null {
  if (total === null || !total.open) return 'closed';
  if (total.spentCents + charge.priceCents > charge.spendCapCents) return 'spend_cap';
  if (charge.maxBillableCalls !== null && total.billableCalls + 1 > charge.maxBillableCalls) return 'max_calls';
  if (charge.day !== null && (daySpentCents ?? 0) + charge.priceCents > charge.day.dailyCapCents) return 'daily_cap';
  return null;
}

/**
 * A charge of a rating transaction's plan, as it moves its pilot's counters: `charge` counts it (conditional on the
 * cap), `giveback` takes back a charge being reversed (duplicate-window.ts: an earlier call of the caller bills
 * instead), its amount and its call, on the counter and on the day it was counted on.
 */
export interface PilotMovement {
  readonly kind: 'charge' | 'giveback';
  readonly charge: PilotCharge;
}

/** What one transaction does to one pilot's counters: the movements of the same pilot summed (one update per item). */
export interface CounterMove {
  readonly accountId: string;
  readonly pilotId: string;
  readonly spendCapCents: number;
  readonly maxBillableCalls: number | null;
  readonly deltaCents: number;
  readonly deltaCalls: number;
  /** Some charge is counted: the counter must be open (a closed or stopped pilot charges nothing). */
  readonly counts: boolean;
  readonly days: readonly DayMove[];
}

export interface DayMove {
  readonly date: string;
  readonly dailyCapCents: number;
  readonly deltaCents: number;
  readonly deltaCalls: number;
  /** Some charge given back on this day: the day item exists (it counted that charge). */
  readonly givesBack: boolean;
}

/**
 * Sums movements per pilot and per day item: DynamoDB allows one operation per item in a transaction, and the
 * conditions are then on the sum (a charge and a giveback of the same price on one pilot leave its spend unchanged,
 * so an arriving call that takes the charge of a later call of the same pilot never fails the cap for it).
 */
export function netPilotMovements(moves: readonly PilotMovement[]): CounterMove[] {
  const byPilot = new Map<string, { move: Omit<CounterMove, 'days'>; days: Map<string, DayMove> }>();
  for (const m of moves) {
    const c = m.charge;
    const sign = m.kind === 'charge' ? 1 : -1;
    const key = `${c.accountId}\u0000${c.pilotId}`;
    const cur = byPilot.get(key) ?? {
      move: { accountId: c.accountId, pilotId: c.pilotId, spendCapCents: c.spendCapCents, maxBillableCalls: c.maxBillableCalls, deltaCents: 0, deltaCalls: 0, counts: false },
      days: new Map<string, DayMove>(),
    };
    cur.move = { ...cur.move, deltaCents: cur.move.deltaCents + sign * c.priceCents, deltaCalls: cur.move.deltaCalls + sign, counts: cur.move.counts || m.kind === 'charge' };
    if (c.day !== null) {
      const d = cur.days.get(c.day.date) ?? { date: c.day.date, dailyCapCents: c.day.dailyCapCents, deltaCents: 0, deltaCalls: 0, givesBack: false };
      cur.days.set(c.day.date, { ...d, deltaCents: d.deltaCents + sign * c.priceCents, deltaCalls: d.deltaCalls + sign, givesBack: d.givesBack || m.kind === 'giveback' });
    }
    byPilot.set(key, cur);
  }
  return [...byPilot.values()].map((p) => ({ ...p.move, days: [...p.days.values()] }));
}

/** Which limit refused a counter move, given the counters as they were (null: none did). */
export function moveRefusal(move: CounterMove, total: CounterImage | null, daySpentCents: ReadonlyMap<string, number>): CapRefusal | null {
  if (move.counts && (total === null || !total.open)) return 'closed';
  if (total !== null && move.deltaCents > 0 && total.spentCents + move.deltaCents > move.spendCapCents) return 'spend_cap';
  if (total !== null && move.maxBillableCalls !== null && move.deltaCalls > 0 && total.billableCalls + move.deltaCalls > move.maxBillableCalls) return 'max_calls';
  for (const d of move.days) if (d.deltaCents > 0 && (daySpentCents.get(d.date) ?? 0) + d.deltaCents > d.dailyCapCents) return 'daily_cap';
  return null;
}

/**
 * What one day item of a counter move must hold for the move to be allowed, as data (the adapter turns it into a
 * condition). `mustExist`: a charge given back on that day was counted there, so the item is there; otherwise a
 * day's first charge creates it. `spentCentsAtMost`: the day's spend before the move, so that spend + delta stays
 * within the daily cap (null: the move does not add to it).
 */
export interface DayCondition {
  readonly date: string;
  readonly deltaCents: number;
  readonly deltaCalls: number;
  readonly mustExist: boolean;
  readonly spentCentsAtMost: number | null;
}

/**
 * What a pilot's counter must hold for a counter move to be allowed: the database enforces it in the same transaction
 * as the charge, the domain decides it here. DynamoDB conditions cannot add, so each limit is the most the counter may
 * hold BEFORE the move: `spent + delta <= cap` is `spent <= cap - delta`, and only a move that adds is limited.
 * - `mustBeOpen`: the move counts a charge (a closed or stopped pilot charges nothing; giving back is always allowed);
 * - `spentCentsAtMost`: the spend cap (null: the move adds no spend);
 * - `billableCallsBelow`: the call cap, `billableCalls < max - deltaCalls + 1` (null: no call cap, or no call added);
 * - `days`: the daily caps, one per day item the move touches.
 */
export interface CounterCondition {
  readonly accountId: string;
  readonly pilotId: string;
  readonly deltaCents: number;
  readonly deltaCalls: number;
  readonly mustBeOpen: boolean;
  readonly spentCentsAtMost: number | null;
  readonly billableCallsBelow: number | null;
  readonly days: readonly DayCondition[];
}

/**
 * The condition a counter move's writes carry, or the refusal when no counter state could allow it: a day's first
 * charge creates its day item, whose condition (the item is absent) cannot also compare the amount with the daily
 * cap, so an amount above the daily cap is refused here, before any write.
 */
export function counterCondition(move: CounterMove): CounterCondition | CapRefusal {
  for (const d of move.days) if (!d.givesBack && d.deltaCents > d.dailyCapCents) return 'daily_cap';
  return {
    accountId: move.accountId,
    pilotId: move.pilotId,
    deltaCents: move.deltaCents,
    deltaCalls: move.deltaCalls,
    mustBeOpen: move.counts,
    spentCentsAtMost: move.deltaCents > 0 ? move.spendCapCents - move.deltaCents : null,
    billableCallsBelow: move.maxBillableCalls !== null && move.deltaCalls > 0 ? move.maxBillableCalls - move.deltaCalls + 1 : null,
    days: move.days.map((d) => ({
      date: d.date,
      deltaCents: d.deltaCents,
      deltaCalls: d.deltaCalls,
      mustExist: d.givesBack,
      spentCentsAtMost: d.givesBack && d.deltaCents <= 0 ? null : d.dailyCapCents - d.deltaCents,
    })),
  };
}
