/**
 * Invoice reconciliation and ledger verification through LEDGER_ROUTES against DynamoDB Local: a crafted invoice
 * with one of every planted mismatch, disputes opened from it; direct edits and deletions of ledger items behind
 * the API, reported by GET /v1/ledger/verify.
 */
import { rejection, PROBLEM } from '../../support/problems';
import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerRepo } from '../../../shared/adapters/ledger/ledger-repo';
import { sealLedger, type VerifyResponse } from '../../../shared/app/ledger/verify';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import type { ReconciliationResponse } from '../../../shared/app/reconciliation/reconciliations';
import type { LedgerEntry } from '../../../shared/domain/ledger/entries';
import { BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType, Unprocessable } from '../../../shared/domain/kernel/problems';
import { entryHash } from '../../../shared/domain/ledger/tamper';
import type { ReasonCode } from '../../../shared/domain/rating/decision';
import { createTenant, freshNumber, hex32, ledgerItemsOf, lifecycle, records, startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';
import { PRICE, commitCall, createLedger3Tenant, request, routeDeps, type Ledger3Tenant } from '../../support/ledger-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

const NOW = new Date('2026-11-25T18:00:00.000Z');
const tenant = (): Promise<Ledger3Tenant> => createLedger3Tenant(env, { disputeWindowDays: 7, allowedReasons: ['fraud'] });

/** `+15125550123` → `(512) 555-0123`, as a publisher's spreadsheet would write it. */
const national = (e164: string) => `(${e164.slice(2, 5)}) ${e164.slice(5, 8)}-${e164.slice(8)}`;

describe('POST /v1/reconciliations', () => {
  it('finds every planted mismatch and opens disputes where we hold a charge', async () => {
    const t = await tenant();
    const pub = t.defaultPublisher;
    const call = (iso: string, extra: { durationSec?: number; reasons?: ReasonCode[] } = {}) =>
      commitCall(env, t, { publisherId: pub, startMs: Date.parse(iso), ...extra });
    const byId = await call('2026-11-10T15:00:00.000Z');
    const byCaller = await call('2026-11-20T15:00:00.000Z');
    const unbillable = await call('2026-11-11T15:00:00.000Z', { durationSec: 20, reasons: ['below_buffer'] });
    const overbilled = await call('2026-11-12T15:00:00.000Z');
    const notInvoiced = await call('2026-11-13T15:00:00.000Z');
    const credited = await call('2026-11-14T15:00:00.000Z');
    const elsewhere = await commitCall(env, t, { publisherId: t.strictPublisher, startMs: Date.parse('2026-11-15T15:00:00.000Z') });
    const deps = routeDeps(env, NOW);
    await request(deps, t.admin, 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId: credited.callId }, body: { reason: 'fraud' } });
    await request(deps, t.admin, 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId: `dispute:${credited.callId}` }, body: { outcome: 'accepted' } });

    const unknownSid = `CA${hex32()}`;
    const csv = [
      'Call ID,Caller,Start Time,Payout', //                                   record 1
      `${byId.callSid},,,$45.00`, //                                            2 matched by id
      `,${national(byCaller.caller)},11/20/2026 09:00:40 AM,45`, //            3 matched by caller + local time (CST)
      `${unbillable.callSid},,,45.00`, //                                       4 billed, we rated below_buffer
      `${overbilled.callSid},,,"$60.00"`, //                                    5 amount mismatch
      `${credited.callSid},,,45.00`, //                                         6 mismatch: credited in full
      `${unknownSid},,,45.00`, //                                               7 not ours
      `,${national(byCaller.caller)},11/21/2026 09:00:00 AM,45.00`, //         8 no call near that time
      `${byId.callSid},,,45.00`, //                                             9 billed twice
      `${elsewhere.callSid},,,45.00`, //                                        10 another publisher's call
      `${notInvoiced.callSid},,,lots`, //                                       11 unreadable amount
    ].join('\r\n');

    const out = await request(deps, t.admin, 'POST', '/v1/reconciliations', {
      query: { publisherId: pub, period: '2026-11', openDisputes: 'true' },
      body: csv,
      contentType: 'text/csv; charset=utf-8',
    });
    expect(out.status).toBe(200);
    const body = out.body as ReconciliationResponse;
    expect(body).toMatchObject({ publisherId: pub, timeZone: 'America/Chicago', from: '2026-11-01T05:00:00.000Z', to: '2026-12-01T06:00:00.000Z', amountUnit: 'dollars' });
    const r = body.report;
    expect(r.matched).toEqual([
      { lineNo: 2, callId: byId.callId, amountCents: PRICE, matchedBy: 'call_id' },
      { lineNo: 3, callId: byCaller.callId, amountCents: PRICE, matchedBy: 'caller_time' },
    ]);
    expect(r.nonBillable).toEqual([
      { lineNo: 4, callId: unbillable.callId, billedCents: 4500, reasons: ['below_buffer'], disputeReason: 'below_buffer', matchedBy: 'call_id' },
    ]);
    expect(r.amountMismatches).toEqual([
      { lineNo: 5, callId: overbilled.callId, billedCents: 6000, ourNetCents: PRICE, ourChargeCents: PRICE, ourCreditCents: 0, ourReversalCents: 0, matchedBy: 'call_id' },
      { lineNo: 6, callId: credited.callId, billedCents: 4500, ourNetCents: 0, ourChargeCents: PRICE, ourCreditCents: -PRICE, ourReversalCents: 0, matchedBy: 'call_id' },
    ]);
    expect(r.duplicateLines).toEqual([{ lineNo: 9, callId: byId.callId, firstLineNo: 2 }]);
    expect(r.missingOnOurSide).toEqual([
      { lineNo: 7, billedCents: 4500, reason: 'unknown_call_id' },
      { lineNo: 8, billedCents: 4500, reason: 'no_call_near_time' },
      { lineNo: 10, billedCents: 4500, reason: 'unknown_call_id' },
    ]);
    expect(r.missingOnTheirSide).toEqual([{ callId: notInvoiced.callId, ourNetCents: PRICE }]);
    expect(r.unreadable).toEqual([{ lineNo: 11, field: 'amount', message: 'is not an amount in dollars' }]);
    // No caller number leaves the API.
    expect(JSON.stringify(body)).not.toContain(byCaller.caller.slice(2));

    // Disputes for the mismatches we charged: one opened, one refused (already disputed and credited).
    expect(body.disputes).toEqual([
      { lineNo: 5, callId: overbilled.callId, outcome: 'opened', disputeId: `dispute:${overbilled.callId}` },
      { lineNo: 6, callId: credited.callId, outcome: 'refused', status: 409, detail: expect.stringContaining('already disputed') },
    ]);
    // Re-running the same reconciliation answers with the dispute it opened.
    const again = (await request(deps, t.admin, 'POST', '/v1/reconciliations', {
      query: { publisherId: pub, period: '2026-11', openDisputes: 'true' },
      body: csv,
      contentType: 'text/csv',
    })).body as ReconciliationResponse;
    expect(again.disputes?.[0]).toEqual({ lineNo: 5, callId: overbilled.callId, outcome: 'already_open', disputeId: `dispute:${overbilled.callId}` });
    const open = (await request(deps, t.analyst, 'GET', '/v1/disputes', { query: { status: 'open' } })).body as { disputes: { callId: string; note: string }[] };
    expect(open.disputes).toEqual([expect.objectContaining({ callId: overbilled.callId, note: 'Invoice line 5 billed 6000 cents; our net for this call is 4500 cents.' })]);
  });

  it('answers precise problems for a bad request', async () => {
    const t = await tenant();
    const deps = routeDeps(env, NOW);
    const post = (query: Record<string, string>, body: string, contentType = 'text/csv', principal = t.admin) =>
      request(deps, principal, 'POST', '/v1/reconciliations', { query, body, contentType });
    const csv = 'call id,amount\nCA1,45';
    expect(await rejection(post({ period: '2026-11' }, csv))).toMatchObject({ status: 400, errors: [{ field: 'publisherId', message: 'is required' }] });
    expect(await rejection(post({ publisherId: 'pub-x' }, csv))).toMatchObject(PROBLEM.BadRequest);
    expect(await rejection(post({ publisherId: 'pub-x', period: '2026-11', from: '2026-11-01T00:00:00Z' }, csv))).toMatchObject(PROBLEM.BadRequest);
    await expect(post({ publisherId: 'pub-x', from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }, csv)).rejects.toMatchObject({
      errors: [{ field: 'to', message: 'must be after from' }],
    });
    expect(await rejection(post({ publisherId: 'pub-x', period: '2026-11' }, csv, 'application/json'))).toMatchObject(PROBLEM.UnsupportedMediaType);
    expect(await rejection(post({ publisherId: 'pub-x', period: '2026-11' }, 'x'.repeat(5 * 1024 * 1024 + 1)))).toMatchObject(PROBLEM.PayloadTooLarge);
    expect(await rejection(post({ publisherId: 'pub-x', period: '2026-11' }, 'no,header\n1,2'))).toMatchObject(PROBLEM.Unprocessable);
    expect(await rejection(post({ publisherId: 'pub-x', period: '2026-11', openDisputes: 'true' }, csv, 'text/csv', t.analyst))).toMatchObject(PROBLEM.Forbidden);
    // An analyst may reconcile without opening disputes; from/to instead of a period.
    const ok = await post({ publisherId: 'pub-x', from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z' }, csv, 'text/csv', t.analyst);
    expect((ok.body as ReconciliationResponse).report.missingOnOurSide).toEqual([{ lineNo: 2, billedCents: 4500, reason: 'unknown_call_id' }]);
  });
});

