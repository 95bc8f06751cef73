/**
 * Every caller has an identity (shared/domain/calls/caller.ts callerIdentity), against DynamoDB Local through the real
 * ledger writer and the real management routes:
 * - ten 200 s calls to one tracking number within one duplicate window from each caller id that is not a valid
 *   number (the withheld forms and digits outside the numbering plan), delivered shuffled, duplicated and
 *   concurrently: one charge per identity, none for withheld callers under the default terms, one for all withheld
 *   callers together when the terms bill them (flagged caller_id_withheld);
 * - re-rating an item of the stored shape (a withheld caller's item has no callerHash) keeps the duplicate rule;
 * - a caller with digits outside the plan can be blocked, listed on a DNC list, given consent and matched by a CRM
 *   outcome through the same identity; a withheld marker is refused with a 422 naming the field.
 */
import { rejection } from '../../support/problems';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockRepo } from '../../../shared/adapters/blocklist/block-repo';
import { ddbStats } from '../../../shared/adapters/platform/dynamodb/ddb-stats';
import { DncRepo } from '../../../shared/adapters/compliance/dnc-repo';
import { configItems, mainKeys } from '../../../shared/adapters/calls/main-repo';
import { BLOCK_ROUTES } from '../../../shared/app/blocklist/block-list';
import { blockListDeps } from '../../../shared/adapters/blocklist/deps';
import { COMPLIANCE_ROUTES } from '../../../shared/app/compliance/compliance';
import { complianceDeps } from '../../../shared/adapters/compliance/deps';
import { OUTCOME_ROUTES, type PostOutcomesResponse } from '../../../shared/app/outcomes/outcomes';
import { outcomeDeps } from '../../../shared/adapters/outcomes/deps';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch, type QueueRecord } from '../../../shared/app/rating/process-ingest-batch';
import { getCallRating } from '../../../shared/app/calls/read-api';
import { callerIdentity, identityHash } from '../../../shared/domain/calls/caller';
import { campaignFromSeed, SEED_EPOCH } from '../../../shared/domain/catalog/config';
import { parseTermsChange } from '../../../shared/domain/terms/terms-schema';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import type { Campaign } from '../../../shared/domain/catalog/types';
import { mulberry32 } from '../../../events/prng';
import { createTenant, hex32, ledgerItemsOf, lifecycle, records, scanTable, startCoreEnv, statusEvent, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

const MIN = 60_000;
const HOUR = 3_600_000;
const WITHHELD = ['anonymous', '+266696687', 'restricted', 'unknown', ''];
const DIGITS = ['+17370123456', '+19995550000', '+12005550100'];
let env: CoreEnv;

beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

/**
 * A tenant whose campaign's terms were written through the terms schema (as PUT /v1/campaigns does), 200 s calls
 * billable, a 24 h window; `withheldCallerId` as given, or left out (the default). `trackingNumber` is added as a
 * number of the campaign when given.
 */
async function tenantWithTerms(terms: { withheldCallerId?: 'billable' | 'non_billable'; durationBasis?: 'talk' } = {}, trackingNumber?: string): Promise<Tenant & { to: string }> {
  const t = await createTenant(env.config);
  const parsed = parseTermsChange({ terms: { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 24, ...terms } }).terms;
  const campaign: Campaign = { ...campaignFromSeed(t.campaign), termsVersions: [{ ...parsed, version: 1, effectiveFrom: SEED_EPOCH, createdAt: SEED_EPOCH }] };
  const items: Record<string, unknown>[] = [configItems.campaign(campaign)];
  if (trackingNumber !== undefined) {
    items.push(configItems.trackingNumber({ ...t.numbers.billable, number: trackingNumber }));
  }
  await env.config.putConfigItems(items);
  return { ...t, to: trackingNumber ?? t.numbers.billable.number };
}

/** Ten completed 200 s calls from `from`, ten minutes apart (one duplicate window). */
function tenCalls(t: Tenant & { to: string }, from: string, startMs: number) {
  return Array.from({ length: 10 }, (_, i) => lifecycle({ accountId: t.account.accountId, from, to: t.to, startMs: startMs + i * 10 * MIN, durationSec: 200 }));
}

/** Every event once or twice, shuffled, in batches of up to 10 on three concurrent consumers; failures redelivered. */
async function deliverShuffled(events: readonly CallStatusEvent[], seed: number): Promise<void> {
  const random = mulberry32(seed);
  const all = events.flatMap((e) => (random() < 0.3 ? [e, e] : [e]));
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  let pending: QueueRecord[][] = [];
  for (let i = 0; i < all.length; i += 10) pending.push(records(all.slice(i, i + 10)));
  for (let round = 0; pending.length > 0; round++) {
    if (round > 10) throw new Error('messages still failing after 10 redeliveries');
    const queue = [...pending];
    const failed: QueueRecord[] = [];
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for (let batch = queue.shift(); batch !== undefined; batch = queue.shift()) {
          const { failedMessageIds } = await processIngestBatch(batch, env.writerDeps);
          failed.push(...batch.filter((r) => failedMessageIds.includes(r.messageId)));
        }
      }),
    );
    pending = failed.length > 0 ? [failed] : [];
  }
}

