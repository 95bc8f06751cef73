/**
 * Reservations (pilot caps on the phone line) and leases (target concurrency), as the data the database is to
 * enforce, run against their reference semantics (conditionHolds / applyDelta, leaseConditionHolds): any
 * interleaving never exceeds a cap and returns to zero when the calls end.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acquire, extendOnAnswer, isLive, leaseConditionHolds, liveLeaseCount, releaseLease, slotHeldBy, slotToTry, type LeaseSlot, type LeaseWrite } from '../../../shared/domain/routing/leases';
import {
  applyDayDelta,
  applyDelta,
  conditionHolds,
  directCharge,
  expire,
  openCounter,
  release,
  reserve,
  reserveRefusal,
  settle,
  type DayCounter,
  type PilotCounter,
  type Reservation,
  type ReservationWrite,
} from '../../../shared/domain/routing/reservations';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import { AT, HOUR } from '../../support/callflow-fixtures';

const BUDGET = { ringSec: 60, maxCallSec: 3600, settleGraceSec: 900 };
const pilot = (o: Partial<PilotTerms> = {}): PilotTerms => ({
  pilotId: 'pil-1',
  publisherIds: ['pub-a'],
  startsAt: new Date(AT - HOUR).toISOString(),
  endsAt: new Date(AT + 48 * HOUR).toISOString(),
  spendCapCents: 20 * 4500,
  dailyCapCents: null,
  maxBillableCalls: null,
  timeZone: 'America/Chicago',
  createdAt: new Date(AT - 5 * HOUR).toISOString(),
  ...o,
});

/** A tiny model of the three items, applying a write only when its condition holds, as DynamoDB would. */
class Store {
  counter: PilotCounter = openCounter();
  day: DayCounter | null = null;
  reservations = new Map<string, Reservation>();
  apply(write: ReservationWrite, callId: string | null, nowMs = AT): boolean {
    const current = callId === null ? null : (this.reservations.get(callId) ?? null);
    if (!conditionHolds(write.condition, this.counter, this.day, current, nowMs)) return false;
    this.counter = applyDelta(this.counter, write.delta);
    this.day = applyDayDelta(this.day, write.delta);
    if (write.reservation && callId !== null) this.reservations.set(callId, write.reservation);
    return true;
  }
}

