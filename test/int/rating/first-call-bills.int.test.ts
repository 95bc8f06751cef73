/**
 * The first call of a repeat caller bills, whatever the arrival order (shared/domain/rating/duplicate-window.ts), against
 * DynamoDB Local through the real writer and the real ledger routes. Two publishers' numbers on one campaign (24 h
 * window): E (publisher A) starts before L (publisher B), from the same caller, but L's final callback is rated first.
 * When E arrives it takes the charge: L's charge is reversed by a new `reversal` entry naming it, E is charged, L is
 * re-rated `duplicate_caller` with `priorCallId = E`, once, whatever redelivers. Then what happens when L was credited
 * (partly, fully), disputed, in a closed statement period, under a pilot; cascades; a marker of the old shape.
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportCallOf } from '../../../shared/adapters/reports/campaign-calls';
import { problemResponse } from '../../../shared/adapters/http/problems';
import { configItems, mainKeys } from '../../../shared/adapters/calls/main-repo';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { callerHash } from '../../../shared/domain/calls/caller';
import { campaignFromSeed } from '../../../shared/domain/catalog/config';
import type { PilotTerms } from '../../../shared/domain/pilots/caps';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import type { Campaign } from '../../../shared/domain/catalog/types';
import type { RecordedRating } from '../../../shared/domain/rating/decision';
import { createTenant, freshNumber, ledgerItemsOf, lifecycle, records, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';
import { request, routeDeps } from '../../support/ledger-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const HOUR = 3_600_000;
const PRICE = 4500;
const admin = (t: Tenant): ApiKeyRecord => ({ accountId: t.account.accountId, role: 'admin', label: 'finance@buyer' });

async function process(events: readonly CallStatusEvent[]): Promise<void> {
  const { failedMessageIds } = await processIngestBatch(records(events), env.writerDeps);
  expect(failedMessageIds).toEqual([]);
}

async function tenant(): Promise<Tenant> {
  return createTenant(env.config, { priceCents: PRICE, bufferSec: 60, duplicateWindowHours: 24 });
}

/** A 120 s completed call from `caller` to publisher A's (`a`) or B's (`b`) number, started at `startMs`. */
function callOf(t: Tenant, caller: string, publisher: 'a' | 'b', startMs: number) {
  const to = publisher === 'a' ? t.numbers.billable.number : t.numbers.second.number;
  return lifecycle({ accountId: t.account.accountId, from: caller, to, startMs, durationSec: 120 });
}

async function stored(callId: string) {
  return (await env.calls.getCall(callId, { consistent: true }))!;
}

function priorOf(rating: RecordedRating): unknown {
  return rating.recorded.priorBilled?.callId;
}

async function entries(t: Tenant) {
  return (await ledgerItemsOf(env, t.account.accountId)).sort((a, b) => String(a.entryId).localeCompare(String(b.entryId)));
}

/** Σ of the entries per call. */
async function netByCall(t: Tenant): Promise<Map<string, number>> {
  const net = new Map<string, number>();
  for (const e of await entries(t)) net.set(String(e.callId), (net.get(String(e.callId)) ?? 0) + Number(e.amountCents));
  return net;
}

async function verifyOk(t: Tenant, now = new Date()): Promise<void> {
  const res = await request(routeDeps(env, now), admin(t), 'GET', '/v1/ledger/verify');
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ ok: true, brokenLink: null, unhashedEntries: { count: 0 } });
}

/** A route's answer as the API gives it: a refusal is its problem+json (shared/adapters/http/problems.ts). */
async function answered(res: Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: unknown }> {
  try {
    return await res;
  } catch (err) {
    const out = problemResponse(err);
    return { status: out.statusCode ?? 500, body: JSON.parse(String(out.body)) };
  }
}

async function dispute(t: Tenant, callId: string, now = new Date()) {
  return answered(request(routeDeps(env, now), admin(t), 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId }, body: { reason: 'repeat_caller', note: 'same caller' } }));
}

