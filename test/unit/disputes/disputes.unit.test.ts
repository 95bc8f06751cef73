import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  creditEntry,
  disputeId,
  isFullCredit,
  openDispute,
  resolveDispute,
  type CreditPolicy,
  type Dispute,
  type DisputeReason,
  type DisputeRefusal,
  type DisputeResult,
} from '../../../shared/domain/disputes/disputes';
import { creditEntryId, entryTotals, type LedgerEntry } from '../../../shared/domain/ledger/entries';
import { problemBodyOf } from '../../../shared/adapters/http/problems';
import { refusalError } from '../../../shared/app/disputes/refusals';
import type { ChargeEntry } from '../../../shared/domain/ledger/entries';

/** A refusal as the client is answered it. */
const answered = (refusal: Parameters<typeof refusalError>[0]) => problemBodyOf(refusalError(refusal));

const DAY = 86_400_000;
const policy: CreditPolicy = { disputeWindowDays: 30, allowedReasons: ['fraud', 'robocall', 'repeat_caller', 'below_buffer'] };

function charge(callId: string, over: Partial<ChargeEntry> = {}): ChargeEntry {
  return {
    entryId: `charge:${callId}`,
    type: 'charge',
    amountCents: 4500,
    currency: 'USD',
    callId,
    accountId: 'acme',
    publisherId: 'pub-a',
    subSource: null,
    campaignId: 'roofing-tx',
    termsVersion: 2,
    effectiveAt: '2026-11-10T15:00:00.000Z',
    createdAt: '2026-11-10T15:05:00.000Z',
    ...over,
  };
}
const c1 = charge('twilio:CA1');
const T = Date.parse(c1.effectiveAt);
const open = (over: { reason?: DisputeReason; note?: string } = {}, nowMs = T + DAY, existing: Dispute | null = null, ch: ChargeEntry | null = c1) =>
  openDispute(ch, policy, { callId: 'twilio:CA1', reason: over.reason ?? 'robocall', note: over.note ?? 'silent line', actor: 'key-ops' }, nowMs, existing);

function refused(r: DisputeResult): DisputeRefusal {
  if (r.ok) throw new Error('expected a refusal');
  return r.refusal;
}

function ok(r: DisputeResult): Dispute {
  if (!r.ok) throw new Error(`refused: ${r.refusal.kind}`);
  return r.dispute;
}

describe('openDispute', () => {
  it('opens a dispute with who and when', () => {
    const d = ok(open());
    expect(d).toMatchObject({
      disputeId: 'dispute:twilio:CA1',
      status: 'open',
      chargeEntryId: 'charge:twilio:CA1',
      chargeCents: 4500,
      publisherId: 'pub-a',
      reason: 'robocall',
      openedBy: 'key-ops',
      openedAt: new Date(T + DAY).toISOString(),
    });
    expect(d.history).toEqual([{ status: 'open', at: new Date(T + DAY).toISOString(), by: 'key-ops', note: 'silent line' }]);
  });

  it('refuses an unbilled call (422)', () => {
    const r = open({}, T + DAY, null, null);
    expect(r).toEqual({ ok: false, refusal: { kind: 'not_billed', callId: 'twilio:CA1' } });
    expect(answered(refused(r)).status).toBe(422);
    expect(open({}, T + DAY, null, charge('twilio:CA2')).ok).toBe(false);
  });

  it('refuses a second dispute (409), but an identical retry returns the first', () => {
    const first = ok(open());
    expect(open({}, T + 2 * DAY, first)).toEqual({ ok: true, dispute: first, changed: false });
    const other = open({ reason: 'fraud' }, T + 2 * DAY, first);
    expect(other).toMatchObject({ ok: false, refusal: { kind: 'already_disputed' } });
    expect(answered(refused(other)).status).toBe(409);
    const rejected = ok(resolveDispute(first, { outcome: 'rejected', note: 'heard the recording' }, 'key-fin', T + 3 * DAY));
    expect(open({}, T + 4 * DAY, rejected)).toMatchObject({ ok: false, refusal: { kind: 'already_disputed' } });
  });

  it('refuses a reason the credit policy does not allow (422 naming the field)', () => {
    const r = open({ reason: 'other' });
    expect(r).toEqual({ ok: false, refusal: { kind: 'reason_not_allowed', reason: 'other', allowed: policy.allowedReasons } });
    const p = answered(refused(r));
    expect(p.status).toBe(422);
    expect(p.errors?.[0]?.field).toBe('reason');
  });

  it('refuses outside the window, to the millisecond (422)', () => {
    expect(open({}, T + 30 * DAY - 1).ok).toBe(true);
    const r = open({}, T + 30 * DAY);
    expect(r).toEqual({ ok: false, refusal: { kind: 'outside_window', deadline: '2026-12-10T15:00:00.000Z', disputeWindowDays: 30 } });
    expect(answered(refused(r)).detail).toMatch(/closed at 2026-12-10T15:00:00.000Z/);
  });
});