describe('reservations', () => {
  it('64 concurrent calls against a cap worth 20: exactly 20 are reserved, the rest refused spend_cap', () => {
    const p = pilot();
    const store = new Store();
    const outcomes = Array.from({ length: 64 }, (_, i) => {
      const write = reserve(p, `call-${i}`, 4500, AT, BUDGET);
      return store.apply(write, `call-${i}`) ? 'reserved' : reserveRefusal(write, store.counter, store.day);
    });
    expect(outcomes.filter((o) => o === 'reserved')).toHaveLength(20);
    expect(outcomes.filter((o) => o === 'spend_cap')).toHaveLength(44);
    expect(store.counter).toMatchObject({ heldCents: 90_000, spentCents: 0, heldCalls: 20 });
  });

  it('a short call releases its reservation, and the next call reuses it', () => {
    const p = pilot({ spendCapCents: 4500 });
    const store = new Store();
    expect(store.apply(reserve(p, 'a', 4500, AT, BUDGET), 'a')).toBe(true);
    expect(store.apply(reserve(p, 'b', 4500, AT, BUDGET), 'b')).toBe(false);
    expect(store.apply(release(store.reservations.get('a') as Reservation), 'a')).toBe(true);
    expect(store.apply(reserve(p, 'b', 4500, AT, BUDGET), 'b')).toBe(true);
    expect(store.apply(settle(p, store.reservations.get('b') as Reservation, 4500), 'b')).toBe(true);
    expect(store.counter).toEqual({ open: true, spentCents: 4500, heldCents: 4500, billableCalls: 1, heldCalls: 1 });
  });

  it('settling below the reservation gives the difference back; settle, release and expire end it once', () => {
    const p = pilot();
    const store = new Store();
    store.apply(reserve(p, 'a', 5000, AT, BUDGET), 'a');
    const held = store.reservations.get('a') as Reservation;
    expect(store.apply(settle(p, held, 3500), 'a')).toBe(true);
    expect(store.counter).toMatchObject({ heldCents: 3500, spentCents: 3500 });
    expect(store.apply(release(held), 'a')).toBe(false);
    expect(store.apply(expire(held, held.expiresAtMs + 1), 'a', held.expiresAtMs + 1)).toBe(false);
  });

  it('a reservation expires only after its expiry, and a late charge is then an ordinary capped charge', () => {
    const p = pilot({ spendCapCents: 4500 });
    const store = new Store();
    store.apply(reserve(p, 'a', 4500, AT, BUDGET), 'a');
    const held = store.reservations.get('a') as Reservation;
    expect(held.expiresAtMs).toBe(AT + (60 + 3600 + 900) * 1000);
    expect(store.apply(expire(held, held.expiresAtMs - 1), 'a', held.expiresAtMs - 1)).toBe(false);
    expect(store.apply(expire(held, held.expiresAtMs), 'a', held.expiresAtMs)).toBe(true);
    expect(store.counter.heldCents).toBe(0);
    expect(store.apply(settle(p, held, 4500), 'a')).toBe(false);
    expect(store.apply(directCharge(p, 4500, AT), null)).toBe(true);
    expect(store.apply(directCharge(p, 4500, AT), null)).toBe(false);
  });

  it('the daily cap and the call limit refuse by name', () => {
    const p = pilot({ dailyCapCents: 9000, maxBillableCalls: 3 });
    const store = new Store();
    store.apply(reserve(p, 'a', 4500, AT, BUDGET), 'a');
    store.apply(reserve(p, 'b', 4500, AT, BUDGET), 'b');
    const c = reserve(p, 'c', 4500, AT, BUDGET);
    expect(store.apply(c, 'c')).toBe(false);
    expect(reserveRefusal(c, store.counter, store.day)).toBe('daily_cap');
    const tomorrow = AT + 24 * HOUR;
    expect(store.apply(reserve(p, 'c', 4500, tomorrow, BUDGET), 'c')).toBe(true);
    const d = reserve(p, 'd', 4500, tomorrow, BUDGET);
    expect(store.apply(d, 'd')).toBe(false);
    expect(reserveRefusal(d, store.counter, store.day)).toBe('max_calls');
    expect(reserveRefusal(d, { ...store.counter, open: false }, store.day)).toBe('closed');
  });

  it('a retried answer reserves once', () => {
    const store = new Store();
    expect(store.apply(reserve(pilot(), 'a', 4500, AT, BUDGET), 'a')).toBe(true);
    const again = reserve(pilot(), 'a', 4500, AT, BUDGET);
    expect(store.apply(again, 'a')).toBe(false);
    expect(reserveRefusal(again, store.counter, store.day)).toBeNull();
    expect(store.counter.heldCalls).toBe(1);
  });

  type Op = { kind: 'reserve' | 'settle' | 'release' | 'expire' | 'direct'; call: number; cents: number; dayOffset: number; late: boolean };
  const opArb: fc.Arbitrary<Op> = fc.record({
    kind: fc.constantFrom('reserve', 'settle', 'release', 'expire', 'direct'),
    call: fc.integer({ min: 0, max: 11 }),
    cents: fc.integer({ min: 1, max: 6000 }),
    dayOffset: fc.integer({ min: 0, max: 1 }),
    late: fc.boolean(),
  });

  it('property: any interleaving never exceeds the caps and returns to zero when the calls end', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 80 }),
        fc.integer({ min: 1, max: 30_000 }),
        fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: null }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
        (ops, spendCapCents, dailyCapCents, maxBillableCalls) => {
          const p = pilot({ spendCapCents, dailyCapCents, maxBillableCalls });
          const store = new Store();
          const days = new Map<string, number>();
          let settled = 0;
          const check = () => {
            expect(store.counter.heldCents).toBeLessThanOrEqual(spendCapCents);
            expect(store.counter.spentCents).toBeLessThanOrEqual(store.counter.heldCents);
            expect(store.counter.spentCents).toBe(settled);
            if (maxBillableCalls !== null) expect(store.counter.heldCalls).toBeLessThanOrEqual(maxBillableCalls);
            if (store.day !== null) {
              days.set(store.day.date, store.day.heldCents);
              if (dailyCapCents !== null) expect(store.day.heldCents).toBeLessThanOrEqual(dailyCapCents);
            }
          };
          for (const op of ops) {
            const id = `call-${op.call}`;
            const held = store.reservations.get(id);
            const at = AT + op.dayOffset * 24 * HOUR;
            if (op.kind === 'reserve') store.apply(reserve(p, id, op.cents, at, BUDGET), id);
            else if (op.kind === 'direct') {
              if (store.apply(directCharge(p, op.cents, at), null)) settled += op.cents;
            } else if (held !== undefined) {
              if (op.kind === 'settle') {
                const charge = Math.min(op.cents, held.amountCents);
                if (store.apply(settle(p, held, charge), id)) settled += charge;
              } else if (op.kind === 'release') store.apply(release(held), id);
              else {
                const now = op.late ? held.expiresAtMs : held.expiresAtMs - 1;
                store.apply(expire(held, now), id, now);
              }
            }
            check();
          }
          // Every call ends: held reservations are settled as non-billable or expire.
          for (const [id, r] of store.reservations) if (r.state === 'held') expect(store.apply(op2(r), id, r.expiresAtMs)).toBe(true);
          check();
          expect(store.counter.heldCents).toBe(store.counter.spentCents);
          expect(store.counter.heldCalls).toBe(store.counter.billableCalls);
        },
      ),
      { numRuns: 500 },
    );
    function op2(r: Reservation) {
      return r.callId.endsWith('1') ? release(r) : expire(r, r.expiresAtMs);
    }
  });
});

