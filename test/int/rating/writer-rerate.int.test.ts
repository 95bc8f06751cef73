/**
 * Re-rating (process-ingest-batch.ts `rerateCall`), against DynamoDB Local through the real writer and the real
 * dispute routes:
 * - after a full credit, the calls that were `duplicate_caller` only because of the credited call are re-rated in
 *   start order: the first bills (a new charge), later ones become its duplicates; repeating the resolve changes
 *   nothing; a partial credit re-rates nothing;
 * - talk time (durationBasis `talk`): the dialled child leg's duration (the longest of several), whichever of the
 *   parent's and the legs' final events arrives first; a leg that ends after the parent was rated re-rates it, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configItems } from '../../../shared/adapters/calls/main-repo';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { campaignFromSeed } from '../../../shared/domain/catalog/config';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import type { Campaign } from '../../../shared/domain/catalog/types';
import { createTenant, freshNumber, hex32, ledgerItemsOf, lifecycle, records, startCoreEnv, statusEvent, type CoreEnv, type Tenant } from '../../support/writer-fixtures';
import { request, routeDeps } from '../../support/ledger-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const MIN = 60_000;
const admin = (t: Tenant): ApiKeyRecord => ({ accountId: t.account.accountId, role: 'admin', label: 'finance@buyer' });

async function process(events: readonly CallStatusEvent[]): Promise<void> {
  const { failedMessageIds } = await processIngestBatch(records(events), env.writerDeps);
  expect(failedMessageIds).toEqual([]);
}

async function rating(callId: string) {
  return (await env.calls.getCall(callId, { consistent: true }))!.rating!;
}

async function charges(t: Tenant) {
  return (await ledgerItemsOf(env, t.account.accountId)).filter((e) => e.type === 'charge');
}

describe('re-rating after a full credit', () => {
  async function threeCallsFromOneCaller() {
    const t = await createTenant(env.config, { priceCents: 4500, bufferSec: 60, duplicateWindowHours: 72 });
    const caller = freshNumber();
    const to = t.numbers.billable.number;
    const t0 = Date.now() - 5 * 3_600_000;
    const a = lifecycle({ accountId: t.account.accountId, from: caller, to, startMs: t0, durationSec: 120 });
    const b = lifecycle({ accountId: t.account.accountId, from: caller, to, startMs: t0 + 60 * MIN, durationSec: 120 });
    const c = lifecycle({ accountId: t.account.accountId, from: caller, to, startMs: t0 + 120 * MIN, durationSec: 120 });
    // In order, so A bills and B, C are its duplicates.
    for (const call of [a, b, c]) await process(call.events);
    expect((await rating(b.callId)).reasons).toEqual(['duplicate_caller']);
    expect((await rating(c.callId)).reasons).toEqual(['duplicate_caller']);
    return { t, a, b, c };
  }

  it('bills the first duplicate, makes the next one its duplicate, and a repeated resolve changes nothing', async () => {
    const { t, a, b, c } = await threeCallsFromOneCaller();
    const deps = routeDeps(env, new Date());
    const opened = await request(deps, admin(t), 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId: a.callId }, body: { reason: 'fraud', note: 'ring' } });
    expect(opened.status).toBe(201);
    const disputeId = (opened.body as { disputeId: string }).disputeId;
    const resolve = () => request(deps, admin(t), 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId }, body: { outcome: 'accepted' } });
    expect((await resolve()).status).toBe(200);

    const bRating = await rating(b.callId);
    expect(bRating).toMatchObject({ billable: true, amountCents: 4500, reasons: [] });
    const cRating = await rating(c.callId);
    expect(cRating.reasons).toEqual(['duplicate_caller']);
    expect(cRating.recorded.priorBilled?.callId).toBe(b.callId);
    const ledger = await ledgerItemsOf(env, t.account.accountId);
    expect(ledger.filter((e) => e.type === 'charge').map((e) => e.callId).sort()).toEqual([a.callId, b.callId].sort());
    expect(ledger.filter((e) => e.type === 'credit').map((e) => [e.callId, e.amountCents])).toEqual([[a.callId, -4500]]);

    // Idempotent: the same resolve again, and a redelivery of B's final event, add nothing.
    expect((await resolve()).status).toBe(200);
    await process(b.events);
    expect((await charges(t)).map((e) => e.callId).sort()).toEqual([a.callId, b.callId].sort());
    expect((await rating(c.callId)).recorded.priorBilled?.callId).toBe(b.callId);
  });

  it('a partial credit re-rates nothing', async () => {
    const { t, a, b } = await threeCallsFromOneCaller();
    const deps = routeDeps(env, new Date());
    const opened = await request(deps, admin(t), 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId: a.callId }, body: { reason: 'other' } });
    const disputeId = (opened.body as { disputeId: string }).disputeId;
    const resolved = await request(deps, admin(t), 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId }, body: { outcome: 'accepted', creditCents: 1000 } });
    expect(resolved.status).toBe(200);
    expect((await rating(b.callId)).reasons).toEqual(['duplicate_caller']);
    expect((await charges(t)).map((e) => e.callId)).toEqual([a.callId]);
  });
});

describe('talk time from the dialled leg (durationBasis talk)', () => {
  async function talkTenant(): Promise<Tenant> {
    const t = await createTenant(env.config, { priceCents: 3000, bufferSec: 60 });
    const base = campaignFromSeed(t.campaign);
    const campaign: Campaign = { ...base, termsVersions: base.termsVersions.map((v) => ({ ...v, durationBasis: 'talk' as const })) };
    await env.config.putConfigItems([configItems.campaign(campaign)]);
    return t;
  }

  /** A parent call of `totalSec` and its dialled leg answered for `talkSec`, ending with the parent. */
  function callWithLeg(t: Tenant, totalSec: number, talkSec: number) {
    const startMs = Date.now() - 30 * MIN;
    const parent = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: t.numbers.billable.number, startMs, durationSec: totalSec });
    const legSid = `CA${hex32()}`;
    const leg = {
      ...statusEvent({
        accountId: t.account.accountId,
        callSid: legSid,
        status: 'completed',
        from: t.numbers.billable.number,
        to: '+15125559999',
        durationSec: talkSec,
        occurredAt: new Date(startMs + totalSec * 1000).toISOString(),
      }),
      direction: 'outbound-dial',
      parentCallId: parent.callId,
    } satisfies CallStatusEvent;
    return { parent, leg };
  }

  it('leg and parent in one batch: rated on the talk time', async () => {
    const t = await talkTenant();
    const { parent, leg } = callWithLeg(t, 200, 100);
    await process([...parent.events, leg]);
    expect(await rating(parent.callId)).toMatchObject({ billable: true, amountCents: 3000 });
    expect((await rating(parent.callId)).recorded?.talkSec).toBe(100);
    // The leg is not a call of its own.
    expect(await env.calls.getCall(leg.callId)).toBeNull();
  });

  it('the leg first, then the parent: the parent reads the stored leg', async () => {
    const t = await talkTenant();
    const { parent, leg } = callWithLeg(t, 200, 100);
    await process([leg]);
    await process(parent.events);
    expect(await rating(parent.callId)).toMatchObject({ billable: true, amountCents: 3000 });
  });

  it('the parent first (below_buffer without talk), then the leg: re-rated once, one charge, whatever redelivers', async () => {
    const t = await talkTenant();
    const { parent, leg } = callWithLeg(t, 200, 100);
    await process(parent.events);
    expect((await rating(parent.callId)).reasons).toEqual(['below_buffer']);
    expect(await charges(t)).toHaveLength(0);
    await process([leg]);
    expect(await rating(parent.callId)).toMatchObject({ billable: true, amountCents: 3000, reasons: [] });
    await process([leg]);
    await process(parent.events);
    expect((await charges(t)).map((c) => c.callId)).toEqual([parent.callId]);
  });

  it('the parent first, then the leg delivered with another event of the call: re-rated on the talk time', async () => {
    const t = await talkTenant();
    const { parent, leg } = callWithLeg(t, 200, 100);
    await process(parent.events);
    expect((await rating(parent.callId)).reasons).toEqual(['below_buffer']);
    // A redelivered non-final event of the parent in the same batch as the leg: not "only the leg's events".
    const ringing = parent.events.find((e) => e.status !== 'completed')!;
    await process([ringing, leg]);
    expect(await rating(parent.callId)).toMatchObject({ billable: true, amountCents: 3000, reasons: [] });
    expect((await charges(t)).map((c) => c.callId)).toEqual([parent.callId]);
  });

  it('the leg stored while the parent is being rated (its re-rating finds no rating yet): the parent looks again', async () => {
    const t = await talkTenant();
    const { parent, leg } = callWithLeg(t, 200, 100);
    // The parent's rating reads the stored item (no leg yet); before it commits, another writer stores the leg and
    // tries to re-rate a call that is not rated yet.
    let raced = false;
    const calls = Object.create(env.writerDeps.calls) as typeof env.writerDeps.calls;
    calls.getCall = async (callId, options) => {
      const read = await env.writerDeps.calls.getCall(callId, options);
      if (!raced && callId === parent.callId) {
        raced = true;
        await process([leg]);
      }
      return read;
    };
    const { failedMessageIds } = await processIngestBatch(records(parent.events), { ...env.writerDeps, calls });
    expect(failedMessageIds).toEqual([]);
    expect(raced).toBe(true);
    expect(await rating(parent.callId)).toMatchObject({ billable: true, amountCents: 3000, reasons: [] });
    expect((await charges(t)).map((c) => c.callId)).toEqual([parent.callId]);
  });

  it('a busy leg (0 s) rated with the parent while the answered leg is stored by another writer: the parent looks again', async () => {
    const t = await talkTenant();
    const { parent, leg } = callWithLeg(t, 200, 100);
    // The first target's leg: reported completed with 0 s (Vonage, TeXML report a busy leg so). Known talk, but not all.
    const busy = { ...leg, callId: `twilio:CA${hex32()}`, durationSec: 0 } satisfies CallStatusEvent;
    const busyLeg = { ...busy, eventId: `${busy.callId}:status:completed` };
    let raced = false;
    const calls = Object.create(env.writerDeps.calls) as typeof env.writerDeps.calls;
    calls.getCall = async (callId, options) => {
      const read = await env.writerDeps.calls.getCall(callId, options);
      if (!raced && callId === parent.callId) {
        raced = true;
        await process([leg]);
      }
      return read;
    };
    const { failedMessageIds } = await processIngestBatch(records([...parent.events, busyLeg]), { ...env.writerDeps, calls });
    expect(failedMessageIds).toEqual([]);
    expect(raced).toBe(true);
    expect(await rating(parent.callId)).toMatchObject({ billable: true, amountCents: 3000, reasons: [] });
    expect((await rating(parent.callId)).recorded?.talkSec).toBe(100);
    expect((await charges(t)).map((c) => c.callId)).toEqual([parent.callId]);
  });

  it('rated on a busy leg (0 s), then the answered leg delivered with a redelivered terminal of the call: re-rated on the talk time', async () => {
    const t = await talkTenant();
    const { parent, leg } = callWithLeg(t, 200, 100);
    const busy = { ...leg, callId: `twilio:CA${hex32()}`, durationSec: 0 } satisfies CallStatusEvent;
    const busyLeg = { ...busy, eventId: `${busy.callId}:status:completed` };
    await process([...parent.events, busyLeg]);
    expect((await rating(parent.callId)).reasons).toEqual(['below_buffer']);
    const terminal = parent.events.find((e) => e.status === 'completed')!;
    await process([terminal, leg]);
    expect(await rating(parent.callId)).toMatchObject({ billable: true, amountCents: 3000, reasons: [] });
    expect((await charges(t)).map((c) => c.callId)).toEqual([parent.callId]);
  });

  it('a short conversation stays below the buffer, however long the caller waited', async () => {
    const t = await talkTenant();
    const { parent, leg } = callWithLeg(t, 300, 30);
    await process(parent.events);
    await process([leg]);
    const r = await rating(parent.callId);
    expect(r.reasons).toEqual(['below_buffer']);
    expect(r.recorded?.talkSec).toBe(30);
    expect(await charges(t)).toHaveLength(0);
  });
});