async function resolve(t: Tenant, callId: string, body: object, now = new Date()) {
  return answered(request(routeDeps(env, now), admin(t), 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId: `dispute:${callId}` }, body }));
}

describe('a late earlier call takes the charge', () => {
  it('E after L: L reversed by one new entry naming its charge, E charged, L a duplicate of E; redeliveries change nothing', async () => {
    const t = await tenant();
    const caller = freshNumber();
    const t0 = Date.now() - 6 * HOUR;
    const e = callOf(t, caller, 'a', t0);
    const l = callOf(t, caller, 'b', t0 + 2 * HOUR);
    await process(l.events);
    expect((await stored(l.callId)).rating).toMatchObject({ billable: true, amountCents: PRICE });

    const before = new Date().toISOString();
    await process(e.events);
    const after = new Date().toISOString();

    const eCall = await stored(e.callId);
    const lCall = await stored(l.callId);
    expect(eCall.rating).toMatchObject({ billable: true, amountCents: PRICE, reasons: [] });
    expect(lCall.rating).toMatchObject({ billable: false, amountCents: 0, reasons: ['duplicate_caller'] });
    expect(priorOf(lCall.rating!)).toBe(e.callId);
    expect(lCall.reversals).toEqual({ chargeCents: PRICE, cents: -PRICE, count: 1 });
    // What the reports and the daily aggregates read of it: charged, reversed, net 0 (campaign-calls.ts).
    const report = reportCallOf(lCall, campaignFromSeed(t.campaign).termsVersions)!;
    expect(report).toMatchObject({ billable: false, amountCents: 0, reversedChargesCents: PRICE, reversalsCents: -PRICE, reasons: ['duplicate_caller'] });

    const ledger = await entries(t);
    expect(ledger.map((x) => [x.entryId, x.amountCents])).toEqual(
      [
        [`charge:${e.callId}`, PRICE],
        [`charge:${l.callId}`, PRICE],
        [`reversal:${l.callId}`, -PRICE],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const reversal = ledger.find((x) => x.type === 'reversal')!;
    expect(reversal).toMatchObject({
      callId: l.callId,
      publisherId: t.numbers.second.publisherId,
      campaignId: t.campaign.campaignId,
      termsVersion: 1,
      correctsEntryId: `charge:${l.callId}`,
      priorCallId: e.callId,
      contentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // Booked when written (the current period), not at L's start.
    expect(String(reversal.effectiveAt) >= before && String(reversal.effectiveAt) <= after).toBe(true);
    expect(reversal.sk).toBe(`${reversal.effectiveAt}#reversal:${l.callId}`);

    // The marker keeps both, E billed.
    const hash = callerHash(env.callerHashKey, caller);
    const marker = unmarshall(
      (await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(mainKeys.duplicate(t.account.accountId, t.campaign.campaignId, hash)), ConsistentRead: true }))).Item!,
    );
    expect(marker).toMatchObject({ v: 2, c: [{ i: e.callId, b: true, n: 1 }, { i: l.callId, n: 1 }] });
    expect(marker.c[1].b).toBeUndefined();

    // Redelivered, twice, concurrently: nothing moves.
    await Promise.all([process([...e.events, ...l.events]), process([...l.events].reverse()), process(e.events)]);
    expect((await entries(t)).map((x) => x.entryId)).toEqual(ledger.map((x) => x.entryId));
    await verifyOk(t);

    // Totals: publisher B nets 0 (charge and its reversal), publisher A one price.
    const totals = (publisherId: string) => env.ledger.totals({ accountId: t.account.accountId, publisherId });
    expect(await totals(t.numbers.second.publisherId)).toEqual({ chargesCents: PRICE, creditsCents: 0, reversalsCents: -PRICE, netCents: 0, count: 2 });
    expect(await totals(t.numbers.billable.publisherId)).toEqual({ chargesCents: PRICE, creditsCents: 0, reversalsCents: 0, netCents: PRICE, count: 1 });

    // Neither call can be disputed twice over: L's charge is gone (409 charge-reversed), E's is live.
    const refused = await dispute(t, l.callId);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ type: 'https://callledger.dev/problems/charge-reversed' });
    expect(JSON.stringify(refused.body)).not.toContain(caller.slice(2));
  });

  it('0 h, 40 h, then a late 10 h: 10 h is a duplicate of 0 h (the single-start marker let it bill)', async () => {
    const t = await tenant();
    const caller = freshNumber();
    const t0 = Date.now() - 50 * HOUR;
    const [c0, c10, c40] = [0, 10, 40].map((h) => callOf(t, caller, 'a', t0 + h * HOUR)) as [ReturnType<typeof callOf>, ReturnType<typeof callOf>, ReturnType<typeof callOf>];
    await process(c0.events);
    await process(c40.events);
    await process(c10.events);
    expect((await stored(c10.callId)).rating).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
    expect(priorOf((await stored(c10.callId)).rating!)).toBe(c0.callId);
    expect([...(await netByCall(t)).entries()].sort()).toEqual([
      [c0.callId, PRICE],
      [c40.callId, PRICE],
    ].sort());
  });

  it('cascade: 20 h billed, 40 h its duplicate; a late 0 h takes 20 h, so 40 h bills, in the same transaction', async () => {
    const t = await tenant();
    const caller = freshNumber();
    const t0 = Date.now() - 50 * HOUR;
    const [c0, c20, c40] = [0, 20, 40].map((h) => callOf(t, caller, h === 20 ? 'b' : 'a', t0 + h * HOUR)) as [ReturnType<typeof callOf>, ReturnType<typeof callOf>, ReturnType<typeof callOf>];
    await process(c20.events);
    await process(c40.events);
    expect(priorOf((await stored(c40.callId)).rating!)).toBe(c20.callId);
    await process(c0.events);
    expect((await stored(c0.callId)).rating).toMatchObject({ billable: true });
    expect((await stored(c20.callId)).rating).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
    expect(priorOf((await stored(c20.callId)).rating!)).toBe(c0.callId);
    expect((await stored(c40.callId)).rating).toMatchObject({ billable: true, amountCents: PRICE, reasons: [] });
    const net = await netByCall(t);
    expect([net.get(c0.callId), net.get(c20.callId), net.get(c40.callId)]).toEqual([PRICE, 0, PRICE]);
    expect((await entries(t)).map((x) => x.entryId)).toEqual([`charge:${c0.callId}`, `charge:${c20.callId}`, `charge:${c40.callId}`, `reversal:${c20.callId}`].sort());
    await verifyOk(t);
  });

  it('a marker of the old shape (one billed start) is read: the late earlier call still takes the charge', async () => {
    const t = await tenant();
    const caller = freshNumber();
    const t0 = Date.now() - 6 * HOUR;
    const e = callOf(t, caller, 'a', t0);
    const l = callOf(t, caller, 'b', t0 + 2 * HOUR);
    await process(l.events);
    const key = mainKeys.duplicate(t.account.accountId, t.campaign.campaignId, callerHash(env.callerHashKey, caller));
    const lStart = t0 + 2 * HOUR;
    // As the writer stored it before: {callId, billedStartMs, ttl = start + window + 1 day}.
    await env.clients.dynamodb.send(
      new PutItemCommand({ TableName: env.names.mainTable, Item: marshall({ ...key, callId: l.callId, billedStartMs: lStart, ttl: Math.ceil((lStart + 24 * HOUR + 24 * HOUR) / 1000) }) }),
    );
    await process(e.events);
    expect((await stored(l.callId)).rating).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
    expect([...(await netByCall(t)).entries()].sort()).toEqual([
      [e.callId, PRICE],
      [l.callId, 0],
    ].sort());
    const marker = unmarshall((await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(key), ConsistentRead: true }))).Item!);
    // Now of the new shape; the old call's price was learnt from its item when its charge was reversed.
    expect(marker).toMatchObject({ v: 1, c: [{ i: e.callId, b: true, p: PRICE }, { i: l.callId, p: PRICE, w: 24 }] });
    expect(marker.callId).toBeUndefined();
  });
});

