/**
 * The pilot guarantee on the ledger writer, against DynamoDB Local: a pilot call is charged only inside
 * its window and only if its counter allows it, the counter being updated in the same TransactWriteItems as the
 * charge. 64 concurrent billable calls against a cap worth N calls charge exactly N; a property does the same over
 * random caps, prices, daily caps and arrival orders; a closed counter charges nothing; calls outside the window
 * are `outside_window`; other publishers of the campaign are not governed by the pilot.
 */
import { PutItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configItems, mainKeys } from '../../../shared/adapters/calls/main-repo';
import { processIngestBatch, type QueueRecord } from '../../../shared/app/rating/process-ingest-batch';
import { campaignFromSeed } from '../../../shared/domain/catalog/config';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import type { Campaign } from '../../../shared/domain/catalog/types';
import { mulberry32 } from '../../../events/prng';
import { createTenant, freshNumber, ledgerItemsOf, lifecycle, records, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const HOUR = 3_600_000;

interface PilotSetup {
  readonly tenant: Tenant;
  readonly pilot: PilotTerms;
}

/** A tenant whose campaign has one pilot on its first publisher, window [now-1h, now+1h), and an open counter. */
async function pilotTenant(args: { priceCents: number; spendCapCents: number; dailyCapCents?: number | null; maxBillableCalls?: number | null; open?: boolean }): Promise<PilotSetup> {
  const tenant = await createTenant(env.config, { priceCents: args.priceCents, bufferSec: 60 });
  const now = Date.now();
  const pilot: PilotTerms = {
    pilotId: `pil-${tenant.account.accountId.slice(5)}`,
    publisherIds: [tenant.numbers.billable.publisherId],
    startsAt: new Date(now - HOUR).toISOString(),
    endsAt: new Date(now + HOUR).toISOString(),
    spendCapCents: args.spendCapCents,
    dailyCapCents: args.dailyCapCents ?? null,
    maxBillableCalls: args.maxBillableCalls ?? null,
    timeZone: 'America/Chicago',
    createdAt: new Date(now - 2 * HOUR).toISOString(),
  };
  const campaign: Campaign = { ...campaignFromSeed(tenant.campaign), pilots: [pilot] };
  await env.config.putConfigItems([configItems.campaign(campaign)]);
  await env.clients.dynamodb.send(
    new PutItemCommand({
      TableName: env.names.mainTable,
      Item: marshall({
        ...mainKeys.pilotCounter(tenant.account.accountId, pilot.pilotId),
        pilotId: pilot.pilotId,
        accountId: tenant.account.accountId,
        open: args.open ?? true,
        spentCents: 0,
        billableCalls: 0,
        spendCapCents: pilot.spendCapCents,
        maxBillableCalls: pilot.maxBillableCalls,
      }),
    }),
  );
  return { tenant, pilot };
}

async function counter(s: PilotSetup): Promise<{ spentCents: number; billableCalls: number; open: boolean }> {
  const out = await env.clients.dynamodb.send(
    new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(mainKeys.pilotCounter(s.tenant.account.accountId, s.pilot.pilotId)), ConsistentRead: true }),
  );
  const item = unmarshall(out.Item!);
  return { spentCents: Number(item.spentCents), billableCalls: Number(item.billableCalls), open: item.open === true };
}

/** `count` billable calls (fresh callers, 120 s) of the pilot's publisher, one batch each, started `startMs + i s`. */
function pilotCalls(s: PilotSetup, count: number, startMs: number, to = s.tenant.numbers.billable.number) {
  return Array.from({ length: count }, (_, i) =>
    lifecycle({ accountId: s.tenant.account.accountId, from: freshNumber(), to, startMs: startMs + i * 1000, durationSec: 120 }),
  );
}

/** Every batch at once (one Lambda each), redelivering failed messages as SQS would. */
async function deliverConcurrently(batches: QueueRecord[][]): Promise<void> {
  let pending = batches;
  for (let round = 0; pending.length > 0; round++) {
    if (round > 20) throw new Error('messages still failing after 20 redeliveries');
    const results = await Promise.all(pending.map(async (b) => ({ b, out: await processIngestBatch(b, env.writerDeps) })));
    pending = results.filter((r) => r.out.failedMessageIds.length > 0).map((r) => r.b.filter((m) => r.out.failedMessageIds.includes(m.messageId)));
  }
}

async function ratingsOf(callIds: readonly string[]) {
  return Promise.all(callIds.map(async (id) => (await env.calls.getCall(id, { consistent: true }))!.rating!));
}