/** Calls that net a charge: a later call charged before an earlier one of its caller arrived is reversed. */
async function chargedCallIds(t: Tenant): Promise<string[]> {
  const net = new Map<string, number>();
  for (const e of await ledgerItemsOf(env, t.account.accountId)) {
    if (e.type === 'charge' || e.type === 'reversal') net.set(String(e.callId), (net.get(String(e.callId)) ?? 0) + Number(e.amountCents));
  }
  return [...net].filter(([, cents]) => cents > 0).map(([callId]) => callId);
}

async function rating(callId: string) {
  return (await env.calls.getCall(callId, { consistent: true }))!.rating!;
}

async function rawCall(callId: string): Promise<Record<string, unknown>> {
  const out = await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(mainKeys.call(callId)), ConsistentRead: true }));
  return unmarshall(out.Item!);
}

describe('ten calls within one window from callers without a usable number', () => {
  it('default terms: one charge per digits identity, none for any withheld form (caller_id_withheld, flagged)', async () => {
    const t = await tenantWithTerms({}, '+15125550101');
    const t0 = Date.now() - 30 * HOUR;
    const byFrom = new Map([...DIGITS, ...WITHHELD].map((from) => [from, tenCalls(t, from, t0)]));
    await deliverShuffled([...byFrom.values()].flat().flatMap((c) => c.events), 11);

    const charged = new Set(await chargedCallIds(t));
    expect(charged.size).toBe(DIGITS.length);
    for (const from of DIGITS) {
      const calls = byFrom.get(from)!;
      const billed = calls.filter((c) => charged.has(c.callId));
      expect(billed, from).toHaveLength(1);
      for (const c of calls.filter((c) => !charged.has(c.callId))) {
        const r = await rating(c.callId);
        expect(r.reasons, from).toEqual(['duplicate_caller']);
        expect(r.recorded.priorBilled?.callId).toBe(billed[0]!.callId);
      }
      // A digits identity enters the caller indexes like a number (outcomes by caller, deletion requests).
      expect(await rawCall(billed[0]!.callId)).toMatchObject({ callerHash: identityHash(env.callerHashKey, callerIdentity(from)) });
    }
    for (const from of WITHHELD) {
      for (const c of byFrom.get(from)!) {
        const r = await rating(c.callId);
        expect(r, JSON.stringify(from)).toMatchObject({ billable: false, amountCents: 0, reasons: ['caller_id_withheld'] });
        expect(r.recorded?.signals).toContain('caller_id_withheld');
      }
    }
    // The explanation names the rule, its inputs and the term.
    const anonymous = byFrom.get('anonymous')![0]!;
    const explained = await getCallRating({ accountId: t.account.accountId, role: 'analyst', label: 'viewer' }, anonymous.callId, { calls: env.calls, config: env.config });
    expect(explained.matchesRecorded).toBe(true);
    expect(explained.terms?.withheldCallerId).toBe('non_billable');
    expect(explained.rules.find((r) => r.rule === 'caller_id_withheld')).toEqual({
      rule: 'caller_id_withheld',
      passed: false,
      inputs: { callerIdWithheld: true, withheldCallerId: 'non_billable' },
    });
  });

  it('withheldCallerId billable: every withheld form is one caller, so one charge for all of them, flagged; one per digits identity', async () => {
    const t = await tenantWithTerms({ withheldCallerId: 'billable' });
    const t0 = Date.now() - 30 * HOUR;
    const byFrom = new Map([...DIGITS, ...WITHHELD].map((from) => [from, tenCalls(t, from, t0)]));
    await deliverShuffled([...byFrom.values()].flat().flatMap((c) => c.events), 12);

    const charged = new Set(await chargedCallIds(t));
    expect(charged.size).toBe(DIGITS.length + 1);
    for (const from of DIGITS) expect(byFrom.get(from)!.filter((c) => charged.has(c.callId)), from).toHaveLength(1);
    const withheldCalls = WITHHELD.flatMap((from) => byFrom.get(from)!);
    const billed = withheldCalls.filter((c) => charged.has(c.callId));
    expect(billed).toHaveLength(1);
    expect(await rating(billed[0]!.callId)).toMatchObject({ billable: true, amountCents: 4500, reasons: [], recorded: { signals: ['caller_id_withheld'] } });
    for (const c of withheldCalls.filter((c) => !charged.has(c.callId))) {
      const r = await rating(c.callId);
      expect(r.reasons).toEqual(['duplicate_caller']);
      // 50 calls of one identity exceed the duplicate window's kept candidates (40, docs/CONTRACTS.md "The duplicate
      // window"): a duplicate may name an earlier call of the caller that billed when it was rated, not the one left.
      const prior = r.recorded.priorBilled?.callId;
      expect(withheldCalls.map((w) => w.callId)).toContain(prior);
    }
    // Nothing names a withheld caller: no hash on its item, so it enters no caller index.
    expect(await rawCall(billed[0]!.callId)).not.toHaveProperty('callerHash');
  });
});

