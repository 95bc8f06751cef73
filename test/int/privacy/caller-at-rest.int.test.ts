/**
 * the call item's event slots carry no caller number; a re-rating (process-ingest-batch.ts
 * `rerateCall`) reads what it needs of the caller from what the first rating recorded (`callerHash`, traits `ct`),
 * against DynamoDB Local through the real writer. Each case would rate differently if the re-rating read the caller
 * from the slots (`from` reads back as '', i.e. withheld):
 * - the geography rule matched by the caller's area code only: still billable after the leg re-rates the call;
 * - robocall_suspect by `caller_number` (an unallocatable number, attested A): still flagged after re-rating;
 * - an item rated before the change (clear `f` in its slots, no `ct`): re-rated from that number, it gains `ct` and
 *   the sealed number.
 */
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configItems, mainKeys } from '../../../shared/adapters/calls/main-repo';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { getCallRating } from '../../../shared/app/calls/read-api';
import { campaignFromSeed } from '../../../shared/domain/catalog/config';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import type { Campaign } from '../../../shared/domain/catalog/types';
import { createTenant, freshNumber, hex32, lifecycle, records, startCoreEnv, statusEvent, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const MIN = 60_000;

async function process(events: readonly CallStatusEvent[]): Promise<void> {
  expect((await processIngestBatch(records(events), env.writerDeps)).failedMessageIds).toEqual([]);
}

async function rawCall(callId: string): Promise<Record<string, any>> {
  const out = await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(mainKeys.call(callId)), ConsistentRead: true }));
  return unmarshall(out.Item!);
}

/** Terms on talk time (a leg that ends after the parent was rated re-rates it), optionally a geography. */
async function talkTenant(geography: Campaign['geography'] = null): Promise<Tenant> {
  const t = await createTenant(env.config, { priceCents: 3000, bufferSec: 60 });
  const base = campaignFromSeed(t.campaign);
  const campaign: Campaign = { ...base, geography, termsVersions: base.termsVersions.map((v) => ({ ...v, durationBasis: 'talk' as const })) };
  await env.config.putConfigItems([configItems.campaign(campaign)]);
  return t;
}

/** A parent call from `from` and its dialled leg answered for 100 s; the ringing event attested A. */
function callWithLeg(t: Tenant, from: string) {
  const startMs = Date.now() - 30 * MIN;
  const parent = lifecycle({ accountId: t.account.accountId, from, to: t.numbers.billable.number, startMs, durationSec: 200 });
  const events = parent.events.map((e) => (e.status === 'ringing' ? { ...e, stirVerstat: 'TN-Validation-Passed-A' } : e));
  const leg = {
    ...statusEvent({
      accountId: t.account.accountId,
      callSid: `CA${hex32()}`,
      status: 'completed',
      from: t.numbers.billable.number,
      to: '+15125559999',
      durationSec: 100,
      occurredAt: new Date(startMs + 200_000).toISOString(),
    }),
    direction: 'outbound-dial',
    parentCallId: parent.callId,
  } satisfies CallStatusEvent;
  return { callId: parent.callId, events, leg };
}

describe('re-rating without the number in the slots', () => {
  it('the geography rule still matches the caller by the area code the first rating recorded', async () => {
    const t = await talkTenant({ states: [], zipPrefixes: [], areaCodes: ['512'] });
    const caller = freshNumber();
    const call = callWithLeg(t, caller);
    await process(call.events);
    const item = await rawCall(call.callId);
    expect(item.ct).toMatch(/^v:512:6:[A-Za-z0-9_-]{16}$/);
    expect(JSON.stringify(item)).not.toContain(caller.slice(2));
    expect((await env.calls.getCall(call.callId, { consistent: true }))!.rating!.reasons).toEqual(['below_buffer']);
    await process([call.leg]);
    const stored = (await env.calls.getCall(call.callId, { consistent: true }))!;
    expect(stored.rating).toMatchObject({ billable: true, amountCents: 3000, reasons: [] });
    // The explanation recomputes the geography rule from the recorded area code, and agrees with the rating.
    const explained = await getCallRating({ accountId: t.account.accountId, role: 'analyst' }, call.callId, { calls: env.calls, config: env.config });
    expect(explained.rules.find((r) => r.rule === 'out_of_geo')).toMatchObject({ passed: true, inputs: { callerAreaCode: '512' } });
    expect(explained.matchesRecorded).toBe(true);
    // The re-rating kept what the first rating sealed and recorded.
    const after = await rawCall(call.callId);
    expect(after.callerEnc).toBe(item.callerEnc);
    expect(after.ct).toBe(item.ct);
    expect(after.callerHash).toBe(item.callerHash);
  });

  it('robocall_suspect by caller_number survives the re-rating (an unallocatable number, attested A)', async () => {
    const t = await talkTenant();
    const call = callWithLeg(t, '+15121230123');
    await process(call.events);
    // No area code (not a valid number), but a block: the number is a possible one.
    expect((await rawCall(call.callId)).ct).toMatch(/^u::6:[A-Za-z0-9_-]{16}$/);
    expect((await env.calls.getCall(call.callId, { consistent: true }))!.rating!.recorded?.signals).toContain('robocall_suspect');
    await process([call.leg]);
    const rating = (await env.calls.getCall(call.callId, { consistent: true }))!.rating!;
    expect(rating).toMatchObject({ billable: true, reasons: [] });
    expect(rating.recorded?.signals).toContain('robocall_suspect');
    expect(rating.recorded?.talkSec).toBe(100);
  });

  it('an item rated before the change (number in its slots, no traits) is re-rated from that number and gains them', async () => {
    const t = await talkTenant({ states: [], zipPrefixes: [], areaCodes: ['512'] });
    const caller = freshNumber();
    const call = callWithLeg(t, caller);
    await process(call.events);
    // Make it look as the writer stored it before: `f` in its status slots, no `ct`, no `callerEnc`.
    const slots = Object.keys(await rawCall(call.callId)).filter((k) => k.startsWith('s_'));
    await env.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: env.names.mainTable,
        Key: marshall(mainKeys.call(call.callId)),
        UpdateExpression: `SET ${slots.map((_, i) => `#s${i}.f = :f`).join(', ')} REMOVE ct, callerEnc`,
        ExpressionAttributeNames: Object.fromEntries(slots.map((s, i) => [`#s${i}`, s])),
        ExpressionAttributeValues: { ':f': { S: caller } },
      }),
    );
    const legacy = (await env.calls.getCall(call.callId, { consistent: true }))!;
    expect(legacy.callerTraits).toBeUndefined();
    expect(legacy.events.find((e) => e.kind === 'call.status' && e.status === 'completed')).toMatchObject({ from: caller });
    await process([call.leg]);
    const after = await rawCall(call.callId);
    expect(after).toMatchObject({ billable: true, ct: expect.stringMatching(/^v:512:6:/), callerEnc: expect.stringMatching(/^v1:/) });
  });
});
