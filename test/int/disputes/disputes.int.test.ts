/**
 * Disputes, credits and statements through LEDGER_ROUTES against DynamoDB Local: the credit is written in one
 * transaction with the dispute, at most once per charge, whatever the retries and races; refusals are precise
 * problems; a statement nets charges and credits of the account-time-zone month.
 */
import { PROBLEM, problemType, rejection } from '../../support/problems';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dispute } from '../../../shared/domain/disputes/disputes';
import { statementDigest } from '../../../shared/domain/ledger/statements';
import type { LedgerEntry } from '../../../shared/domain/ledger/entries';
import { entryHash } from '../../../shared/domain/ledger/tamper';
import { ledgerItemsOf, startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';
import { PRICE, commitCall, createLedger3Tenant, request, routeDeps, type Ledger3Tenant } from '../../support/ledger-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const DAY = 86_400_000;
const NOW = new Date('2026-11-25T18:00:00.000Z');
const POLICY = { disputeWindowDays: 7, allowedReasons: ['fraud', 'robocall', 'other'] as const };

async function tenant(): Promise<Ledger3Tenant> {
  return createLedger3Tenant(env, { disputeWindowDays: POLICY.disputeWindowDays, allowedReasons: [...POLICY.allowedReasons] });
}

const open = (t: Ledger3Tenant, callId: string, body: object, principal = t.admin) =>
  request(routeDeps(env, NOW), principal, 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId }, body });
const resolve = (t: Ledger3Tenant, disputeId: string, body: object, now = NOW) =>
  request(routeDeps(env, now), t.admin, 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId }, body });

async function creditsOf(accountId: string): Promise<Record<string, unknown>[]> {
  return (await ledgerItemsOf(env, accountId)).filter((i) => i.type === 'credit');
}

