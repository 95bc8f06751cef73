/**
 * The pure parts of the reservation sweep and of the audit's idempotence: which reservations are due for expiry
 * (reservations.ts dueForExpiry), the request key (audit.ts answerKey), and the sweep use case over a fake store
 * (sweep-reservations.ts): one pilot's failure is counted and the others are still swept.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dueForExpiry, type Reservation } from '../../../shared/domain/routing/reservations';
import { answerKey } from '../../../shared/domain/routing/audit';
import type { Step } from '../../../shared/domain/callflow/machine';
import { sweepReservations, type ReservationSweepStore } from '../../../shared/app/routing/sweep-reservations';

const held = (callId: string, expiresAtMs: number): Reservation => ({ pilotId: 'p', callId, amountCents: 4500, day: null, expiresAtMs, state: 'held', chargedCents: null });

describe('dueForExpiry', () => {
  it('is exactly the held reservations whose expiry has passed, oldest first, at most the limit', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 30 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 40 }), (expiries, now, limit) => {
        const live = expiries.map((e, i) => held(`c${i}`, e));
        const due = dueForExpiry(live, now, limit);
        const expected = live.filter((r) => r.expiresAtMs <= now);
        expect(due).toHaveLength(Math.min(limit, expected.length));
        expect(due.every((r) => r.expiresAtMs <= now)).toBe(true);
        for (let i = 1; i < due.length; i++) expect(due[i - 1]!.expiresAtMs).toBeLessThanOrEqual(due[i]!.expiresAtMs);
        // Nothing older than the last one taken was left behind.
        const last = due.at(-1);
        const taken = new Set(due.map((r) => r.callId));
        if (last !== undefined) for (const r of expected) if (!taken.has(r.callId)) expect(r.expiresAtMs).toBeGreaterThanOrEqual(last.expiresAtMs);
      }),
    );
  });
});

describe('answerKey', () => {
  const steps: Step[] = [
    { kind: 'incoming' },
    { kind: 'gather', attempt: 1, digits: '1' },
    { kind: 'gather', attempt: 1, digits: '2' },
    { kind: 'gather', attempt: 2, digits: '1' },
    { kind: 'gather', attempt: 1, digits: null },
    { kind: 'dial_result', route: 'default', position: 1, outcome: 'busy' },
    { kind: 'dial_result', route: 'default', position: 1, outcome: 'answered' },
    { kind: 'dial_result', route: 'default', position: 2, outcome: 'busy' },
    { kind: 'whisper', route: 'default', position: 1 },
    { kind: 'voicemail_done' },
    { kind: 'fallback', pilotMayGovern: true },
  ];

  it('is the same for the same step and parameters, and differs for any other request of the call', () => {
    const keys = steps.map(answerKey);
    expect(new Set(keys).size).toBe(steps.length);
    expect(steps.map((s) => answerKey(structuredClone(s)))).toEqual(keys);
    for (const k of keys) expect(k).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('keeps no digit the caller pressed', () => {
    expect(answerKey({ kind: 'gather', attempt: 1, digits: '5551234' })).not.toContain('5551234');
  });
});

describe('sweepReservations', () => {
  it('expires what is due on every pilot, counts what others ended first, and counts a failing pilot without stopping', async () => {
    const ended = new Set<string>(['p2:b']);
    const errors: unknown[] = [];
    const store: ReservationSweepStore = {
      livePilots: async () => [
        { accountId: 'a', pilotId: 'p1' },
        { accountId: 'a', pilotId: 'bad' },
        { accountId: 'a', pilotId: 'p2' },
      ],
      counterEntries: async (_a, pilotId) => {
        if (pilotId === 'bad') throw new Error('boom');
        return { live: [held('a', 10), held('b', 10), held('c', 1_000)], endedMarkers: pilotId === 'p1' ? ['old'] : [] };
      },
      expireReservation: async (_a, pilotId, r) => !ended.has(`${pilotId}:${r.callId}`),
      pruneEndedMarker: async () => true,
    };
    const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => errors.push(args) };
    const summary = await sweepReservations({ store, now: () => new Date(100), log });
    expect(summary).toEqual({ pilots: 3, live: 6, expired: 3, endedElsewhere: 1, markersPruned: 1, failed: 1 });
    expect(errors).toHaveLength(1);
  });
});