describe('resolveDispute and creditEntry', () => {
  const d = ok(open());

  it('accepts with a full credit by default and records who and when', () => {
    const a = ok(resolveDispute(d, { outcome: 'accepted', note: 'robocall confirmed' }, 'key-fin', T + 2 * DAY));
    expect(a).toMatchObject({ status: 'accepted', creditCents: 4500, resolvedBy: 'key-fin', resolvedAt: new Date(T + 2 * DAY).toISOString() });
    expect(a.history.map((h) => [h.status, h.by])).toEqual([
      ['open', 'key-ops'],
      ['accepted', 'key-fin'],
    ]);
    const credit = creditEntry(c1, a, '2026-11-12T15:00:00.000Z');
    expect(credit).toEqual({
      ...c1,
      entryId: 'credit:twilio:CA1',
      type: 'credit',
      amountCents: -4500,
      createdAt: '2026-11-12T15:00:00.000Z',
      disputeId: 'dispute:twilio:CA1',
      correctsEntryId: 'charge:twilio:CA1',
    });
    expect(isFullCredit(c1, credit)).toBe(true);
  });

  it('accepts a partial credit, never more than the charge', () => {
    const a = ok(resolveDispute(d, { outcome: 'accepted', note: '', creditCents: 1000 }, 'key-fin', T + 2 * DAY));
    const credit = creditEntry(c1, a, 'now');
    expect(credit.amountCents).toBe(-1000);
    expect(isFullCredit(c1, credit)).toBe(false);
    const r = resolveDispute(d, { outcome: 'accepted', note: '', creditCents: 4501 }, 'key-fin', T + 2 * DAY);
    expect(r).toEqual({ ok: false, refusal: { kind: 'credit_out_of_range', creditCents: 4501, chargeCents: 4500 } });
  });

  it('rejects; a resolved dispute cannot change (409), an identical retry returns it', () => {
    const r = ok(resolveDispute(d, { outcome: 'rejected', note: 'valid call' }, 'key-fin', T + 2 * DAY));
    expect(r).toMatchObject({ status: 'rejected', resolvedBy: 'key-fin' });
    expect(resolveDispute(r, { outcome: 'rejected', note: 'valid call' }, 'key-x', T + 3 * DAY)).toEqual({ ok: true, dispute: r, changed: false });
    const again = resolveDispute(r, { outcome: 'accepted', note: '' }, 'key-fin', T + 3 * DAY);
    expect(again).toMatchObject({ ok: false, refusal: { kind: 'already_resolved' } });
    expect(answered(refused(again)).status).toBe(409);
    expect(() => creditEntry(c1, r, 'now')).toThrow(/rejected/);
  });

  it('refuses to credit a charge the dispute is not about', () => {
    const a = ok(resolveDispute(d, { outcome: 'accepted', note: '' }, 'key-fin', T + 2 * DAY));
    expect(() => creditEntry(charge('twilio:CA2'), a, 'now')).toThrow(/not about/);
  });
});

// ------------------------------------------------------------------------------------------------ properties

type Command =
  | { kind: 'open'; call: number; reason: DisputeReason; atDay: number }
  | { kind: 'resolve'; call: number; accept: boolean; creditCents: number | null; atDay: number };

/**
 * A model of the store: a dispute is put with `attribute_not_exists`, resolved with a condition on status open,
 * and a credit is put with `attribute_not_exists` on its deterministic key — the conditions the adapters use.
 */
function replay(charges: readonly ChargeEntry[], unbilled: readonly string[], commands: readonly Command[]) {
  const ledger: LedgerEntry[] = [...charges];
  const disputes = new Map<string, Dispute>();
  const callIds = [...charges.map((c) => c.callId), ...unbilled];
  for (const cmd of commands) {
    const callId = callIds[cmd.call % callIds.length]!;
    const ch = charges.find((c) => c.callId === callId) ?? null;
    const nowMs = T + cmd.atDay * DAY;
    const stored = disputes.get(disputeId(callId)) ?? null;
    if (cmd.kind === 'open') {
      const r = openDispute(ch, policy, { callId, reason: cmd.reason, note: '', actor: 'key-ops' }, nowMs, stored);
      if (r.ok && r.changed && !disputes.has(r.dispute.disputeId)) disputes.set(r.dispute.disputeId, r.dispute);
      continue;
    }
    if (stored === null || ch === null) continue;
    const outcome = cmd.accept
      ? { outcome: 'accepted' as const, note: '', ...(cmd.creditCents === null ? {} : { creditCents: cmd.creditCents }) }
      : { outcome: 'rejected' as const, note: '' };
    const r = resolveDispute(stored, outcome, 'key-fin', nowMs);
    if (!r.ok || !r.changed) continue;
    disputes.set(r.dispute.disputeId, r.dispute);
    if (r.dispute.status === 'accepted') {
      const credit = creditEntry(ch, r.dispute, new Date(nowMs).toISOString());
      if (!ledger.some((e) => e.entryId === credit.entryId)) ledger.push(credit);
    }
  }
  return { ledger, disputes };
}

