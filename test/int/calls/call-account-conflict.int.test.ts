/**
 * A call claimed by two accounts, through the ledger writer on DynamoDB Local: the second account's events are
 * refused once and for all (recorded, counted with the alarmed metric, acknowledged: never failed back to SQS for a
 * redelivery loop), and the owner's call item, charge and marker stay byte for byte what they were.
 */
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ALARMED_METRICS } from '../../../infra/resources';
import type { Telemetry } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import type { CallEvent } from '../../../shared/domain/calls/events';
import {
  createTenant,
  freshNumber,
  hex32,
  ledgerItemsOf,
  lifecycle,
  recordingTelemetry,
  records,
  scanTable,
  startCoreEnv,
  statusEvent,
  type CoreEnv,
} from '../../support/writer-fixtures';

let env: CoreEnv;
/** The functions' own telemetry (EMF through Powertools), with metrics on: POWERTOOLS_DEV alone turns them off. */
let telemetry: Telemetry;
beforeAll(async () => {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  ({ telemetry } = await import('../../../shared/adapters/platform/metrics'));
  env = await startCoreEnv();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await env?.stop();
});

/** EMF lines the real telemetry writes (POWERTOOLS_DEV=true: to the console). */
let emf: Record<string, any>[] = [];
beforeEach(() => {
  emf = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    for (const a of args) {
      try {
        const parsed = JSON.parse(String(a));
        if (parsed?._aws) emf.push(parsed);
      } catch {
        // not an EMF line
      }
    }
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

const T0 = Date.parse('2026-11-20T15:00:00.000Z');

async function rawItem(key: Record<string, string>): Promise<Record<string, AttributeValue> | undefined> {
  const out = await env.clients.dynamodb.send(
    new GetItemCommand({ TableName: env.names.mainTable, Key: { pk: { S: key.pk! }, sk: { S: key.sk! } }, ConsistentRead: true }),
  );
  return out.Item;
}

/** What the alarm watches: CallAccountConflict in the alarm's namespace with exactly its `service` dimension. */
function conflictDatapoints(): number {
  return emf
    .filter((line) =>
      (line._aws.CloudWatchMetrics as { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[]).some(
        (m) =>
          m.Namespace === ALARMED_METRICS.namespace &&
          m.Metrics.some((x) => x.Name === ALARMED_METRICS.callAccountConflict) &&
          JSON.stringify(m.Dimensions) === JSON.stringify([['service']]),
      ),
    )
    .filter((line) => line.service === ALARMED_METRICS.service)
    .reduce((sum, line) => sum + Number(line[ALARMED_METRICS.callAccountConflict]), 0);
}

describe('a CallSid that already belongs to another account', () => {
  it('is refused and recorded, counted once per delivery, acknowledged, and leaves the owner\u2019s billed call untouched', async () => {
    const owner = await createTenant(env.config);
    const other = await createTenant(env.config);
    const call = lifecycle({ accountId: owner.account.accountId, from: freshNumber(), to: owner.numbers.billable.number, startMs: T0, durationSec: 240 });
    expect((await processIngestBatch(records(call.events), env.writerDeps)).failedMessageIds).toEqual([]);
    const ownerItem = await rawItem({ pk: `CALL#${call.callId}`, sk: 'CALL' });
    expect(ownerItem).toBeDefined();
    const ownerLedger = await ledgerItemsOf(env, owner.account.accountId);
    expect(ownerLedger).toHaveLength(1);
    const mainBefore = (await scanTable(env, env.names.mainTable)).filter((i) => JSON.stringify(i).includes(owner.account.accountId));

    // The other account's validly signed webhooks for the same CallSid: a non-terminal one (a slot merge) and the
    // terminal one (a rating), each delivered twice, as SQS or Twilio would.
    const foreign: CallEvent[] = call.events
      .filter((e) => e.kind === 'call.status' && (e.status === 'ringing' || e.status === 'completed'))
      .map((e) => ({ ...e, accountId: other.account.accountId }));
    const deps = { ...env.writerDeps, telemetry };
    for (const delivery of [1, 2]) {
      for (const event of foreign) {
        const result = await processIngestBatch(records([event]), deps);
        expect(result.failedMessageIds, `delivery ${delivery} of ${event.eventId}`).toEqual([]);
      }
    }

    // Counted once per refused delivery, in the namespace and dimensions the CDK alarm watches.
    expect(conflictDatapoints()).toBe(4);

    // The owner's call item, charge and every other item of the owner: byte for byte as before.
    expect(await rawItem({ pk: `CALL#${call.callId}`, sk: 'CALL' })).toEqual(ownerItem);
    expect(await ledgerItemsOf(env, owner.account.accountId)).toEqual(ownerLedger);
    expect((await scanTable(env, env.names.mainTable)).filter((i) => JSON.stringify(i).includes(owner.account.accountId))).toEqual(mainBefore);
    // Nothing billed or stored for the claimant but the record of what was refused.
    expect(await ledgerItemsOf(env, other.account.accountId)).toEqual([]);
    const record = await rawItem({ pk: `CONFLICT#${other.account.accountId}`, sk: `CALL#${call.callId}` });
    expect(record).toBeDefined();
    const conflict = unmarshall(record!) as { accountId: string; callId: string; eventIds: Set<string>; firstAt: string; lastAt: string };
    expect(conflict.accountId).toBe(other.account.accountId);
    expect(conflict.callId).toBe(call.callId);
    expect([...conflict.eventIds].sort()).toEqual(foreign.map((e) => e.eventId).sort());
    expect(Date.parse(conflict.firstAt)).toBeLessThanOrEqual(Date.parse(conflict.lastAt));
    // The record names neither the owner nor the caller.
    expect(JSON.stringify(unmarshall(record!), (_k, v) => (v instanceof Set ? [...v] : v))).not.toContain(owner.account.accountId);
    expect(JSON.stringify(conflict, (_k, v) => (v instanceof Set ? [...v] : v))).not.toMatch(/\+1512/);
  });

  it('refuses only the conflicting call in a batch; the rest of the batch is applied and a malformed message still fails', async () => {
    const a = await createTenant(env.config);
    const b = await createTenant(env.config);
    const callSid = `CA${hex32()}`;
    const owned = statusEvent({ accountId: a.account.accountId, callSid, status: 'ringing', from: freshNumber(), to: a.numbers.billable.number, occurredAt: new Date(T0).toISOString() });
    await processIngestBatch(records([owned]), env.writerDeps);
    const before = await rawItem({ pk: `CALL#${owned.callId}`, sk: 'CALL' });

    const b1 = lifecycle({ accountId: b.account.accountId, from: freshNumber(), to: b.numbers.billable.number, startMs: T0, durationSec: 200 });
    const hijack = { ...owned, accountId: b.account.accountId, status: 'completed' as const, eventId: `${owned.callId}:status:completed`, durationSec: 200 };
    const batch = [...records(b1.events), ...records([hijack]), { messageId: 'garbage', body: '{"v":1,"event":{}}' }];
    const counted = env.writerDeps.telemetry as ReturnType<typeof recordingTelemetry>;
    const conflictsBefore = counted.accountConflicts;
    const result = await processIngestBatch(batch, env.writerDeps);

    expect(result.failedMessageIds).toEqual(['garbage']);
    expect(counted.accountConflicts).toBe(conflictsBefore + 1);
    expect(await rawItem({ pk: `CALL#${owned.callId}`, sk: 'CALL' })).toEqual(before);
    // b's own call in the same batch was rated and billed.
    expect(await ledgerItemsOf(env, b.account.accountId)).toHaveLength(1);
    expect(await ledgerItemsOf(env, a.account.accountId)).toEqual([]);
  });

  it('fails the messages back when the refusal cannot be recorded, so a conflict is never acknowledged unrecorded', async () => {
    const a = await createTenant(env.config);
    const b = await createTenant(env.config);
    const call = lifecycle({ accountId: a.account.accountId, from: freshNumber(), to: a.numbers.billable.number, startMs: T0, durationSec: 150 });
    await processIngestBatch(records(call.events), env.writerDeps);
    const failing = Object.create(env.calls, {
      recordAccountConflict: { value: async () => Promise.reject(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' })) },
    }) as typeof env.calls;
    const hijack = records([{ ...call.events[2]!, accountId: b.account.accountId }]);
    const result = await processIngestBatch(hijack, { ...env.writerDeps, calls: failing });
    expect(result.failedMessageIds).toEqual([hijack[0]!.messageId]);
  });
});