describe('what an identity costs on the hot path', () => {
  it('a billable withheld call writes its marker but enters no caller index; a digits caller costs what a valid one does', async () => {
    const t = await tenantWithTerms({ withheldCallerId: 'billable' });
    const t0 = Date.now() - 30 * HOUR;
    // Warm the configuration cache with another call to the same number, then measure.
    await processIngestBatch(records(lifecycle({ accountId: t.account.accountId, from: '+15125550142', to: t.to, startMs: t0, durationSec: 5 }).events), env.writerDeps);
    const units: Record<string, number> = {};
    for (const [from, offsetMin] of [['anonymous', 1], ['+17370123456', 2], ['+15125550143', 3]] as const) {
      const call = lifecycle({ accountId: t.account.accountId, from, to: t.to, startMs: t0 + offsetMin * MIN, durationSec: 200 });
      ddbStats.reset();
      expect((await processIngestBatch(records(call.events), env.writerDeps)).failedMessageIds).toEqual([]);
      expect(ddbStats.requests, from).toBe(1);
      units[from] = ddbStats.awsWriteUnits;
    }
    console.log(`billable call, 3 events in one batch, WCU by AWS's rules: ${JSON.stringify(units)}`);
    // Call item 2 + charge 2 + marker 2 + gsi1 1 + gsi3 1 + the ledger's createdAt index 1; a caller that is not
    // withheld also enters gsi2 (connected calls by caller) 1 and gsi4 (calls by caller hash) 1.
    expect(units).toEqual({ anonymous: 9, '+17370123456': 11, '+15125550143': 11 });
  });
});