describe('when L was credited, disputed, in a closed period', () => {
  it('partly credited: the reversal is what remains (charge − credit), so L nets exactly 0', async () => {
    const t = await tenant();
    const caller = freshNumber();
    const t0 = Date.now() - 6 * HOUR;
    const e = callOf(t, caller, 'a', t0);
    const l = callOf(t, caller, 'b', t0 + 2 * HOUR);
    await process(l.events);
    expect((await dispute(t, l.callId)).status).toBe(201);
    expect((await resolve(t, l.callId, { outcome: 'accepted', note: 'part', creditCents: 1000 })).status).toBe(200);
    await process(e.events);
    const byType = Object.fromEntries((await entries(t)).filter((x) => x.callId === l.callId).map((x) => [x.type, x.amountCents]));
    expect(byType).toEqual({ charge: PRICE, credit: -1000, reversal: -(PRICE - 1000) });
    expect((await netByCall(t)).get(l.callId)).toBe(0);
    expect((await stored(l.callId)).reversals).toEqual({ chargeCents: PRICE, cents: -(PRICE - 1000), count: 1 });
    // A repeated resolve answers from what is stored (the credit), and changes nothing.
    const again = await resolve(t, l.callId, { outcome: 'accepted', note: 'part', creditCents: 1000 });
    expect(again.status).toBe(200);
    expect((await netByCall(t)).get(l.callId)).toBe(0);
    await verifyOk(t);
  });

  it('fully credited: L no longer counts for the window; E bills and nothing of L is reversed', async () => {
    const t = await tenant();
    const caller = freshNumber();
    const t0 = Date.now() - 6 * HOUR;
    const e = callOf(t, caller, 'a', t0);
    const l = callOf(t, caller, 'b', t0 + 2 * HOUR);
    await process(l.events);
    expect((await dispute(t, l.callId)).status).toBe(201);
    expect((await resolve(t, l.callId, { outcome: 'accepted', note: 'full' })).status).toBe(200);
    await process(e.events);
    expect((await stored(e.callId)).rating).toMatchObject({ billable: true });
    expect((await entries(t)).filter((x) => x.type === 'reversal')).toEqual([]);
    const net = await netByCall(t);
    expect([net.get(e.callId), net.get(l.callId)]).toEqual([PRICE, 0]);
  });

  it('a full credit settles the window again: the first duplicate bills, a later billed call now within its window is reversed', async () => {
    const t = await tenant();
    const caller = freshNumber();
    const t0 = Date.now() - 40 * HOUR;
    // 0 h bills; 10 h is its duplicate; 30 h bills (30 h after 0 h). Crediting 0 h in full: 10 h bills, 30 h (20 h
    // after 10 h) becomes its duplicate.
    const [a, b, c] = [0, 10, 30].map((h) => callOf(t, caller, 'a', t0 + h * HOUR)) as [ReturnType<typeof callOf>, ReturnType<typeof callOf>, ReturnType<typeof callOf>];
    for (const x of [a, b, c]) await process(x.events);
    expect((await dispute(t, a.callId)).status).toBe(201);
    expect((await resolve(t, a.callId, { outcome: 'accepted', note: 'fraud' })).status).toBe(200);
    expect((await stored(b.callId)).rating).toMatchObject({ billable: true, reasons: [] });
    expect((await stored(c.callId)).rating).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
    expect(priorOf((await stored(c.callId)).rating!)).toBe(b.callId);
    const net = await netByCall(t);
    expect([net.get(a.callId), net.get(b.callId), net.get(c.callId)]).toEqual([0, PRICE, 0]);
    // Repeating the resolve (idempotent) re-runs the settling: nothing more.
    const count = (await entries(t)).length;
    expect((await resolve(t, a.callId, { outcome: 'accepted', note: 'fraud' })).status).toBe(200);
    expect((await entries(t)).length).toBe(count);
    await verifyOk(t);
  });

  it('disputed (open): the reversal takes it all; accepting afterwards is refused (charge-reversed), rejecting closes it', async () => {
    const t = await tenant();
    const caller = freshNumber();
    const t0 = Date.now() - 6 * HOUR;
    const e = callOf(t, caller, 'a', t0);
    const l = callOf(t, caller, 'b', t0 + 2 * HOUR);
    await process(l.events);
    expect((await dispute(t, l.callId)).status).toBe(201);
    await process(e.events);
    const accepted = await resolve(t, l.callId, { outcome: 'accepted', note: 'dup' });
    expect(accepted.status).toBe(409);
    expect(accepted.body).toMatchObject({ type: 'https://callledger.dev/problems/charge-reversed', status: 409 });
    expect(String((accepted.body as { detail: string }).detail)).toContain(`reversal:${l.callId}`);
    expect((await entries(t)).filter((x) => x.type === 'credit')).toEqual([]);
    const rejected = await resolve(t, l.callId, { outcome: 'rejected', note: 'reversed instead' });
    expect(rejected.status).toBe(200);
    expect((await netByCall(t)).get(l.callId)).toBe(0);
  });

  it('a credit and a reversal racing on the same charge: credits never exceed it, L nets 0 either way', async () => {
    for (let round = 0; round < 4; round++) {
      const t = await tenant();
      const caller = freshNumber();
      const t0 = Date.now() - 6 * HOUR;
      const e = callOf(t, caller, 'a', t0);
      const l = callOf(t, caller, 'b', t0 + 2 * HOUR);
      await process(l.events);
      expect((await dispute(t, l.callId)).status).toBe(201);
      const [resolved] = await Promise.all([resolve(t, l.callId, { outcome: 'accepted', note: 'race', creditCents: 2000 }), process(e.events)]);
      expect([200, 409]).toContain(resolved.status);
      const mine = (await entries(t)).filter((x) => x.callId === l.callId);
      const credits = mine.filter((x) => x.type === 'credit').reduce((s, x) => s + Number(x.amountCents), 0);
      const charges = mine.filter((x) => x.type === 'charge').reduce((s, x) => s + Number(x.amountCents), 0);
      expect(-credits).toBeLessThanOrEqual(charges);
      expect(mine.reduce((s, x) => s + Number(x.amountCents), 0)).toBe(0);
      expect(resolved.status === 200 ? -credits : 0).toBe(resolved.status === 200 ? 2000 : 0);
    }
  });

  it('in a closed statement period: the reversal is booked now; the past statement of L\'s publisher keeps its digest', async () => {
    const t = await tenant();
    const caller = freshNumber();
    // Two months back, mid-month (America/Chicago): both calls in that closed period.
    const past = new Date();
    past.setUTCMonth(past.getUTCMonth() - 2, 15);
    past.setUTCHours(18, 0, 0, 0);
    const e = callOf(t, caller, 'a', past.getTime());
    const l = callOf(t, caller, 'b', past.getTime() + 2 * HOUR);
    const period = past.toISOString().slice(0, 7);
    const now = new Date();
    const currentPeriod = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Chicago', year: 'numeric', month: '2-digit' }).format(now);
    const statementOf = async (publisherId: string, p: string) =>
      (await request(routeDeps(env, now), admin(t), 'GET', '/v1/statements', { query: { publisherId, period: p } })).body as {
        digest: { value: string };
        chargesCents: number;
        reversalsCents: number;
        netPayableCents: number;
      };
    await process(l.events);
    const issued = await statementOf(t.numbers.second.publisherId, period);
    expect(issued).toMatchObject({ chargesCents: PRICE, reversalsCents: 0, netPayableCents: PRICE });
    await process(e.events);
    expect(await statementOf(t.numbers.second.publisherId, period)).toEqual(issued);
    expect(await statementOf(t.numbers.second.publisherId, currentPeriod)).toMatchObject({ chargesCents: 0, reversalsCents: -PRICE, netPayableCents: -PRICE });
    expect(await statementOf(t.numbers.billable.publisherId, period)).toMatchObject({ chargesCents: PRICE, netPayableCents: PRICE });

    // B reconciles its current period: the reversal of the earlier period's charge is listed and counted.
    const rec = await request(routeDeps(env, now), admin(t), 'POST', '/v1/reconciliations', {
      query: { publisherId: t.numbers.second.publisherId, period: currentPeriod },
      body: 'call_id,amount\n',
      contentType: 'text/csv',
    });
    expect(rec.status).toBe(200);
    expect((rec.body as { report: unknown }).report).toMatchObject({
      reversalsOfEarlierCalls: [{ entryId: `reversal:${l.callId}`, callId: l.callId, amountCents: -PRICE, correctsEntryId: `charge:${l.callId}`, priorCallId: e.callId }],
      totals: { ourNetCents: -PRICE },
    });
    await verifyOk(t, now);
  });
});