const arbCharges = fc
  .array(
    fc.record({
      amountCents: fc.integer({ min: 1, max: 20_000 }),
      publisherId: fc.constantFrom('pub-a', 'pub-b'),
      day: fc.integer({ min: 0, max: 60 }),
    }),
    { minLength: 1, maxLength: 8 },
  )
  .map((xs) =>
    xs.map((x, i) => charge(`twilio:CA${i}`, { amountCents: x.amountCents, publisherId: x.publisherId, effectiveAt: new Date(T + x.day * DAY).toISOString() })),
  );
const arbCommands = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('open' as const), call: fc.nat(20), reason: fc.constantFrom<DisputeReason>('fraud', 'robocall', 'other'), atDay: fc.integer({ min: 0, max: 100 }) }),
    fc.record({
      kind: fc.constant('resolve' as const),
      call: fc.nat(20),
      accept: fc.boolean(),
      creditCents: fc.option(fc.integer({ min: -10, max: 25_000 })),
      atDay: fc.integer({ min: 0, max: 100 }),
    }),
  ),
  { maxLength: 60 },
);

function sumBy(ledger: readonly LedgerEntry[], key: (e: LedgerEntry) => string) {
  const m = new Map<string, { charges: number; credits: number }>();
  for (const e of ledger) {
    const v = m.get(key(e)) ?? { charges: 0, credits: 0 };
    if (e.type === 'charge') v.charges += e.amountCents;
    else v.credits += e.amountCents;
    m.set(key(e), v);
  }
  return [...m.values()];
}

describe('dispute and credit properties', () => {
  it('at most one credit per charge, with the deterministic id, naming its dispute', () => {
    fc.assert(
      fc.property(arbCharges, arbCommands, (charges, commands) => {
        const { ledger, disputes } = replay(charges, ['twilio:CAx'], commands);
        const credits = ledger.filter((e) => e.type === 'credit');
        expect(new Set(credits.map((c) => c.callId)).size).toBe(credits.length);
        for (const c of credits) {
          expect(c.entryId).toBe(creditEntryId(c.callId));
          expect(disputes.get(c.disputeId)?.status).toBe('accepted');
        }
        expect(ledger.some((e) => e.callId === 'twilio:CAx')).toBe(false);
      }),
    );
  });

  it('credits never exceed charges per call, per publisher, per period', () => {
    fc.assert(
      fc.property(arbCharges, arbCommands, (charges, commands) => {
        const { ledger } = replay(charges, [], commands);
        for (const key of [(e: LedgerEntry) => e.callId, (e: LedgerEntry) => e.publisherId, (e: LedgerEntry) => e.effectiveAt.slice(0, 7)]) {
          for (const g of sumBy(ledger, key)) {
            expect(g.credits).toBeLessThanOrEqual(0);
            expect(g.charges + g.credits).toBeGreaterThanOrEqual(0);
          }
        }
      }),
    );
  });

  it('totals always equal the sum of the entries', () => {
    fc.assert(
      fc.property(arbCharges, arbCommands, (charges, commands) => {
        const { ledger } = replay(charges, [], commands);
        const t = entryTotals(ledger);
        expect(t.netCents).toBe(ledger.reduce((s, e) => s + e.amountCents, 0));
        expect(t.chargesCents).toBe(charges.reduce((s, e) => s + e.amountCents, 0));
        expect(t.count).toBe(ledger.length);
      }),
    );
  });

  it('replaying the same command stream gives the same ledger and disputes; duplicating every command changes nothing', () => {
    fc.assert(
      fc.property(arbCharges, arbCommands, (charges, commands) => {
        const a = replay(charges, [], commands);
        expect(replay(charges, [], commands)).toEqual(a);
        // At-least-once delivery: every command delivered twice in a row.
        expect(replay(charges, [], commands.flatMap((c) => [c, c]))).toEqual(a);
      }),
    );
  });

  it('every transition is recorded, in order, and the last one is the status', () => {
    fc.assert(
      fc.property(arbCharges, arbCommands, (charges, commands) => {
        for (const d of replay(charges, [], commands).disputes.values()) {
          expect(d.history.at(-1)!.status).toBe(d.status);
          expect(d.history[0]!.status).toBe('open');
          expect(d.history.length).toBe(d.status === 'open' ? 1 : 2);
        }
      }),
    );
  });
});