describe('disputes and credits', () => {
  it('an accepted dispute appends exactly one credit, in one transaction with the dispute, idempotently', async () => {
    const t = await tenant();
    const call = await commitCall(env, t, { publisherId: t.strictPublisher, startMs: NOW.getTime() - 2 * DAY });

    const opened = await open(t, call.callId, { reason: 'fraud', note: 'same caller, 40 calls' });
    expect(opened.status).toBe(201);
    const dispute = opened.body as Dispute;
    expect(dispute).toMatchObject({ disputeId: `dispute:${call.callId}`, status: 'open', chargeCents: PRICE, publisherId: t.strictPublisher });
    expect(dispute.openedBy).toBe(`finance-bot (admin) @ ${t.accountId}`);
    expect(await creditsOf(t.accountId)).toEqual([]);

    const later = new Date(NOW.getTime() + 3_600_000);
    const first = await resolve(t, dispute.disputeId, { outcome: 'accepted', note: 'confirmed' }, later);
    expect(first.status).toBe(200);
    const body = first.body as { dispute: Dispute; credit: LedgerEntry };
    expect(body.dispute).toMatchObject({ status: 'accepted', creditCents: PRICE, resolvedAt: later.toISOString() });
    expect(body.dispute.history.map((h) => [h.status, h.by])).toEqual([
      ['open', `finance-bot (admin) @ ${t.accountId}`],
      ['accepted', `finance-bot (admin) @ ${t.accountId}`],
    ]);
    expect(body.credit).toMatchObject({ entryId: `credit:${call.callId}`, amountCents: -PRICE, effectiveAt: call.charge!.effectiveAt, correctsEntryId: call.charge!.entryId });

    // The identical retry answers the same, a different outcome is 409, and concurrent accepts race harmlessly.
    const retry = await resolve(t, dispute.disputeId, { outcome: 'accepted', note: 'confirmed' });
    expect(retry.body).toEqual(first.body);
    expect(await rejection(resolve(t, dispute.disputeId, { outcome: 'rejected', note: 'changed my mind' }))).toMatchObject({ status: 409, type: problemType('already-resolved') });
    const raced = await Promise.allSettled([1, 2, 3, 4].map(() => resolve(t, dispute.disputeId, { outcome: 'accepted', note: 'confirmed' })));
    expect(raced.every((r) => r.status === 'fulfilled')).toBe(true);

    const credits = await creditsOf(t.accountId);
    expect(credits).toHaveLength(1);
    expect(credits[0]).toMatchObject({ sk: `${call.charge!.effectiveAt}#credit:${call.callId}`, amountCents: -PRICE, disputeId: dispute.disputeId });
    const { pk: _pk, sk: _sk, contentHash, ...entry } = credits[0]!;
    expect(contentHash).toBe(entryHash(entry as unknown as LedgerEntry));
  });

  it('races of accepting a fresh dispute still write one credit', async () => {
    const t = await tenant();
    const call = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: NOW.getTime() - DAY });
    await open(t, call.callId, { reason: 'repeat_caller', note: '' });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => resolve(t, `dispute:${call.callId}`, { outcome: 'accepted', note: 'race', creditCents: 1200 })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(6);
    const credits = await creditsOf(t.accountId);
    expect(credits.map((c) => c.amountCents)).toEqual([-1200]);
  });

  it('a rejected dispute writes no credit and keeps who rejected it', async () => {
    const t = await tenant();
    const call = await commitCall(env, t, { publisherId: t.strictPublisher, startMs: NOW.getTime() - DAY });
    await open(t, call.callId, { reason: 'robocall', note: 'sounded automated' });
    const out = await resolve(t, `dispute:${call.callId}`, { outcome: 'rejected', note: 'human on the recording' });
    expect(out.body).toMatchObject({ dispute: { status: 'rejected', resolvedBy: `finance-bot (admin) @ ${t.accountId}` }, credit: null });
    expect(await creditsOf(t.accountId)).toEqual([]);
    expect(await rejection(resolve(t, `dispute:${call.callId}`, { outcome: 'accepted', note: '' }))).toMatchObject({ status: 409, type: problemType('already-resolved') });
    expect(await creditsOf(t.accountId)).toEqual([]);
  });

  it('refuses outside the window, reasons the policy does not allow, unbilled and unknown calls', async () => {
    const t = await tenant();
    const old = await commitCall(env, t, { publisherId: t.strictPublisher, startMs: NOW.getTime() - 8 * DAY });
    const err = await rejection(open(t, old.callId, { reason: 'fraud', note: '' }));
    expect(err).toMatchObject({ status: 422, type: problemType('outside-window') });
    expect(err.detail).toMatch(/window \(7 days\) closed at/);

    // The default policy (no publisher item) allows 30 days and every reason.
    const oldDefault = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: NOW.getTime() - 8 * DAY });
    expect((await open(t, oldDefault.callId, { reason: 'wrong_number', note: '' })).status).toBe(201);

    const recent = await commitCall(env, t, { publisherId: t.strictPublisher, startMs: NOW.getTime() - DAY });
    const reasonErr = await rejection(open(t, recent.callId, { reason: 'below_buffer', note: '' }));
    expect(reasonErr).toMatchObject({ status: 422, type: problemType('reason-not-allowed') });
    expect(reasonErr.errors).toEqual([{ field: 'reason', message: 'must be one of fraud, robocall, other' }]);

    const unbilled = await commitCall(env, t, { publisherId: t.strictPublisher, startMs: NOW.getTime() - DAY, durationSec: 20, reasons: ['below_buffer'] });
    const unbilledErr = await rejection(open(t, unbilled.callId, { reason: 'fraud', note: '' }));
    expect(unbilledErr).toMatchObject({ status: 422, type: problemType('not-billed') });
    expect(unbilledErr.detail).toBe(`Call ${unbilled.callId} has no charge to dispute.`);

    expect(await rejection(open(t, 'twilio:CA0000000000000000000000000000dead', { reason: 'fraud', note: '' }))).toMatchObject(PROBLEM.NotFound);
    expect(await rejection(open(t, recent.callId, { reason: 'not-a-reason' }))).toMatchObject(PROBLEM.BadRequest);
    expect(await creditsOf(t.accountId)).toEqual([]);
  });

  it("scopes disputes to the key: another account's call and dispute are 404 as missing ones, an analyst may only read", async () => {
    const t = await tenant();
    const other = await tenant();
    const call = await commitCall(env, t, { publisherId: t.strictPublisher, startMs: NOW.getTime() - DAY });
    expect(await rejection(open(t, call.callId, { reason: 'fraud', note: '' }, other.admin))).toMatchObject({ status: 404, detail: 'No such call.' });
    expect(await rejection(open(t, call.callId, { reason: 'fraud', note: '' }, t.analyst))).toMatchObject(PROBLEM.Forbidden);
    expect((await open(t, call.callId, { reason: 'fraud', note: 'x' })).status).toBe(201);
    // Same request again: 200 with the stored dispute; another reason: 409.
    expect((await open(t, call.callId, { reason: 'fraud', note: 'x' })).status).toBe(200);
    expect(await rejection(open(t, call.callId, { reason: 'robocall', note: 'x' }))).toMatchObject({ status: 409, type: problemType('already-disputed') });
    expect(await rejection(resolve(other, `dispute:${call.callId}`, { outcome: 'accepted', note: '' }))).toMatchObject(PROBLEM.NotFound);

    const listed = await request(routeDeps(env, NOW), t.analyst, 'GET', '/v1/disputes', { query: { status: 'open' } });
    expect((listed.body as { disputes: Dispute[] }).disputes.map((d) => d.callId)).toEqual([call.callId]);
    const none = await request(routeDeps(env, NOW), t.analyst, 'GET', '/v1/disputes', { query: { status: 'accepted' } });
    expect((none.body as { disputes: Dispute[] }).disputes).toEqual([]);
    const otherList = await request(routeDeps(env, NOW), other.admin, 'GET', '/v1/disputes', {});
    expect((otherList.body as { disputes: Dispute[] }).disputes).toEqual([]);
  });

  it('pages disputes with a cursor', async () => {
    const t = await tenant();
    const calls = await Promise.all([1, 2, 3].map((h) => commitCall(env, t, { publisherId: t.defaultPublisher, startMs: NOW.getTime() - h * 3_600_000 })));
    for (const c of calls) await open(t, c.callId, { reason: 'other', note: '' });
    const deps = routeDeps(env, NOW);
    const page1 = (await request(deps, t.analyst, 'GET', '/v1/disputes', { query: { limit: '2' } })).body as { disputes: Dispute[]; cursor: string };
    expect(page1.disputes).toHaveLength(2);
    const page2 = (await request(deps, t.analyst, 'GET', '/v1/disputes', { query: { limit: '2', cursor: page1.cursor } })).body as {
      disputes: Dispute[];
      cursor: string | null;
    };
    expect(page2.cursor).toBeNull();
    expect([...page1.disputes, ...page2.disputes].map((d) => d.callId).sort()).toEqual(calls.map((c) => c.callId).sort());
  });
});

