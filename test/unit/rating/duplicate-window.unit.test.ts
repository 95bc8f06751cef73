/**
 * The duplicate window's start-order rule (shared/domain/rating/duplicate-window.ts): whatever order a caller's candidates
 * arrive in, the billed set equals the one obtained by rating them in start order, every call's charges minus its
 * reversals is 1 when it bills and 0 otherwise, and no two billed calls are within a window of each other.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  billedInStartOrder,
  EMPTY_WINDOW,
  planWindow,
  WINDOW_HORIZON_MS,
  WINDOW_MAX_CALLS,
  withinHorizon,
  type ArrivingCall,
  type WindowState,
} from '../../../shared/domain/rating/duplicate-window';
import { chargeEntryId, reversalEntryId } from '../../../shared/domain/ledger/entries';

const H = 3_600_000;
const W = 24 * H;
const call = (id: string, hour: number, windowMs = W): ArrivingCall => ({ callId: id, startMs: hour * H, windowMs, priceCents: 1000 });

/** Applies arrivals one plan at a time, tallying the ledger the actions would write. */
function run(arrivals: readonly ArrivingCall[], start: WindowState = EMPTY_WINDOW) {
  let state = start;
  const charges = new Map<string, number>();
  const reversals = new Map<string, number>();
  const bump = (m: Map<string, number>, id: string) => m.set(id, (m.get(id) ?? 0) + 1);
  const log: string[] = [];
  for (const a of arrivals) {
    const plan = planWindow(state, [{ kind: 'arrive', call: a }]);
    if (plan.arrivals.get(a.callId)?.billed) bump(charges, a.callId);
    for (const act of plan.actions) {
      if (act.kind === 'charge') {
        bump(charges, act.callId);
        expect(act.seq).toBe(charges.get(act.callId));
      }
      if (act.kind === 'reverse') {
        bump(reversals, act.callId);
        expect(act.seq).toBe(charges.get(act.callId));
      }
      log.push(`${act.kind} ${act.callId}`);
    }
    state = plan.next;
  }
  return { state, charges, reversals, log };
}

describe('planWindow: examples', () => {
  it('a late earlier call takes the charge of a later one within its window', () => {
    const { state, log } = run([call('L', 10), call('E', 0)]);
    expect(log).toEqual(['reverse L']);
    expect(state.calls.map((c) => [c.callId, c.billed])).toEqual([
      ['E', true],
      ['L', false],
    ]);
    const plan = planWindow(run([call('L', 10)]).state, [{ kind: 'arrive', call: call('E', 0) }]);
    expect(plan.actions).toEqual([{ kind: 'reverse', callId: 'L', startMs: 10 * H, seq: 1, prior: { callId: 'E', startMs: 0 } }]);
  });

  it('0 h, 40 h, then a late 10 h: the late call is a duplicate of 0 h (one marker start could not say so)', () => {
    const { state, log } = run([call('a', 0), call('c', 40), call('b', 10)]);
    expect(log).toEqual([]);
    expect(state.calls.filter((c) => c.billed).map((c) => c.callId)).toEqual(['a', 'c']);
  });

  it('cascade: 20 h billed, 40 h its duplicate; a late 0 h takes 20 h, so 40 h bills', () => {
    const { state, log, charges, reversals } = run([call('t20', 20), call('t40', 40), call('t0', 0)]);
    expect(log).toEqual(['reverse t20', 'charge t40']);
    expect(state.calls.filter((c) => c.billed).map((c) => c.callId)).toEqual(['t0', 't40']);
    expect([...charges.entries()].sort()).toEqual([
      ['t0', 1],
      ['t20', 1],
      ['t40', 1],
    ]);
    expect([...reversals.entries()]).toEqual([['t20', 1]]);
  });

  it('a call can be charged, reversed and charged again: each charge and reversal has its own id', () => {
    // 20 bills, 40 dup; 0 arrives: 20 reversed, 40 charged; -10 arrives: 0 reversed, 20 charged again, 40 reversed.
    const { state, charges, reversals, log } = run([call('t20', 20), call('t40', 40), call('t0', 0), call('tm10', -10)]);
    expect(log).toEqual(['reverse t20', 'charge t40', 'reverse t0', 'charge t20', 'reverse t40']);
    expect(state.calls.filter((c) => c.billed).map((c) => c.callId)).toEqual(['tm10', 't20']);
    expect(charges.get('t20')).toBe(2);
    expect(reversals.get('t20')).toBe(1);
    expect(chargeEntryId('twilio:CA1', 1)).toBe('charge:twilio:CA1');
    expect(chargeEntryId('twilio:CA1', 2)).toBe('charge:twilio:CA1:2');
    expect(reversalEntryId('twilio:CA1', 1)).toBe('reversal:twilio:CA1');
    expect(reversalEntryId('twilio:CA1', 2)).toBe('reversal:twilio:CA1:2');
  });

  it('a duplicate whose prior is reversed is re-pointed at the call that took the charge', () => {
    const { log } = run([call('L', 10), call('Z', 20), call('E', 0)]);
    expect(log).toEqual(['reverse L', 'repoint Z']);
  });

  it('a fully credited call leaves the window: its duplicates bill in start order, and a later billed one may be reversed', () => {
    // 0 bills; 10 is its duplicate; 30 bills (30 h after 0). 0 leaves: 10 bills, 30 (20 h after 10) is its duplicate.
    const { state } = run([call('a', 0), call('b', 10), call('c', 30)]);
    const plan = planWindow(state, [{ kind: 'leave', callId: 'a' }]);
    expect(plan.actions.map((a) => `${a.kind} ${a.callId}`)).toEqual(['charge b', 'reverse c']);
    expect(plan.next.calls.map((c) => c.callId)).toEqual(['b', 'c']);
    expect(planWindow(plan.next, [{ kind: 'leave', callId: 'a' }]).empty).toBe(true);
  });

  it('a redelivered arrival is known and decides nothing', () => {
    const { state } = run([call('a', 0)]);
    const plan = planWindow(state, [{ kind: 'arrive', call: call('a', 0) }]);
    expect(plan.known).toEqual(['a']);
    expect(plan.empty).toBe(true);
  });

  it('each call is judged against its own window', () => {
    // b has a 5 h window: a (10 h before) does not make it a duplicate.
    const { state } = run([call('a', 0), call('b', 10, 5 * H)]);
    expect(state.calls.map((c) => c.billed)).toEqual([true, true]);
  });

  it('keeps the latest billed call before the horizon and every call after it; at most WINDOW_MAX_CALLS', () => {
    const days = (d: number) => d * 24;
    const { state } = run([call('old', 0), call('olddup', 1), call('billed2', days(3)), call('new', days(40))]);
    expect(state.horizonMs).toBe(days(40) * H - WINDOW_HORIZON_MS);
    expect(state.calls.map((c) => c.callId)).toEqual(['billed2', 'new']);
    expect(withinHorizon(state, days(5) * H)).toBe(true);
    expect(withinHorizon(state, days(4) * H)).toBe(false);

    const many = Array.from({ length: WINDOW_MAX_CALLS + 5 }, (_, i) => call(`c${String(i).padStart(2, '0')}`, i * 30));
    const capped = run(many).state;
    expect(capped.calls.length).toBeLessThanOrEqual(WINDOW_MAX_CALLS + 1);
    expect(capped.calls.at(-1)!.callId).toBe(`c${WINDOW_MAX_CALLS + 4}`);
  });
});

