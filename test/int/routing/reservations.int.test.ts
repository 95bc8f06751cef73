/**
 * Pilot reservations through the real adapter on DynamoDB Local (shared/adapters/routing/routing-repo.ts,
 * reservation-writes.ts) and the sweep of expired ones (shared/app/routing/sweep-reservations.ts): any interleaving of
 * admissions (reserve), ratings (the rating's charge on the counter, then the reservation's release), lost callbacks,
 * expiry sweeps and late retries never holds more than the cap; the counter's live entries are exactly the held
 * reservations (nothing ended stays in the item); once every call has ended or expired nothing is held beyond what
 * was charged; a retried answer reserves once, and never after its call's reservation ended.
 */
import { randomUUID } from 'node:crypto';
import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoutingRepo } from '../../../shared/adapters/routing/routing-repo';
import { sweepDeps } from '../../../shared/adapters/routing/deps';
import { reservationKey } from '../../../shared/adapters/routing/reservation-condition';
import { counterUpdates } from '../../../shared/adapters/pilots/counter-condition';
import { mainKeys } from '../../../shared/adapters/calls/keys';
import { itemSizeBytes } from '../../../shared/adapters/platform/dynamodb/capacity';
import { reserve } from '../../../shared/domain/routing/reservations';
import { sweepReservations, type SweepDeps, type SweepSummary } from '../../../shared/app/routing/sweep-reservations';
import type { CommitResult } from '../../../shared/app/routing/ports';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import { startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';

const ACCOUNT = 'acct-resv';
const PRICE = 4500;
const BUDGET = { ringSec: 20, maxCallSec: 3600, settleGraceSec: 600 };
const HOLD_MS = (BUDGET.ringSec + BUDGET.maxCallSec + BUDGET.settleGraceSec) * 1000;
let env: CoreEnv;
let repo: RoutingRepo;

beforeAll(async () => {
  env = await startCoreEnv();
  repo = new RoutingRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
}, 120_000);
afterAll(async () => {
  await env?.stop();
});

function pilotOf(pilotId: string, calls: number): PilotTerms {
  return {
    pilotId,
    publisherIds: ['pub'],
    startsAt: '2026-01-01T00:00:00.000Z',
    endsAt: '2027-01-01T00:00:00.000Z',
    spendCapCents: calls * PRICE,
    dailyCapCents: null,
    maxBillableCalls: null,
    timeZone: 'UTC',
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

async function openCounter(p: PilotTerms, reservations: Record<string, unknown> = {}): Promise<void> {
  await env.clients.dynamodb.send(
    new PutItemCommand({
      TableName: env.names.mainTable,
      Item: marshall({ ...mainKeys.pilotCounter(ACCOUNT, p.pilotId), open: true, spentCents: 0, billableCalls: 0, heldCents: 0, heldCalls: 0, reservations, spendCapCents: p.spendCapCents }),
    }),
  );
}

async function counterRaw(p: PilotTerms) {
  const out = await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(mainKeys.pilotCounter(ACCOUNT, p.pilotId)), ConsistentRead: true }));
  return out.Item!;
}

async function counter(p: PilotTerms): Promise<Record<string, any>> {
  return unmarshall(await counterRaw(p));
}

async function pointer(callId: string): Promise<Record<string, any> | null> {
  const out = await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(reservationKey(callId)), ConsistentRead: true }));
  return out.Item === undefined ? null : unmarshall(out.Item);
}

const AT = Date.parse('2026-06-01T12:00:00Z');
const newCallId = () => `twilio:CA${randomUUID().replaceAll('-', '')}`;

/** The voice function's admission write for one call at `atMs` (as commit takes it, with no lease). */
async function commitAdmission(p: PilotTerms, callId: string, atMs = AT): Promise<CommitResult> {
  const write = reserve(p, callId, PRICE, atMs, BUDGET);
  return repo.commit({ accountId: ACCOUNT, callId, atMs, reservation: { pilot: p, write }, lease: null, admission: null, audit: [], flowVersion: 1, trackingNumber: '+15125550101', requestKey: 'incoming' });
}