describe('re-rating items of the stored shape', () => {
  it('a withheld caller (item without callerHash) re-rated after its talk time arrives still meets the duplicate rule', async () => {
    const t = await tenantWithTerms({ withheldCallerId: 'billable', durationBasis: 'talk' });
    const t0 = Date.now() - 5 * HOUR;
    const parents = ['anonymous', 'restricted'].map((from, i) => lifecycle({ accountId: t.account.accountId, from, to: t.to, startMs: t0 + i * 30 * MIN, durationSec: 200 }));
    const legs = parents.map((p, i) =>
      statusEvent({
        accountId: t.account.accountId,
        callSid: `CA${hex32()}`,
        status: 'completed',
        from: t.to,
        to: '+15125559999',
        durationSec: 150,
        occurredAt: new Date(t0 + i * 30 * MIN + 200_000).toISOString(),
      }),
    ).map((leg, i) => ({ ...leg, direction: 'outbound-dial' as const, parentCallId: parents[i]!.callId }));
    for (const p of parents) expect((await processIngestBatch(records(p.events), env.writerDeps)).failedMessageIds).toEqual([]);
    for (const p of parents) {
      expect((await rating(p.callId)).reasons).toEqual(['below_buffer']);
      expect(await rawCall(p.callId)).not.toHaveProperty('callerHash');
    }
    // The later call's leg first: it takes the charge until the earlier one's leg arrives, which bills it instead
    // (the earliest-started billable call of the window) and reverses the later one.
    for (const leg of [legs[1]!, legs[0]!]) expect((await processIngestBatch(records([leg]), env.writerDeps)).failedMessageIds).toEqual([]);
    expect(await chargedCallIds(t)).toEqual([parents[0]!.callId]);
    expect(await rating(parents[1]!.callId)).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
  });
});

