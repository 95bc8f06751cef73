/**
 * Concurrency caps as leases: a target with a cap of N has N lease slots; dialling the target takes one slot for the
 * call, the dialled leg's `completed` status callback gives it back. Pure: these functions return the write as data
 * (which slot, its condition, the item after) for an adapter to translate into one conditional write.
 *
 * Why slots and expiries. A counter of active calls cannot heal itself: one lost `completed` callback and the target
 * is one line short forever. A slot holds who has it and until when; an expired slot is free to take, so a lost
 * callback blocks a slot only until its expiry. Expiry is short while the target rings (ring timeout + grace), and is
 * pushed out to the call's time limit (the Dial `timeLimit` the flow renders, so the provider itself ends the call by
 * then) when the leg answers. Each slot is its own item: concurrent calls contend only when they pick the same slot,
 * and the loser simply tries the next free one.
 *
 * Invariant (fast-check, any interleaving of acquire/answer/release/expiry): at every instant the live leases of a
 * target never exceed its cap, and once every call has ended (or its lease expired) none is live.
 */

/** One slot as read (holder null: never taken, or given back). */
export interface LeaseSlot {
  readonly slot: number;
  readonly holder: string | null;
  readonly expiresAtMs: number | null;
}

export interface LeaseTimes {
  /** Ring timeout of this dial, s. */
  readonly ringTimeoutSec: number;
  /** The dial's time limit (Dial timeLimit), s. */
  readonly maxCallSec: number;
  /** Callback lag tolerated before a lease is considered lost, s. */
  readonly graceSec: number;
}

/** A write to one slot: put `holder`/`expiresAtMs` (null: clear the slot) if the condition holds. */
export interface LeaseWrite {
  readonly targetId: string;
  readonly slot: number;
  readonly condition:
    | { readonly kind: 'free_or_expired_or_mine'; readonly atMs: number; readonly callId: string }
    | { readonly kind: 'held_by'; readonly callId: string };
  readonly holder: string | null;
  readonly expiresAtMs: number | null;
}

export function isLive(slot: LeaseSlot, atMs: number): boolean {
  return slot.holder !== null && slot.expiresAtMs !== null && slot.expiresAtMs > atMs;
}

/** Live leases among the slots as read (what routing compares with the cap). */
export function liveLeaseCount(slots: readonly LeaseSlot[], atMs: number): number {
  return slots.filter((s) => isLive(s, atMs)).length;
}

/**
 * The slot a call should try to take, given the slots as read: the one it already holds (a retried request takes
 * no second slot), else the lowest free or expired one below the cap; null: at capacity.
 */
export function slotToTry(cap: number, slots: readonly LeaseSlot[], callId: string, atMs: number): number | null {
  const bySlot = new Map(slots.map((s) => [s.slot, s]));
  for (let i = 0; i < cap; i++) if (bySlot.get(i)?.holder === callId && isLive(bySlot.get(i) as LeaseSlot, atMs)) return i;
  for (let i = 0; i < cap; i++) {
    const s = bySlot.get(i);
    if (s === undefined || !isLive(s, atMs)) return i;
  }
  return null;
}

export function acquire(targetId: string, slot: number, callId: string, atMs: number, times: LeaseTimes): LeaseWrite {
  return {
    targetId,
    slot,
    condition: { kind: 'free_or_expired_or_mine', atMs, callId },
    holder: callId,
    expiresAtMs: atMs + (times.ringTimeoutSec + times.graceSec) * 1000,
  };
}

/** The dialled leg answered: the lease now lasts as long as the call may. */
export function extendOnAnswer(targetId: string, slot: number, callId: string, answeredAtMs: number, times: LeaseTimes): LeaseWrite {
  return { targetId, slot, condition: { kind: 'held_by', callId }, holder: callId, expiresAtMs: answeredAtMs + (times.maxCallSec + times.graceSec) * 1000 };
}

/** The dialled leg completed (any outcome): the slot is free again. */
export function releaseLease(targetId: string, slot: number, callId: string): LeaseWrite {
  return { targetId, slot, condition: { kind: 'held_by', callId }, holder: null, expiresAtMs: null };
}

/** The reference semantics of a lease write's condition against the slot as it is. */
export function leaseConditionHolds(write: LeaseWrite, current: LeaseSlot | null): boolean {
  const c = write.condition;
  if (c.kind === 'held_by') return current !== null && current.holder === c.callId;
  return current === null || current.holder === null || current.holder === c.callId || !isLive(current, c.atMs);
}

/** The slot a call holds on a target (its dialled leg's `completed` callback releases that one), or null. */
export function slotHeldBy(slots: readonly LeaseSlot[], callId: string): number | null {
  return slots.find((s) => s.holder === callId)?.slot ?? null;
}
