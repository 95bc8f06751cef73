/**
 * The duplicate marker's write condition (first call bills): decided as data by the domain
 * (shared/domain/rating/duplicate-window.ts#markerCondition), spelled by the adapter
 * (shared/adapters/rating/duplicate-marker.ts#windowCondition). test/int/rating/first-call-bills.int.test.ts proves
 * the database holds it when two writers of one caller race.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_WINDOW, markerCondition, planWindow, type MarkerVersion } from '../../../shared/domain/rating/duplicate-window';
import { windowCondition } from '../../../shared/adapters/rating/duplicate-marker';

const read = fc.oneof(
  fc.constant<MarkerVersion>({ kind: 'absent' }),
  fc.integer({ min: 1, max: 1_000 }).map((version): MarkerVersion => ({ kind: 'versioned', version })),
  fc.record({ callId: fc.string({ minLength: 1 }), billedStartMs: fc.nat() }).map((r): MarkerVersion => ({ kind: 'legacy', ...r })),
);
const versionOf = (m: MarkerVersion) => (m.kind === 'versioned' ? m.version : 0);

describe('markerCondition', () => {
  it('the write finds the marker exactly as read and stores the next version', () => {
    fc.assert(
      fc.property(read, (m) => {
        expect(markerCondition(m, { version: versionOf(m) + 1 })).toEqual({ expect: m, writesVersion: versionOf(m) + 1 });
      }),
    );
  });

  it('refuses, before any write, a state that is not the next version of the one read', () => {
    fc.assert(
      fc.property(read, fc.integer({ min: -3, max: 3 }).filter((d) => d !== 1), (m, d) => {
        expect(() => markerCondition(m, { version: versionOf(m) + d })).toThrow(/duplicate marker/);
      }),
    );
  });

  it("a plan's next state over an absent marker is conditioned on it staying absent", () => {
    const plan = planWindow(EMPTY_WINDOW, [{ kind: 'arrive', call: { callId: 'c1', startMs: 1_000, windowMs: 3_600_000, priceCents: 500 } }]);
    const c = markerCondition({ kind: 'absent' }, plan.next);
    expect(windowCondition(c.expect)).toEqual({ expression: 'attribute_not_exists(#pk)', names: { '#pk': 'pk' }, values: {} });
  });
});