describe('GET /v1/ledger/verify', () => {
  const verify = async (t: Ledger3Tenant) => (await request(routeDeps(env, NOW), t.analyst, 'GET', '/v1/ledger/verify')).body as VerifyResponse;
  const ledgerKey = (item: Record<string, unknown>) => marshall({ pk: item.pk, sk: item.sk });
  /** A scanned ledger item as the entry it stores (no keys, no hash). */
  const entryOf = (item: Record<string, unknown>): LedgerEntry => {
    const { pk: _pk, sk: _sk, contentHash: _hash, ...entry } = item;
    return entry as unknown as LedgerEntry;
  };

  it('reports a direct edit of a hashed entry as the first broken link, and counts legacy entries without a hash', async () => {
    const t = await tenant();
    const hashed = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: Date.parse('2026-11-20T15:00:00.000Z') });
    const unhashed = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: Date.parse('2026-11-21T15:00:00.000Z'), legacyUnhashed: true });
    const deps = routeDeps(env, NOW);
    await request(deps, t.admin, 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId: unhashed.callId }, body: { reason: 'other' } });
    await request(deps, t.admin, 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId: `dispute:${unhashed.callId}` }, body: { outcome: 'accepted', creditCents: 500 } });

    expect(await verify(t)).toMatchObject({
      ok: true,
      brokenLink: null,
      checkedEntries: 3,
      checkedSeals: 0,
      unsealedEntries: 3,
      unhashedEntries: { count: 1, entryIds: [`charge:${unhashed.callId}`] },
    });

    // Someone with table access lowers the credit behind the API.
    const credit = (await ledgerItemsOf(env, t.accountId)).find((i) => i.type === 'credit')!;
    await env.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: env.names.ledgerTable,
        Key: ledgerKey(credit),
        UpdateExpression: 'SET amountCents = :a',
        ExpressionAttributeValues: { ':a': { N: '-50' } },
      }),
    );
    const report = await verify(t);
    expect(report.ok).toBe(false);
    expect(report.brokenLink).toEqual({
      kind: 'entry_hash',
      entryId: `credit:${unhashed.callId}`,
      expected: entryHash({ ...entryOf(credit), amountCents: -50 }),
      actual: credit.contentHash,
    });
    expect(credit.contentHash).toBe(entryHash(entryOf(credit)));

    // And the hashed charge, edited too, breaks first (time order).
    const charge = (await ledgerItemsOf(env, t.accountId)).find((i) => i.entryId === `charge:${hashed.callId}`)!;
    await env.clients.dynamodb.send(
      new UpdateItemCommand({ TableName: env.names.ledgerTable, Key: ledgerKey(charge), UpdateExpression: 'SET publisherId = :p', ExpressionAttributeValues: { ':p': { S: 'pub-evil' } } }),
    );
    expect((await verify(t)).brokenLink).toEqual({
      kind: 'entry_hash',
      entryId: `charge:${hashed.callId}`,
      expected: entryHash({ ...entryOf(charge), publisherId: 'pub-evil' }),
      actual: charge.contentHash,
    });
  });

  it('reports a direct edit of a charge written by the ledger writer as the first broken link', async () => {
    // The real writer path: webhook events through processIngestBatch, rated and committed by the writer.
    const t = await createTenant(env.config);
    const accountId = t.account.accountId;
    const startMs = Date.parse('2026-11-20T15:00:00.000Z');
    const calls = [0, 1].map((i) =>
      lifecycle({ accountId, from: freshNumber(), to: t.numbers.billable.number, startMs: startMs + i * 3_600_000, durationSec: 240 }),
    );
    expect((await processIngestBatch(records(calls.flatMap((c) => c.events)), env.writerDeps)).failedMessageIds).toEqual([]);
    const principal: ApiKeyRecord = { accountId, role: 'analyst', label: 'auditor' };
    const verifyAccount = async () => (await request(routeDeps(env, NOW), principal, 'GET', '/v1/ledger/verify')).body as VerifyResponse;

    // Every charge the writer stored carries the hash of its own content; nothing is unhashed.
    const charges = await ledgerItemsOf(env, accountId);
    expect(charges.map((c) => c.entryId).sort()).toEqual(calls.map((c) => `charge:${c.callId}`).sort());
    for (const c of charges) expect(c.contentHash).toBe(entryHash(entryOf(c)));
    expect(await verifyAccount()).toMatchObject({ ok: true, brokenLink: null, checkedEntries: 2, unsealedEntries: 2, unhashedEntries: { count: 0, entryIds: [] } });

    // Someone with table access raises the second call's charge behind the API.
    const victim = charges.find((c) => c.entryId === `charge:${calls[1]!.callId}`)!;
    await env.clients.dynamodb.send(
      new UpdateItemCommand({ TableName: env.names.ledgerTable, Key: ledgerKey(victim), UpdateExpression: 'SET amountCents = :a', ExpressionAttributeValues: { ':a': { N: '9900' } } }),
    );
    expect(await verifyAccount()).toMatchObject({
      ok: false,
      brokenLink: { kind: 'entry_hash', entryId: victim.entryId, expected: entryHash({ ...entryOf(victim), amountCents: 9900 }), actual: victim.contentHash },
      unhashedEntries: { count: 0 },
    });
  });

  it('with seals, detects a deleted or edited legacy entry that carries no hash of its own', async () => {
    const t = await tenant();
    const calls = await Promise.all(
      ['2026-11-20T15:00:00.000Z', '2026-11-20T16:00:00.000Z'].map((iso) =>
        commitCall(env, t, { publisherId: t.defaultPublisher, startMs: Date.parse(iso), legacyUnhashed: true }),
      ),
    );
    const ledger = new LedgerRepo({ ledgerTable: env.names.ledgerTable, client: env.clients.dynamodb });
    // Entries were created "now" (wall clock); seal everything up to an hour from now.
    const later = () => new Date(Date.now() + 2 * 3_600_000);
    const seals = await sealLedger(t.accountId, { ledger, now: later });
    expect(seals.length).toBeGreaterThanOrEqual(1);
    expect(seals.reduce((n, s) => n + s.entryCount, 0)).toBe(2);
    expect(await sealLedger(t.accountId, { ledger, now: later })).toEqual([]);
    expect(await verify(t)).toMatchObject({ ok: true, checkedEntries: 2, checkedSeals: seals.length, unsealedEntries: 0, unhashedEntries: { count: 2 } });

    const items = await ledgerItemsOf(env, t.accountId);
    const victim = items.find((i) => i.entryId === `charge:${calls[1]!.callId}`)!;
    await env.clients.dynamodb.send(
      new UpdateItemCommand({ TableName: env.names.ledgerTable, Key: ledgerKey(victim), UpdateExpression: 'SET amountCents = :a', ExpressionAttributeValues: { ':a': { N: '1' } } }),
    );
    // The seal whose interval holds the victim (both entries share one unless an hour boundary fell between them).
    const at = Date.parse(victim.createdAt as string);
    const seal = seals.find((s) => Date.parse(s.coversFrom) <= at && at < Date.parse(s.coversTo))!;
    const edited = await verify(t);
    expect(edited.ok).toBe(false);
    expect(edited.brokenLink).toMatchObject({ kind: 'seal_contents', seq: seal.seq, expected: { entryCount: seal.entryCount }, actual: { entryCount: seal.entryCount } });

    await env.clients.dynamodb.send(new DeleteItemCommand({ TableName: env.names.ledgerTable, Key: ledgerKey(victim) }));
    const deleted = await verify(t);
    expect(deleted.brokenLink).toMatchObject({ kind: 'seal_contents', seq: seal.seq, expected: { entryCount: seal.entryCount }, actual: { entryCount: seal.entryCount - 1 } });
  });
});
