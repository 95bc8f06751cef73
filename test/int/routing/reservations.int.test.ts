/**
 * Pilot reservations through the real adapter on DynamoDB Local (shared/adapters/routing/routing-repo.ts): any
 * interleaving of admissions (reserve), ratings (the rating's charge on the counter, then the reservation's release)
 * and non-billable ends (release) never holds more than the cap, and once every call has ended nothing is held
 * beyond what was charged: heldCents = spentCents, heldCalls = billableCalls, every reservation ended; a retried
 * answer reserves once, and never after its call ended.
 */
import { randomUUID } from 'node:crypto';
import { GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoutingRepo } from '../../../shared/adapters/routing/routing-repo';
import { counterUpdates } from '../../../shared/adapters/pilots/counter-condition';
import { mainKeys } from '../../../shared/adapters/calls/keys';
import { reserve } from '../../../shared/domain/routing/reservations';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import { startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';

const ACCOUNT = 'acct-resv';
const PRICE = 4500;
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

async function openCounter(p: PilotTerms): Promise<void> {
  await env.clients.dynamodb.send(
    new PutItemCommand({
      TableName: env.names.mainTable,
      Item: marshall({ ...mainKeys.pilotCounter(ACCOUNT, p.pilotId), open: true, spentCents: 0, billableCalls: 0, heldCents: 0, heldCalls: 0, reservations: {}, spendCapCents: p.spendCapCents }),
    }),
  );
}

async function counter(p: PilotTerms): Promise<Record<string, any>> {
  const out = await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(mainKeys.pilotCounter(ACCOUNT, p.pilotId)), ConsistentRead: true }));
  return unmarshall(out.Item!);
}

const AT = Date.parse('2026-06-01T12:00:00Z');

/** The voice function's admission write for one call (as commit takes it, with no lease). */
async function admit(p: PilotTerms, callId: string): Promise<boolean> {
  const write = reserve(p, callId, PRICE, AT, { ringSec: 20, maxCallSec: 3600, settleGraceSec: 600 });
  const r = await repo.commit({ accountId: ACCOUNT, callId, atMs: AT, reservation: { pilot: p, write }, lease: null, admission: null, audit: [], flowVersion: 1, trackingNumber: '+15125550101' });
  return r.ok;
}

/** The rating of a call: its charge on the counter (the writer's update, pilots/counter-condition.ts), then the release. */
async function rate(p: PilotTerms, callId: string, billable: boolean): Promise<void> {
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
  await repo.releaseAfterRating(ACCOUNT, callId, AT + 60_000);
}

type Op = { kind: 'call'; billable: boolean } | { kind: 'end'; index: number } | { kind: 'retry'; index: number };

describe('pilot reservations on DynamoDB Local', () => {
  it('never hold more than the cap, and return to the charges alone when every call has ended', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('call' as const), billable: fc.boolean() }),
            fc.record({ kind: fc.constant('end' as const), index: fc.nat(20) }),
            fc.record({ kind: fc.constant('retry' as const), index: fc.nat(20) }),
          ),
          { minLength: 1, maxLength: 14 },
        ),
        async (capCalls, ops: Op[]) => {
          const p = pilotOf(`p-${randomUUID().slice(0, 8)}`, capCalls);
          await openCounter(p);
          const calls: { id: string; billable: boolean; admitted: boolean; ended: boolean }[] = [];
          for (const op of ops) {
            if (op.kind === 'call') {
              const id = `twilio:CA${randomUUID().replaceAll('-', '')}`;
              calls.push({ id, billable: op.billable, admitted: await admit(p, id), ended: false });
            } else {
              const c = calls[op.index % Math.max(1, calls.length)];
              if (c === undefined) continue;
              // A retried answer reserves once, and never again once its call has ended.
              if (op.kind === 'retry' && c.admitted) expect(await admit(p, c.id)).toBe(!c.ended);
              if (op.kind === 'end' && c.admitted && !c.ended) {
                await rate(p, c.id, c.billable);
                c.ended = true;
              }
            }
            const now = await counter(p);
            expect(now.heldCents).toBeLessThanOrEqual(p.spendCapCents);
          }
          for (const c of calls) if (c.admitted && !c.ended) await rate(p, c.id, c.billable);
          const end = await counter(p);
          const charged = calls.filter((c) => c.admitted && c.billable).length;
          expect(end).toMatchObject({ spentCents: charged * PRICE, heldCents: charged * PRICE, billableCalls: charged, heldCalls: charged });
          expect(Object.values(end.reservations).every((e: any) => e.ended === true)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  }, 240_000);
});