async function admit(p: PilotTerms, callId: string, atMs = AT): Promise<boolean> {
  return (await commitAdmission(p, callId, atMs)).ok;
}

/** The rating of a call: its charge on the counter (the writer's update, pilots/counter-condition.ts), then the release. */
async function rate(p: PilotTerms, callId: string, billable: boolean, atMs = AT + 60_000): Promise<void> {
  if (billable) {
    const { total } = counterUpdates(env.names.mainTable, {
      accountId: ACCOUNT,
      pilotId: p.pilotId,
      deltaCents: PRICE,
      deltaCalls: 1,
      mustBeOpen: true,
      spentCentsAtMost: p.spendCapCents - PRICE,
      billableCallsBelow: null,
      days: [],
    });
    await env.clients.dynamodb.send(new UpdateItemCommand(total.Update!));
  }
  await repo.releaseAfterRating(ACCOUNT, callId, atMs);
}

/** The sweep as functions/sweep-reservations.ts wires it, over the given pilots, at `nowMs`. */
function sweeper(pilots: readonly PilotTerms[], nowMs: number): SweepDeps {
  return {
    store: {
      livePilots: async () => pilots.map((p) => ({ accountId: ACCOUNT, pilotId: p.pilotId })),
      counterEntries: (a, id) => repo.counterEntries(a, id),
      expireReservation: (a, id, r, now) => repo.expireReservation(a, id, r, now),
      pruneEndedMarker: (a, id, c, at) => repo.pruneEndedMarker(a, id, c, at),
    },
    now: () => new Date(nowMs),
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  };
}

const sweep = (pilots: readonly PilotTerms[], nowMs: number): Promise<SweepSummary> => sweepReservations(sweeper(pilots, nowMs));

type Op =
  | { kind: 'call'; billable: boolean }
  | { kind: 'end'; index: number }
  | { kind: 'lose'; index: number }
  | { kind: 'retry'; index: number }
  | { kind: 'tick'; minutes: number }
  | { kind: 'sweep' };

type State = 'held' | 'ended' | 'expired';