describe('statements', () => {
  it('nets charges and credits of the account-time-zone month and digests its entries', async () => {
    const t = await tenant();
    const at = (iso: string) => Date.parse(iso);
    // America/Chicago: November 2026 is [2026-11-01T05:00Z, 2026-12-01T06:00Z).
    const inside = await Promise.all(
      ['2026-11-01T05:00:00.000Z', '2026-11-12T15:00:00.000Z', '2026-11-20T15:00:00.000Z', '2026-12-01T05:59:59.000Z'].map((iso) =>
        commitCall(env, t, { publisherId: t.defaultPublisher, startMs: at(iso) }),
      ),
    );
    const outside = await Promise.all(
      ['2026-11-01T04:59:59.000Z', '2026-12-01T06:00:00.000Z'].map((iso) => commitCall(env, t, { publisherId: t.defaultPublisher, startMs: at(iso) })),
    );
    const otherPublisher = await commitCall(env, t, { publisherId: t.strictPublisher, startMs: at('2026-11-20T16:00:00.000Z') });
    // Credits: full on one November call, partial on another (resolved in December: booked in November).
    const decemberNow = new Date('2026-12-03T12:00:00.000Z');
    for (const [call, creditCents] of [[inside[1]!, PRICE], [inside[2]!, 1000]] as const) {
      await request(routeDeps(env, decemberNow), t.admin, 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId: call.callId }, body: { reason: 'fraud' } });
      await resolve(t, `dispute:${call.callId}`, { outcome: 'accepted', note: '', creditCents }, decemberNow);
    }
    expect(outside).toHaveLength(2);
    expect(otherPublisher.charge).not.toBeNull();

    const out = await request(routeDeps(env, decemberNow), t.analyst, 'GET', '/v1/statements', { query: { publisherId: t.defaultPublisher, period: '2026-11' } });
    expect(out.status).toBe(200);
    const expectedEntries = (await ledgerItemsOf(env, t.accountId))
      .filter((i) => i.publisherId === t.defaultPublisher && inside.some((c) => c.callId === i.callId))
      .map(({ pk: _pk, sk: _sk, contentHash: _h, ...e }) => e as unknown as LedgerEntry);
    expect(expectedEntries).toHaveLength(6);
    expect(out.body).toEqual({
      period: '2026-11',
      timeZone: 'America/Chicago',
      publisherId: t.defaultPublisher,
      startAt: '2026-11-01T05:00:00.000Z',
      endAt: '2026-12-01T06:00:00.000Z',
      chargesCents: 4 * PRICE,
      creditsCents: -(PRICE + 1000),
      reversalsCents: 0,
      netPayableCents: 4 * PRICE - PRICE - 1000,
      entryCount: 6,
      digest: { algorithm: 'sha256/callledger-statement-lines-v1', value: statementDigest(expectedEntries) },
    });

    // All publishers of the account, and the precise 400s.
    const all = (await request(routeDeps(env, decemberNow), t.analyst, 'GET', '/v1/statements', { query: { period: '2026-11' } })).body as { chargesCents: number; entryCount: number };
    expect(all).toMatchObject({ chargesCents: 5 * PRICE, entryCount: 7 });
    expect(await rejection(request(routeDeps(env, NOW), t.analyst, 'GET', '/v1/statements', { query: { period: '2026-13' } }))).toMatchObject(PROBLEM.BadRequest);
    expect(await rejection(request(routeDeps(env, NOW), t.analyst, 'GET', '/v1/statements', {}))).toMatchObject(PROBLEM.BadRequest);
  });
});