describe('matching callers with digits outside the numbering plan; withheld markers refused', () => {
  const caller = '+17370123456';

  async function setUp() {
    const t = await tenantWithTerms();
    const accountId = t.account.accountId;
    let nowMs = Math.floor(Date.now() / 1000) * 1000 - 60 * MIN;
    const clock = { now: () => nowMs, set: (ms: number) => void (nowMs = ms) };
    const wiring = { client: env.clients.dynamodb, secrets: { resolve: async () => env.callerHashKey }, now: () => new Date(clock.now()) };
    const config = { mainTable: env.names.mainTable, callerHashKeyRef: 'env:UNUSED_IN_TESTS' };
    const admin: ApiKeyRecord = { accountId, role: 'admin', label: 'ops' };
    const writer = {
      ...env.writerDeps,
      blocks: new BlockRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb, now: clock.now }),
      dnc: new DncRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb, now: clock.now }),
    };
    return { t, accountId, clock, admin, writer, blocks: blockListDeps(config, wiring), compliance: complianceDeps(config, wiring), outcomes: outcomeDeps(config, wiring) };
  }

  it('a block, a DNC listing, consent and a CRM outcome name such a caller as the writer does, whatever the formatting', async () => {
    const s = await setUp();
    const T0 = s.clock.now();
    const block = BLOCK_ROUTES.find((r) => r.method === 'PUT')!;
    const put = (e164: string) => block.handle(s.admin, { pathParameters: { e164 }, query: {}, body: '{"reason":"fraud"}', contentType: 'application/json' }, s.blocks);
    expect((await put(caller)).status).toBe(201);
    const dncList = COMPLIANCE_ROUTES.find((r) => r.method === 'PUT' && r.path === '/v1/dnc-lists/{listId}')!;
    const dncNumbers = COMPLIANCE_ROUTES.find((r) => r.method === 'POST' && r.path === '/v1/dnc-lists/{listId}/numbers')!;
    await dncList.handle(s.admin, { pathParameters: { listId: 'internal' }, query: {}, body: '{"name":"internal","source":"internal"}', contentType: 'application/json' }, s.compliance);
    // The same caller in national format, and a withheld marker (an invalid line, never listed).
    const upload = await dncNumbers.handle(s.admin, { pathParameters: { listId: 'internal' }, query: {}, body: 'number\n(737) 012-3456\nanonymous\n', contentType: 'text/csv' }, s.compliance);
    expect(upload.body).toMatchObject({ added: 1, invalid: 1, invalidLines: [3] });

    s.clock.set(T0 + 2 * MIN);
    // Sent by the carrier without the plus: the same identity.
    const call = lifecycle({ accountId: s.accountId, from: '17370123456', to: s.t.to, startMs: T0 + 90_000, durationSec: 200 });
    expect((await processIngestBatch(records(call.events), s.writer)).failedMessageIds).toEqual([]);
    const r = await rating(call.callId);
    expect(r).toMatchObject({ billable: false, reasons: ['blocked_caller'] });
    expect(r.recorded?.signals).toContain('dnc_listed');

    const consent = COMPLIANCE_ROUTES.find((x) => x.method === 'POST' && x.path === '/v1/consent')!;
    const capturedAt = new Date(T0).toISOString();
    const stored = await consent.handle(s.admin, { pathParameters: {}, query: {}, body: JSON.stringify({ callerNumber: '+1 737 012 3456', publisherId: s.t.numbers.billable.publisherId, capturedAt, certificateId: 'cert-9' }), contentType: 'application/json' }, s.compliance);
    expect(stored.body).toMatchObject({ results: [{ line: 1, result: 'stored' }] });
    const forCall = COMPLIANCE_ROUTES.find((x) => x.method === 'GET' && x.path === '/v1/calls/{callId}/consent')!;
    expect(((await forCall.handle(s.admin, { pathParameters: { callId: call.callId }, query: {}, body: '', contentType: undefined }, s.compliance)).body as { evidence: unknown[] }).evidence).toHaveLength(1);

    const outcomes = OUTCOME_ROUTES.find((x) => x.method === 'POST' && x.path === '/v1/outcomes')!;
    const posted = (await outcomes.handle(
      s.admin,
      { pathParameters: {}, query: {}, body: JSON.stringify({ externalId: `deal-${hex32()}`, callerNumber: caller, occurredAt: new Date(T0 + 30 * MIN).toISOString(), status: 'booked', revenueCents: 90000 }), contentType: 'application/json' },
      s.outcomes,
    )).body as PostOutcomesResponse;
    expect(posted.results[0]).toMatchObject({ result: 'created', matchedCallId: call.callId, match: 'caller_time' });
    // Nothing stored carries the number in clear.
    expect(JSON.stringify(await scanTable(env, env.names.mainTable))).not.toContain('7370123456');
  });

  it('a withheld marker cannot be blocked, given consent or matched (422 naming the field); nothing is written', async () => {
    const s = await setUp();
    const before = (await scanTable(env, env.names.mainTable)).length;
    const block = BLOCK_ROUTES.find((r) => r.method === 'PUT')!;
    for (const e164 of ['anonymous', '+266696687']) {
      expect(await rejection(block.handle(s.admin, { pathParameters: { e164 }, query: {}, body: '{"reason":"fraud"}', contentType: 'application/json' }, s.blocks))).toMatchObject({
        status: 422,
        errors: [{ field: 'e164' }],
      });
    }
    const consent = COMPLIANCE_ROUTES.find((x) => x.method === 'POST' && x.path === '/v1/consent')!;
    const refusedConsent = await consent.handle(s.admin, { pathParameters: {}, query: {}, body: JSON.stringify({ callerNumber: 'Restricted', publisherId: s.t.numbers.billable.publisherId, capturedAt: new Date(s.clock.now()).toISOString(), certificateId: 'c' }), contentType: 'application/json' }, s.compliance);
    expect(refusedConsent.body).toMatchObject({ results: [{ line: 1, result: 'refused', problem: { status: 422, errors: [{ field: 'callerNumber' }] } }] });
    const outcomes = OUTCOME_ROUTES.find((x) => x.method === 'POST' && x.path === '/v1/outcomes')!;
    const refusedOutcome = (await outcomes.handle(
      s.admin,
      { pathParameters: {}, query: {}, body: JSON.stringify({ externalId: 'deal-w', callerNumber: 'anonymous', occurredAt: new Date(s.clock.now()).toISOString(), status: 'booked' }), contentType: 'application/json' },
      s.outcomes,
    )).body as PostOutcomesResponse;
    expect(refusedOutcome.results[0]).toMatchObject({ result: 'refused', error: { status: 422, errors: [{ field: 'callerNumber' }] } });
    expect((await scanTable(env, env.names.mainTable)).length).toBe(before);
  });
});