describe('pilot reservations on DynamoDB Local', () => {
  it('never hold more than the cap, keep only held reservations in the counter, and return to the charges alone once every call has ended or expired', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('call' as const), billable: fc.boolean() }),
            fc.record({ kind: fc.constant('end' as const), index: fc.nat(20) }),
            fc.record({ kind: fc.constant('lose' as const), index: fc.nat(20) }),
            fc.record({ kind: fc.constant('retry' as const), index: fc.nat(20) }),
            fc.record({ kind: fc.constant('tick' as const), minutes: fc.integer({ min: 1, max: 90 }) }),
            fc.constant({ kind: 'sweep' as const }),
          ),
          { minLength: 1, maxLength: 16 },
        ),
        async (capCalls, ops: Op[]) => {
          const p = pilotOf(`p-${randomUUID().slice(0, 8)}`, capCalls);
          await openCounter(p);
          let now = AT;
          let charged = 0;
          // lost: its callbacks never come (only the sweep can end it).
          const calls: { id: string; billable: boolean; admitted: boolean; state: State; lost: boolean; admittedAtMs: number }[] = [];
          for (const op of ops) {
            if (op.kind === 'call') {
              const id = newCallId();
              calls.push({ id, billable: op.billable, admitted: await admit(p, id, now), state: 'held', lost: false, admittedAtMs: now });
            } else if (op.kind === 'tick') {
              now += op.minutes * 60_000;
            } else if (op.kind === 'sweep') {
              await sweep([p], now);
              for (const c of calls) if (c.admitted && c.state === 'held' && c.admittedAtMs + HOLD_MS <= now) c.state = 'expired';
            } else {
              const c = calls[op.index % Math.max(1, calls.length)];
              if (c === undefined || !c.admitted) continue;
              // A late retry of the call's answer: nothing more while it is held, and never a second one once it ended:
              // refused `closed` by the call's pointer, or by a cap first when that cap is already full (the counter's
              // condition is checked before the pointer's); either way nothing is taken (the invariants below).
              if (op.kind === 'retry') {
                const retried = await commitAdmission(p, c.id, now);
                if (c.state === 'held') expect(retried).toEqual({ ok: true });
                else {
                  expect(retried).toMatchObject({ ok: false, failed: 'reservation' });
                  expect(['closed', 'spend_cap', 'max_calls', 'daily_cap']).toContain((retried as { refusal: string }).refusal);
                }
              }
              if (op.kind === 'lose' && c.state === 'held') c.lost = true;
              if (op.kind === 'end' && c.state === 'held' && !c.lost) {
                await rate(p, c.id, c.billable, now);
                c.state = 'ended';
                if (c.billable) charged += 1;
              }
            }
            const at = await counter(p);
            const held = calls.filter((c) => c.admitted && c.state === 'held');
            expect(at.heldCents).toBeLessThanOrEqual(p.spendCapCents);
            expect(Object.keys(at.reservations).sort()).toEqual(held.map((c) => c.id).sort());
            expect(at).toMatchObject({ heldCents: (charged + held.length) * PRICE, heldCalls: charged + held.length, spentCents: charged * PRICE });
          }
          // Every call ends: the rated ones by their rating, the lost ones by the sweep once they have expired.
          for (const c of calls) if (c.admitted && c.state === 'held' && !c.lost) {
            await rate(p, c.id, c.billable, now);
            if (c.billable) charged += 1;
          }
          await sweep([p], now + HOLD_MS);
          const end = await counter(p);
          expect(end).toMatchObject({ spentCents: charged * PRICE, heldCents: charged * PRICE, billableCalls: charged, heldCalls: charged, reservations: {} });
        },
      ),
      { numRuns: 25 },
    );
  }, 300_000);

  it('the counter item does not grow with ended calls: 500 calls reserved and released leave it as small as before', async () => {
    const p = pilotOf(`size-${randomUUID().slice(0, 8)}`, 10);
    await openCounter(p);
    // By DynamoDB's rules (what each write of the item is charged on, and what its 400 KB limit counts).
    const size = async () => itemSizeBytes(await counterRaw(p));
    const empty = await size();
    let largest = 0;
    for (let batch = 0; batch < 50; batch++) {
      const ids = Array.from({ length: 10 }, newCallId);
      expect(await Promise.all(ids.map((id) => admit(p, id)))).toEqual(ids.map(() => true));
      largest = Math.max(largest, await size());
      await Promise.all(ids.map((id) => rate(p, id, false)));
    }
    // Ten live entries at most (≈ 80 B each), whatever the calls before them.
    expect(largest).toBeLessThanOrEqual(empty + 10 * 100);
    expect(await size()).toBe(empty);
    expect(await counter(p)).toMatchObject({ heldCents: 0, heldCalls: 0, reservations: {} });
  }, 120_000);

  it('a late retry of an ended call’s connect request takes no reservation and leaves its pointer ended', async () => {
    const p = pilotOf(`late-${randomUUID().slice(0, 8)}`, 2);
    await openCounter(p);
    const id = newCallId();
    expect(await admit(p, id)).toBe(true);
    await rate(p, id, true);
    const before = await counter(p);
    expect(await commitAdmission(p, id, AT + 120_000)).toEqual({ ok: false, failed: 'reservation', refusal: 'closed' });
    expect(await counter(p)).toEqual(before);
    expect(before).toMatchObject({ heldCents: PRICE, heldCalls: 1, reservations: {} });
    expect(await pointer(id)).toMatchObject({ state: 'released' });
  });

  it('a counter written with ended markers keeps refusing their calls; the sweep prunes the markers and the refusal stands', async () => {
    const p = pilotOf(`mig-${randomUUID().slice(0, 8)}`, 2);
    const old = [newCallId(), newCallId()];
    await openCounter(p, Object.fromEntries(old.map((id) => [id, { ended: true }])));
    // One marker's pointer was marked when it ended; the other's never was (a crash between the two writes).
    await env.clients.dynamodb.send(new PutItemCommand({ TableName: env.names.mainTable, Item: marshall({ ...reservationKey(old[0]!), accountId: ACCOUNT, pilotId: p.pilotId, callId: old[0], amountCents: PRICE, day: null, expiresAtMs: AT, state: 'released', chargedCents: null }) }));
    for (const id of old) expect(await commitAdmission(p, id)).toEqual({ ok: false, failed: 'reservation', refusal: 'closed' });
    expect(await sweep([p], AT)).toMatchObject({ markersPruned: 2, expired: 0, failed: 0 });
    expect((await counter(p)).reservations).toEqual({});
    for (const id of old) {
      expect((await pointer(id))?.state).toBe('released');
      expect(await commitAdmission(p, id)).toEqual({ ok: false, failed: 'reservation', refusal: 'closed' });
    }
    expect(await counter(p)).toMatchObject({ heldCents: 0, heldCalls: 0, reservations: {} });
  });
});

