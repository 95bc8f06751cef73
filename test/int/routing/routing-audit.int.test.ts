/**
 * The routing record's append through the real adapter on DynamoDB Local (shared/adapters/routing/routing-repo.ts
 * commit): a retried request of a call (same step, same parameters: the same request key) appends nothing twice,
 * and the rest of its write (the call's own lease, the reservation's pointer) still stands, so it gets the same
 * answer; a different request of the same call appends as usual.
 */
import { randomUUID } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoutingRepo, routingKeys } from '../../../shared/adapters/routing/routing-repo';
import { answerKey } from '../../../shared/domain/routing/audit';
import type { AnswerCommit } from '../../../shared/app/routing/ports';
import type { AuditEvent } from '../../../shared/domain/callflow/machine';
import { startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';

const ACCOUNT = 'acct-audit';
const AT = Date.parse('2026-06-01T12:00:00Z');
const TIMES = { ringTimeoutSec: 20, maxCallSec: 3600, graceSec: 30 };
let env: CoreEnv;
let repo: RoutingRepo;

beforeAll(async () => {
  env = await startCoreEnv();
  repo = new RoutingRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
}, 120_000);
afterAll(async () => {
  await env?.stop();
});

const AUDIT: AuditEvent[] = [
  { event: 'admitted', stage: 'connect', reservation: null },
  { event: 'dialling', targetId: 't1', position: 1 },
];

function answer(callId: string, targetId: string, cap: number, overrides: Partial<AnswerCommit> = {}): AnswerCommit {
  return {
    accountId: ACCOUNT,
    callId,
    atMs: AT,
    reservation: null,
    lease: { targetId, cap, times: TIMES },
    admission: null,
    audit: AUDIT,
    flowVersion: 1,
    trackingNumber: '+15125550101',
    requestKey: answerKey({ kind: 'incoming' }),
    ...overrides,
  };
}

describe('the routing audit of a retried request', () => {
  it('is appended once; the retry is answered as the first (its lease still its own)', async () => {
    const callId = `twilio:CA${randomUUID().replaceAll('-', '')}`;
    const target = `t-${randomUUID().slice(0, 8)}`;
    expect(await repo.commit(answer(callId, target, 1))).toEqual({ ok: true });
    // Twilio retries the same request a second later: same step, same parameters.
    expect(await repo.commit(answer(callId, target, 1, { atMs: AT + 1_000 }))).toEqual({ ok: true });
    const record = await repo.readRouting(callId);
    expect(record?.events.map((e) => e.event)).toEqual(['admitted', 'dialling']);
    expect((await repo.readSlots(ACCOUNT, target)).filter((s) => s.holder === callId)).toHaveLength(1);
    // The next request of the call (its dial's outcome) is another key: appended.
    const next = answer(callId, target, 1, { lease: null, audit: [{ event: 'outcome', targetId: target, position: 1, outcome: 'answered' }], requestKey: answerKey({ kind: 'dial_result', route: 'default', position: 1, outcome: 'answered' }) });
    expect(await repo.commit(next)).toEqual({ ok: true });
    expect((await repo.readRouting(callId))?.events.map((e) => e.event)).toEqual(['admitted', 'dialling', 'outcome']);
  });

  it('a retry whose hashed slot another call holds still finds its own slot, and appends nothing', async () => {
    const target = `t-${randomUUID().slice(0, 8)}`;
    const callId = `twilio:CA${randomUUID().replaceAll('-', '')}`;
    // Every slot but one is held by other calls: the call lands on the free one, whichever its hash names.
    const cap = 3;
    for (let slot = 0; slot < cap - 1; slot++) {
      await env.clients.dynamodb.send(
        new PutItemCommand({ TableName: env.names.mainTable, Item: marshall({ ...routingKeys.slot(ACCOUNT, target, slot), holder: `other-${slot}`, expiresAtMs: AT + 3_600_000, maxCallMs: 0 }) }),
      );
    }
    expect(await repo.commit(answer(callId, target, cap))).toEqual({ ok: true });
    expect(await repo.commit(answer(callId, target, cap, { atMs: AT + 2_000 }))).toEqual({ ok: true });
    expect((await repo.readRouting(callId))?.events).toHaveLength(AUDIT.length);
    expect((await repo.readSlots(ACCOUNT, target)).filter((s) => s.holder === callId)).toHaveLength(1);
  });

  it('another account’s request under the same call id is still refused (thrown), not taken for a retry', async () => {
    const callId = `twilio:CA${randomUUID().replaceAll('-', '')}`;
    expect(await repo.commit(answer(callId, `t-${randomUUID().slice(0, 8)}`, 1, { lease: null }))).toEqual({ ok: true });
    await expect(repo.commit(answer(callId, 'x', 1, { lease: null, accountId: 'someone-else' }))).rejects.toThrow();
    expect((await repo.readRouting(callId))?.accountId).toBe(ACCOUNT);
  });
});