describe('pilot cap on the rating transaction', () => {
  it('64 concurrent billable calls against a cap worth 20 calls: exactly 20 are charged, the rest are over_cap', async () => {
    const price = 4500;
    const s = await pilotTenant({ priceCents: price, spendCapCents: 20 * price + price - 1 });
    const calls = pilotCalls(s, 64, Date.now() - 30 * 60_000);
    await deliverConcurrently(calls.map((c) => records(c.events)));

    const charges = (await ledgerItemsOf(env, s.tenant.account.accountId)).filter((e) => e.type === 'charge');
    expect(charges).toHaveLength(20);
    expect(charges.every((c) => c.pilotId === s.pilot.pilotId && c.amountCents === price)).toBe(true);
    expect(await counter(s)).toEqual({ spentCents: 20 * price, billableCalls: 20, open: true });

    const ratings = await ratingsOf(calls.map((c) => c.callId));
    const overCap = ratings.filter((r) => !r.billable);
    expect(overCap).toHaveLength(44);
    expect(overCap.every((r) => r.reasons.join() === 'over_cap' && r.amountCents === 0 && r.recorded?.capRefusal === 'spend_cap')).toBe(true);
    // Charged calls are exactly the billable ratings.
    expect(new Set(charges.map((c) => c.callId))).toEqual(new Set(calls.filter((_, i) => ratings[i]!.billable).map((c) => c.callId)));
  });

  it('the number of charged calls is min(calls, cap/price, daily cap/price, max calls), whatever the caps, prices and arrival order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          priceCents: fc.integer({ min: 100, max: 9000 }),
          capCalls: fc.integer({ min: 0, max: 10 }),
          capSlack: fc.double({ min: 0, max: 0.999, noNaN: true }),
          dailyCalls: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }),
          maxCalls: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }),
          calls: fc.integer({ min: 1, max: 14 }),
          seed: fc.integer(),
        }),
        async (p) => {
          const spendCapCents = Math.max(1, p.capCalls * p.priceCents + Math.floor(p.capSlack * p.priceCents));
          const dailyCapCents = p.dailyCalls === null ? null : Math.max(1, p.dailyCalls * p.priceCents);
          const s = await pilotTenant({ priceCents: p.priceCents, spendCapCents, dailyCapCents, maxBillableCalls: p.maxCalls });
          // All calls inside one local day of the pilot's zone (the window is 2 h around now; calls are minutes apart).
          const calls = pilotCalls(s, p.calls, Date.now() - 20 * 60_000);
          const order = shuffle(calls.map((c) => records(c.events)), p.seed);
          await deliverConcurrently(order);

          const charges = (await ledgerItemsOf(env, s.tenant.account.accountId)).filter((e) => e.type === 'charge');
          const expected = Math.min(
            p.calls,
            Math.floor(spendCapCents / p.priceCents),
            dailyCapCents === null ? Infinity : Math.floor(dailyCapCents / p.priceCents),
            p.maxCalls ?? Infinity,
          );
          expect(charges).toHaveLength(expected);
          const spent = charges.reduce((sum, c) => sum + Number(c.amountCents), 0);
          expect(spent).toBeLessThanOrEqual(spendCapCents);
          expect(await counter(s)).toEqual({ spentCents: spent, billableCalls: expected, open: true });
          const ratings = await ratingsOf(calls.map((c) => c.callId));
          expect(ratings.filter((r) => r.reasons.includes('over_cap'))).toHaveLength(p.calls - expected);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('a closed pilot charges nothing (over_cap: closed) and its counter does not move', async () => {
    const s = await pilotTenant({ priceCents: 4500, spendCapCents: 100_000, open: false });
    const calls = pilotCalls(s, 3, Date.now() - 10 * 60_000);
    await deliverConcurrently(calls.map((c) => records(c.events)));
    expect((await ledgerItemsOf(env, s.tenant.account.accountId)).filter((e) => e.type === 'charge')).toHaveLength(0);
    const ratings = await ratingsOf(calls.map((c) => c.callId));
    expect(ratings.map((r) => `${r.reasons.join()}/${r.recorded?.capRefusal}`)).toEqual(['over_cap/closed', 'over_cap/closed', 'over_cap/closed']);
    expect(await counter(s)).toEqual({ spentCents: 0, billableCalls: 0, open: false });
  });

  it('calls outside the window are outside_window and never reach the counter; other publishers are not governed', async () => {
    const s = await pilotTenant({ priceCents: 4500, spendCapCents: 100_000 });
    const before = pilotCalls(s, 2, Date.parse(s.pilot.startsAt) - 10 * 60_000);
    const other = pilotCalls(s, 2, Date.now() - 5 * 60_000, s.tenant.numbers.second.number);
    await deliverConcurrently([...before, ...other].map((c) => records(c.events)));

    const ratings = await ratingsOf(before.map((c) => c.callId));
    expect(ratings.map((r) => r.reasons.join())).toEqual(['outside_window', 'outside_window']);
    expect(await counter(s)).toEqual({ spentCents: 0, billableCalls: 0, open: true });
    const charges = (await ledgerItemsOf(env, s.tenant.account.accountId)).filter((e) => e.type === 'charge');
    expect(charges.map((c) => c.callId).sort()).toEqual(other.map((c) => c.callId).sort());
    expect(charges.every((c) => c.pilotId === undefined)).toBe(true);
  });
});

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const next = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