describe('leases', () => {
  const TIMES = { ringTimeoutSec: 20, maxCallSec: 3600, graceSec: 30 };

  class Slots {
    slots = new Map<string, LeaseSlot>();
    apply(w: LeaseWrite): boolean {
      const key = `${w.targetId}#${w.slot}`;
      if (!leaseConditionHolds(w, this.slots.get(key) ?? null)) return false;
      this.slots.set(key, { slot: w.slot, holder: w.holder, expiresAtMs: w.expiresAtMs });
      return true;
    }
    of(targetId: string): LeaseSlot[] {
      return [...this.slots.entries()].filter(([k]) => k.startsWith(`${targetId}#`)).map(([, s]) => s);
    }
  }

  it('a target at its cap has no slot to try until a lease is released or expires', () => {
    const s = new Slots();
    for (const id of ['a', 'b']) expect(s.apply(acquire('t', slotToTry(2, s.of('t'), id, AT) as number, id, AT, TIMES))).toBe(true);
    expect(slotToTry(2, s.of('t'), 'c', AT)).toBeNull();
    expect(slotToTry(2, s.of('t'), 'a', AT)).toBe(0); // a retry of a's request takes no second slot
    expect(s.apply(releaseLease('t', slotHeldBy(s.of('t'), 'a') as number, 'a'))).toBe(true);
    expect(slotToTry(2, s.of('t'), 'c', AT)).toBe(0);
    // A lost callback: b's ringing lease expires after ring timeout + grace.
    expect(slotToTry(2, s.of('t'), 'c', AT + 50_000)).toBe(0);
    expect(liveLeaseCount(s.of('t'), AT + 49_999)).toBe(1);
    expect(liveLeaseCount(s.of('t'), AT + 50_000)).toBe(0);
  });

  it('answering extends the lease to the call’s time limit; a stale release never frees another call’s slot', () => {
    const s = new Slots();
    s.apply(acquire('t', 0, 'a', AT, TIMES));
    s.apply(extendOnAnswer('t', 0, 'a', AT + 10_000, TIMES));
    expect(isLive(s.of('t')[0] as LeaseSlot, AT + 3_000_000)).toBe(true);
    expect(s.apply(acquire('t', 0, 'b', AT + 3_000_000, TIMES))).toBe(false);
    const late = AT + 10_000 + (3600 + 30) * 1000;
    expect(s.apply(acquire('t', 0, 'b', late, TIMES))).toBe(true);
    expect(s.apply(releaseLease('t', 0, 'a'))).toBe(false);
    expect(s.of('t')[0]?.holder).toBe('b');
  });

  type LOp = { kind: 'acquire' | 'answer' | 'release'; call: number; dtSec: number };
  it('property: live leases never exceed the cap, and none is live once every call has ended', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ kind: fc.constantFrom<LOp['kind']>('acquire', 'answer', 'release'), call: fc.integer({ min: 0, max: 9 }), dtSec: fc.integer({ min: 0, max: 120 }) }), { maxLength: 100 }),
        fc.boolean(),
        (cap, ops, loseCallbacks) => {
          const s = new Slots();
          let now = AT;
          for (const op of ops) {
            now += op.dtSec * 1000;
            const id = `call-${op.call}`;
            const mine = slotHeldBy(s.of('t').filter((x) => isLive(x, now)), id);
            if (op.kind === 'acquire') {
              const slot = slotToTry(cap, s.of('t'), id, now);
              if (slot !== null) s.apply(acquire('t', slot, id, now, TIMES));
            } else if (mine !== null && op.kind === 'answer') s.apply(extendOnAnswer('t', mine, id, now, TIMES));
            else if (mine !== null && !(loseCallbacks && op.call % 3 === 0)) s.apply(releaseLease('t', mine, id));
            expect(liveLeaseCount(s.of('t'), now)).toBeLessThanOrEqual(cap);
            expect(s.of('t').every((x) => x.slot < cap)).toBe(true);
          }
          // Every call ends: completed callbacks release what arrives; lost ones expire.
          for (const x of s.of('t')) if (x.holder !== null && !(loseCallbacks && x.holder.endsWith('0'))) s.apply(releaseLease('t', x.slot, x.holder));
          expect(liveLeaseCount(s.of('t'), now + (3600 + 30) * 1000 + 1)).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