describe('the sweep of expired reservations', () => {
  it('releases a reservation whose call was never rated once it expires, and the money admits the next call', async () => {
    const p = pilotOf(`sweep-${randomUUID().slice(0, 8)}`, 1);
    await openCounter(p);
    const abandoned = newCallId();
    expect(await admit(p, abandoned)).toBe(true);
    expect(await commitAdmission(p, newCallId(), AT + 60_000)).toEqual({ ok: false, failed: 'reservation', refusal: 'spend_cap' });
    // Not yet expired: nothing to do.
    expect(await sweep([p], AT + HOLD_MS - 1)).toMatchObject({ live: 1, expired: 0 });
    // As functions/sweep-reservations.ts composes it: the live pilots from the pilot registry.
    await env.clients.dynamodb.send(new PutItemCommand({ TableName: env.names.mainTable, Item: marshall({ pk: 'PILOTS', sk: `${ACCOUNT}#${p.pilotId}`, accountId: ACCOUNT, pilotId: p.pilotId, endsAt: p.endsAt }) }));
    const composed = sweepDeps({ mainTable: env.names.mainTable }, { client: env.clients.dynamodb, now: () => new Date(AT + HOLD_MS) });
    const summary = await sweepReservations(composed);
    expect(summary.failed).toBe(0);
    expect(summary.expired).toBe(1);
    expect(await counter(p)).toMatchObject({ heldCents: 0, heldCalls: 0, reservations: {} });
    expect(await pointer(abandoned)).toMatchObject({ state: 'expired', amountCents: PRICE });
    expect(await admit(p, newCallId(), AT + HOLD_MS + 1)).toBe(true);
    // The late rating of the abandoned call releases nothing twice; a late retry of it takes nothing.
    await repo.releaseAfterRating(ACCOUNT, abandoned, AT + HOLD_MS + 2);
    expect(await commitAdmission(p, abandoned, AT + HOLD_MS + 3)).toMatchObject({ ok: false, failed: 'reservation' });
    expect(await counter(p)).toMatchObject({ heldCents: PRICE, heldCalls: 1 });
  });

  it('two sweeps at once and a rating racing them end each reservation exactly once', async () => {
    const p = pilotOf(`race-${randomUUID().slice(0, 8)}`, 8);
    await openCounter(p);
    const ids = Array.from({ length: 8 }, newCallId);
    expect(await Promise.all(ids.map((id) => admit(p, id)))).toEqual(ids.map(() => true));
    const late = AT + HOLD_MS;
    const [a, b] = await Promise.all([sweep([p], late), sweep([p], late), ...ids.slice(0, 3).map((id) => repo.releaseAfterRating(ACCOUNT, id, late))]);
    const expired = (a as SweepSummary).expired + (b as SweepSummary).expired;
    expect(expired).toBeGreaterThanOrEqual(5);
    expect(expired).toBeLessThanOrEqual(8);
    expect(await counter(p)).toMatchObject({ heldCents: 0, heldCalls: 0, spentCents: 0, reservations: {} });
    expect(await sweep([p], late)).toMatchObject({ live: 0, expired: 0 });
  });
});