describe('planWindow: any arrival order gives the start-order billed set', () => {
  const arrivalsArb = fc
    .uniqueArray(fc.integer({ min: 0, max: 24 * 20 }), { minLength: 1, maxLength: 12 })
    .chain((hours) =>
      fc.record({
        calls: fc.constant(hours.map((h, i) => call(`c${i}`, h))),
        order: fc.shuffledSubarray(hours.map((_, i) => i), { minLength: hours.length, maxLength: hours.length }),
        leaves: fc.array(fc.integer({ min: 0, max: hours.length - 1 }), { maxLength: 3 }),
      }),
    );

  it('billed set, net charges per call, and at most one billed call per window', () => {
    fc.assert(
      fc.property(arrivalsArb, ({ calls, order }) => {
        const arrivals = order.map((i) => calls[i]!);
        const { state, charges, reversals } = run(arrivals);
        const model = billedInStartOrder(calls);
        const billed = new Set(state.calls.filter((c) => c.billed).map((c) => c.callId));
        expect([...billed].sort()).toEqual([...model.entries()].filter(([, p]) => p === null).map(([id]) => id).sort());
        for (const c of calls) expect((charges.get(c.callId) ?? 0) - (reversals.get(c.callId) ?? 0)).toBe(billed.has(c.callId) ? 1 : 0);
        const starts = calls.filter((c) => billed.has(c.callId)).map((c) => c.startMs).sort((a, b) => a - b);
        for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(W);
      }),
      { numRuns: 300 },
    );
  });

  it('leaving calls: the billed set is the start-order one over the calls that remain', () => {
    fc.assert(
      fc.property(arrivalsArb, ({ calls, order, leaves }) => {
        let { state } = run(order.map((i) => calls[i]!));
        const gone = new Set<string>();
        for (const i of leaves) {
          state = planWindow(state, [{ kind: 'leave', callId: calls[i]!.callId }]).next;
          gone.add(calls[i]!.callId);
        }
        const model = billedInStartOrder(calls.filter((c) => !gone.has(c.callId)));
        expect(state.calls.filter((c) => c.billed).map((c) => c.callId).sort()).toEqual(
          [...model.entries()].filter(([, p]) => p === null).map(([id]) => id).sort(),
        );
      }),
      { numRuns: 200 },
    );
  });
});
