/**
 * A pilot's caps as the rating transaction's condition: decided as plain data by the domain
 * (shared/domain/pilots/caps.ts#counterCondition), spelled as DynamoDB conditions by the adapter
 * (shared/adapters/pilots/counter-condition.ts). The int tests prove the database holds them under concurrency
 * (test/int/pilots/writer-pilot-cap.int.test.ts); here, that the data says exactly what the caps allow.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { counterCondition, netPilotMovements, type CounterCondition, type PilotCharge, type PilotMovement } from '../../../shared/domain/pilots/caps';
import { counterUpdates } from '../../../shared/adapters/pilots/counter-condition';

const charge = (over: Partial<PilotCharge> = {}): PilotCharge => ({
  accountId: 'acme',
  pilotId: 'p1',
  priceCents: 2_500,
  spendCapCents: 10_000,
  maxBillableCalls: 4,
  day: { date: '2026-12-07', dailyCapCents: 5_000 },
  ...over,
});

const only = (moves: readonly PilotMovement[]) => {
  const [m] = netPilotMovements(moves);
  return counterCondition(m!);
};

/** Whether a counter state satisfies the condition, read from the data alone (what the adapter's expression says). */
function allows(c: CounterCondition, s: { open: boolean; spentCents: number; billableCalls: number; day: number | null }): boolean {
  if (c.mustBeOpen && !s.open) return false;
  if (c.spentCentsAtMost !== null && s.spentCents > c.spentCentsAtMost) return false;
  if (c.billableCallsBelow !== null && s.billableCalls >= c.billableCallsBelow) return false;
  return c.days.every((d) => (s.day === null ? !d.mustExist : d.spentCentsAtMost === null || s.day <= d.spentCentsAtMost));
}

describe('counterCondition: what the counter must hold before a move', () => {
  it('a charge: the counter open, spend and calls with room for it, the day with room for it', () => {
    expect(only([{ kind: 'charge', charge: charge() }])).toEqual({
      accountId: 'acme',
      pilotId: 'p1',
      deltaCents: 2_500,
      deltaCalls: 1,
      mustBeOpen: true,
      spentCentsAtMost: 7_500,
      billableCallsBelow: 4,
      days: [{ date: '2026-12-07', deltaCents: 2_500, deltaCalls: 1, mustExist: false, spentCentsAtMost: 2_500 }],
    });
  });

  it('a giveback alone: no limit, the counter may be closed, the day item must exist', () => {
    expect(only([{ kind: 'giveback', charge: charge() }])).toMatchObject({
      mustBeOpen: false,
      spentCentsAtMost: null,
      billableCallsBelow: null,
      days: [{ mustExist: true, spentCentsAtMost: null, deltaCents: -2_500 }],
    });
  });

  it('no call cap, no daily cap: only the spend is limited', () => {
    expect(only([{ kind: 'charge', charge: charge({ maxBillableCalls: null, day: null }) }])).toMatchObject({ billableCallsBelow: null, days: [] });
  });

  it("refuses before any write a day's first charge above the daily cap (a created item's condition cannot compare it)", () => {
    expect(only([{ kind: 'charge', charge: charge({ priceCents: 6_000 }) }])).toBe('daily_cap');
  });

  it('the data allows a counter state exactly when the move keeps every cap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.constantFrom('charge' as const, 'giveback' as const), price: fc.integer({ min: 1, max: 4_000 }) }), { minLength: 1, maxLength: 4 }),
        fc.record({ open: fc.boolean(), spentCents: fc.integer({ min: 0, max: 12_000 }), billableCalls: fc.integer({ min: 0, max: 6 }), day: fc.option(fc.integer({ min: 0, max: 6_000 })) }),
        (moves, state) => {
          const [move] = netPilotMovements(moves.map((m) => ({ kind: m.kind, charge: charge({ priceCents: m.price }) })));
          const c = counterCondition(move!);
          const d = move!.days[0]!;
          const dayAfter = (state.day ?? 0) + d.deltaCents;
          if (c === 'daily_cap') {
            expect(d.givesBack).toBe(false);
            expect(dayAfter).toBeGreaterThan(d.dailyCapCents);
            return;
          }
          const keeps =
            (!move!.counts || state.open) &&
            (move!.deltaCents <= 0 || state.spentCents + move!.deltaCents <= 10_000) &&
            (move!.deltaCalls <= 0 || state.billableCalls + move!.deltaCalls <= 4) &&
            (d.givesBack ? state.day !== null : true) &&
            (d.deltaCents <= 0 || dayAfter <= 5_000);
          expect(allows(c as CounterCondition, state)).toBe(keeps);
        },
      ),
    );
  });
});

describe('counter-condition adapter: the data spelled as conditions', () => {
  it('a charge: open, spend and calls limited on the counter; the day created or limited', () => {
    const c = only([{ kind: 'charge', charge: charge() }]) as CounterCondition;
    const { total, days } = counterUpdates('main', c);
    expect(total.Update).toMatchObject({
      Key: { pk: { S: 'PILOT#acme#p1' }, sk: { S: 'COUNTER' } },
      ConditionExpression: 'attribute_exists(spentCents) AND #open = :true AND spentCents <= :maxBefore AND billableCalls < :callsBelow',
      ExpressionAttributeValues: { ':p': { N: '2500' }, ':c': { N: '1' }, ':true': { BOOL: true }, ':maxBefore': { N: '7500' }, ':callsBelow': { N: '4' } },
    });
    expect(days[0]!.Update).toMatchObject({
      Key: { pk: { S: 'PILOT#acme#p1' }, sk: { S: 'DAY#2026-12-07' } },
      ConditionExpression: 'attribute_not_exists(spentCents) OR spentCents <= :maxBefore',
      ExpressionAttributeValues: { ':maxBefore': { N: '2500' } },
    });
  });

  it('a giveback: the counter and the day only must exist', () => {
    const c = only([{ kind: 'giveback', charge: charge() }]) as CounterCondition;
    const { total, days } = counterUpdates('main', c);
    expect(total.Update?.ConditionExpression).toBe('attribute_exists(spentCents)');
    expect(total.Update?.ExpressionAttributeNames).toBeUndefined();
    expect(days[0]!.Update?.ConditionExpression).toBe('attribute_exists(spentCents)');
    expect(days[0]!.Update?.ExpressionAttributeValues?.[':maxBefore']).toBeUndefined();
  });
});