describe('under a pilot', () => {
  /** A pilot on the given publishers of the tenant's campaign, window [now − 2 h, now + 1 h), cap `capCents`. */
  async function withPilot(t: Tenant, publisherIds: readonly string[], capCents: number, spentCents = 0): Promise<PilotTerms> {
    const now = Date.now();
    const pilot: PilotTerms = {
      pilotId: `pil-${t.account.accountId.slice(5)}`,
      publisherIds,
      startsAt: new Date(now - 2 * HOUR).toISOString(),
      endsAt: new Date(now + HOUR).toISOString(),
      spendCapCents: capCents,
      dailyCapCents: null,
      maxBillableCalls: null,
      timeZone: 'America/Chicago',
      createdAt: new Date(now - 3 * HOUR).toISOString(),
    };
    const campaign: Campaign = { ...campaignFromSeed(t.campaign), pilots: [pilot] };
    await env.config.putConfigItems([configItems.campaign(campaign)]);
    await env.clients.dynamodb.send(
      new PutItemCommand({
        TableName: env.names.mainTable,
        Item: marshall({ ...mainKeys.pilotCounter(t.account.accountId, pilot.pilotId), pilotId: pilot.pilotId, accountId: t.account.accountId, open: true, spentCents, billableCalls: spentCents / PRICE, spendCapCents: capCents, maxBillableCalls: null }),
      }),
    );
    return pilot;
  }

  async function counterOf(t: Tenant, pilot: PilotTerms) {
    const out = await env.clients.dynamodb.send(new GetItemCommand({ TableName: env.names.mainTable, Key: marshall(mainKeys.pilotCounter(t.account.accountId, pilot.pilotId)), ConsistentRead: true }));
    const item = unmarshall(out.Item!);
    return { spentCents: Number(item.spentCents), billableCalls: Number(item.billableCalls) };
  }

  it("L under the pilot, E not: the reversal gives L's spend back to the pilot's counter", async () => {
    const t = await tenant();
    const pilot = await withPilot(t, [t.numbers.second.publisherId], 10 * PRICE);
    const caller = freshNumber();
    const t0 = Date.now() - 90 * 60_000;
    const e = callOf(t, caller, 'a', t0);
    const l = callOf(t, caller, 'b', t0 + 30 * 60_000);
    await process(l.events);
    expect(await counterOf(t, pilot)).toEqual({ spentCents: PRICE, billableCalls: 1 });
    await process(e.events);
    expect(await counterOf(t, pilot)).toEqual({ spentCents: 0, billableCalls: 0 });
    const reversal = (await entries(t)).find((x) => x.type === 'reversal')!;
    expect(reversal).toMatchObject({ callId: l.callId, pilotId: pilot.pilotId });
    expect((await entries(t)).find((x) => x.entryId === `charge:${e.callId}`)?.pilotId).toBeUndefined();
    await verifyOk(t);
  });

  it('E and L under one pilot at its cap: E takes the charge (the counter is unchanged, never past the cap)', async () => {
    const t = await tenant();
    const pilot = await withPilot(t, [t.numbers.billable.publisherId, t.numbers.second.publisherId], PRICE);
    const caller = freshNumber();
    const t0 = Date.now() - 90 * 60_000;
    const e = callOf(t, caller, 'a', t0);
    const l = callOf(t, caller, 'b', t0 + 30 * 60_000);
    await process(l.events);
    await process(e.events);
    expect(await counterOf(t, pilot)).toEqual({ spentCents: PRICE, billableCalls: 1 });
    expect((await stored(e.callId)).rating).toMatchObject({ billable: true });
    expect((await stored(l.callId)).rating).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
  });

  it("E over its pilot's cap is not billable: L keeps its charge, E is over_cap", async () => {
    const t = await tenant();
    // E's publisher is piloted and its counter is full; L's is not piloted.
    const pilot = await withPilot(t, [t.numbers.billable.publisherId], PRICE, PRICE);
    const caller = freshNumber();
    const t0 = Date.now() - 90 * 60_000;
    const e = callOf(t, caller, 'a', t0);
    const l = callOf(t, caller, 'b', t0 + 30 * 60_000);
    await process(l.events);
    await process(e.events);
    expect((await stored(e.callId)).rating).toMatchObject({ billable: false, reasons: ['over_cap'] });
    expect((await stored(l.callId)).rating).toMatchObject({ billable: true, amountCents: PRICE });
    expect(await counterOf(t, pilot)).toEqual({ spentCents: PRICE, billableCalls: 1 });
    expect((await entries(t)).map((x) => x.entryId)).toEqual([`charge:${l.callId}`]);
  });

  it('a cascade charge its pilot refuses: that call is over_cap and leaves the window; the rest still settles', async () => {
    // A 1 h window. B (publisher B, +30 min) billed first; A (publisher A, piloted with a full counter, +65 min) is its
    // duplicate. X (publisher B, +0) arrives late: X bills, B becomes its duplicate, and A (65 min after X) would bill,
    // but its pilot refuses: A is over_cap.
    const t = await createTenant(env.config, { priceCents: PRICE, bufferSec: 60, duplicateWindowHours: 1 });
    const pilot = await withPilot(t, [t.numbers.billable.publisherId], PRICE, PRICE);
    const caller = freshNumber();
    const t0 = Date.now() - 100 * 60_000;
    const x = callOf(t, caller, 'b', t0);
    const b = callOf(t, caller, 'b', t0 + 30 * 60_000);
    const a = callOf(t, caller, 'a', t0 + 65 * 60_000);
    await process(b.events);
    await process(a.events);
    expect((await stored(a.callId)).rating).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
    await process(x.events);
    expect((await stored(x.callId)).rating).toMatchObject({ billable: true });
    expect((await stored(b.callId)).rating).toMatchObject({ billable: false, reasons: ['duplicate_caller'] });
    expect((await stored(a.callId)).rating).toMatchObject({ billable: false, reasons: ['over_cap'], recorded: { capRefusal: 'spend_cap' } });
    expect(await counterOf(t, pilot)).toEqual({ spentCents: PRICE, billableCalls: 1 });
    const net = await netByCall(t);
    expect([net.get(x.callId), net.get(b.callId), net.get(a.callId)]).toEqual([PRICE, 0, undefined]);
    await verifyOk(t);
  });
});
