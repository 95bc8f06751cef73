/**
 * The block list against DynamoDB Local (core fixtures): callers blocked and unblocked through BLOCK_ROUTES, calls
 * rated by processIngestBatch with the BlockRepo reader wired in → `blocked_caller`, no charge, and the rating
 * explanation naming the blockId; effective dating both ways; the reader's cache exact at each call's start; and,
 * through the real api handler, that no response, problem or stored item carries the caller's number.
 *
 * Time: the management writes and the reader share one simulated clock that the tests move forward (a real minute
 * of CONFIG_LEAD_MS would otherwise be waited for each change); calls start at instants of that clock, about an
 * hour before the real now, so configuration and processing behave as for calls processed after they started.
 */
import { rejection, PROBLEM } from '../../support/problems';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockRepo } from '../../../shared/adapters/blocklist/block-repo';
import { ddbStats } from '../../../shared/adapters/platform/dynamodb/ddb-stats';
import { BLOCK_ROUTES, type BlockListDeps } from '../../../shared/app/blocklist/block-list';
import { blockListDeps } from '../../../shared/adapters/blocklist/deps';
import type { RouteResponse } from '../../../shared/app/ledger/ledger-routes';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { getCallRating } from '../../../shared/app/calls/read-api';
import { blockIdOf, type BlockedCallerView } from '../../../shared/domain/blocklist/block-list';
import { callerHash } from '../../../shared/domain/calls/caller';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import { Conflict, Forbidden, NotFound } from '../../../shared/domain/kernel/problems';
import { createTenant, startInProcessApi, type InProcessApi, freshNumber, ledgerItemsOf, lifecycle, records, scanTable, startCoreEnv, type CoreEnv, } from '../../support/writer-fixtures';
import { checkedRoute } from '../../contract/hooks';

const MIN = 60_000;
let env: CoreEnv;

beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

/** The simulated clock of one test: management writes and the writer's block-list reader both read it. */
function simulatedClock(startMs: number) {
  let nowMs = startMs;
  return { now: () => nowMs, set: (ms: number) => void (nowMs = ms) };
}

/** A tenant whose campaign has no duplicate window (so a caller's later calls bill again), with its keys and clock. */
async function setUp() {
  const tenant = await createTenant(env.config, { duplicateWindowHours: 0, priceCents: 4500, bufferSec: 30 });
  const accountId = tenant.account.accountId;
  const clock = simulatedClock(Math.floor(Date.now() / 1000) * 1000 - 60 * MIN);
  const routeDeps: BlockListDeps = blockListDeps(
    { mainTable: env.names.mainTable, callerHashKeyRef: 'env:UNUSED_IN_TESTS' },
    { client: env.clients.dynamodb, secrets: { resolve: async () => env.callerHashKey }, now: () => new Date(clock.now()) },
  );
  // The writer's reader, as functions/ledger-writer.ts builds it, on the simulated clock.
  const blocks = new BlockRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb, now: clock.now });
  const admin: ApiKeyRecord = { accountId, role: 'admin', label: 'risk-team' };
  const analyst: ApiKeyRecord = { accountId, role: 'analyst', label: 'viewer' };
  return { tenant, accountId, clock, routeDeps, blocks, admin, analyst, writer: { ...env.writerDeps, blocks } };
}

function send(deps: BlockListDeps, principal: ApiKeyRecord, method: 'GET' | 'PUT', path: string, e164?: string, body?: object, query: Record<string, string> = {}): Promise<RouteResponse> {
  const found = BLOCK_ROUTES.find((r) => r.method === method && r.path === path);
  if (found === undefined) throw new Error(`no route ${method} ${path}`);
  return checkedRoute(found).handle(
    principal,
    {
      pathParameters: e164 === undefined ? {} : { e164 },
      query,
      body: body === undefined ? '' : JSON.stringify(body),
      contentType: body === undefined ? undefined : 'application/json',
    },
    deps,
  );
}

const put = (s: Awaited<ReturnType<typeof setUp>>, e164: string, body: object, principal = s.admin) =>
  send(s.routeDeps, principal, 'PUT', '/v1/blocked-callers/{e164}', e164, body);

/** Rates one completed call of `durationSec` from `from` that started at `startMs`. */
async function playCall(s: Awaited<ReturnType<typeof setUp>>, from: string, startMs: number, durationSec = 120) {
  const call = lifecycle({ accountId: s.accountId, from, to: s.tenant.numbers.billable.number, startMs, durationSec });
  expect((await processIngestBatch(records(call.events), s.writer)).failedMessageIds).toEqual([]);
  const stored = await env.calls.getCall(call.callId, { consistent: true });
  return { callId: call.callId, rating: stored!.rating! };
}

async function chargedCalls(accountId: string): Promise<string[]> {
  return (await ledgerItemsOf(env, accountId)).filter((e) => e.type === 'charge').map((e) => String(e.callId));
}

describe('blocked callers and the ledger writer', () => {
  it('a blocked caller is rated blocked_caller with no charge from effectiveFrom; before it and after an unblock, calls bill', async () => {
    const s = await setUp();
    const T0 = s.clock.now();
    const caller = freshNumber();
    const hash = callerHash(env.callerHashKey, caller);

    const blocked = await put(s, caller, { reason: 'fraud' });
    expect(blocked.status).toBe(201);
    const view = blocked.body as BlockedCallerView;
    expect(view).toMatchObject({
      blockId: blockIdOf(hash),
      last4: `…${caller.slice(-4)}`,
      reason: 'fraud',
      state: 'unblocked',
      pending: { blocked: true, effectiveFrom: new Date(T0 + CONFIG_LEAD_MS).toISOString() },
      createdBy: 'risk-team',
    });

    s.clock.set(T0 + 2 * MIN);
    const before = await playCall(s, caller, T0 + 30_000); // started before the block took effect
    const during = await playCall(s, caller, T0 + 90_000);
    const otherCaller = await playCall(s, freshNumber(), T0 + 90_000);
    expect(before.rating).toMatchObject({ billable: true, amountCents: 4500, reasons: [] });
    expect(during.rating).toMatchObject({ billable: false, amountCents: 0, reasons: ['blocked_caller'], recorded: { blockId: view.blockId } });
    expect(otherCaller.rating).toMatchObject({ billable: true, reasons: [] });

    // The explanation re-rates with the recorded blockId: the rule failed on that entry, as recorded.
    const explained = await getCallRating(s.analyst, during.callId, { calls: env.calls, config: env.config });
    expect(explained).toMatchObject({ billable: false, reasons: ['blocked_caller'], matchesRecorded: true });
    expect(explained.rules.find((r) => r.rule === 'blocked_caller')).toEqual({ rule: 'blocked_caller', passed: false, inputs: { blockId: view.blockId } });
    expect(JSON.stringify(explained)).not.toContain(caller.slice(2));

    // Unblock: effective a minute later; calls in between are still blocked, calls after it bill.
    s.clock.set(T0 + 3 * MIN);
    const unblocked = await put(s, caller, { blocked: false });
    expect(unblocked.status).toBe(200);
    expect(unblocked.body).toMatchObject({ state: 'blocked', pending: { blocked: false, effectiveFrom: new Date(T0 + 4 * MIN).toISOString() } });
    expect((unblocked.body as BlockedCallerView).history.map((h) => [h.blocked, h.reason, h.by])).toEqual([
      [true, 'fraud', 'risk-team'],
      [false, 'fraud', 'risk-team'],
    ]);
    s.clock.set(T0 + 5 * MIN);
    const stillBlocked = await playCall(s, caller, T0 + 3 * MIN + 30_000);
    const afterUnblock = await playCall(s, caller, T0 + 4 * MIN + 10_000);
    expect(stillBlocked.rating.reasons).toEqual(['blocked_caller']);
    expect(afterUnblock.rating).toMatchObject({ billable: true, amountCents: 4500, reasons: [] });

    expect((await chargedCalls(s.accountId)).sort()).toEqual([before.callId, otherCaller.callId, afterUnblock.callId].sort());
  });

  it("the writer's cached list serves calls up to CONFIG_LEAD_MS after its read and re-reads for later ones, so a new block is never missed", async () => {
    const s = await setUp();
    const T1 = s.clock.now();
    const caller = freshNumber();
    const hash = callerHash(env.callerHashKey, caller);
    const reads = async (f: () => Promise<unknown>) => {
      ddbStats.reset();
      const value = await f();
      return { value, requests: ddbStats.requests };
    };

    expect(await reads(() => s.blocks.blockedCaller(s.accountId, hash, T1 - 1_000))).toEqual({ value: null, requests: 1 });
    s.clock.set(T1 + 1_000);
    const { body } = await put(s, caller, { reason: 'robocall' }); // effective T1 + 61 s
    const { blockId } = body as BlockedCallerView;

    s.clock.set(T1 + 30_000);
    // Started before the block takes effect: the copy read at T1 is exact, no read.
    expect(await reads(() => s.blocks.blockedCaller(s.accountId, hash, T1 + 20_000))).toEqual({ value: null, requests: 0 });
    // Started after T1 + CONFIG_LEAD_MS: a change written since T1 may be in force, so the list is read again.
    expect(await reads(() => s.blocks.blockedCaller(s.accountId, hash, T1 + 65_000))).toEqual({ value: { blockId }, requests: 1 });
    expect(await reads(() => s.blocks.blockedCaller(s.accountId, hash, T1 + 70_000))).toEqual({ value: { blockId }, requests: 0 });

    // Concurrent misses of one account (a batch's calls) share one Query.
    const fresh = new BlockRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb, now: s.clock.now });
    const many = await reads(() => Promise.all(Array.from({ length: 8 }, () => fresh.blockedCaller(s.accountId, hash, T1 + 70_000))));
    expect(many).toEqual({ value: Array.from({ length: 8 }, () => ({ blockId })), requests: 1 });
  });
});

describe('the block-list routes', () => {
  it('admin writes, analyst reads (403 on PUT); unknown callers are 404, nothing to unblock and too-early changes 422', async () => {
    const s = await setUp();
    const caller = freshNumber();
    expect(await rejection(put(s, caller, { reason: 'fraud' }, s.analyst))).toMatchObject(PROBLEM.Forbidden);
    expect(await rejection(send(s.routeDeps, s.analyst, 'GET', '/v1/blocked-callers/{e164}', caller))).toMatchObject(PROBLEM.NotFound);
    expect(await rejection(put(s, caller, { blocked: false }))).toMatchObject({ status: 422, errors: [{ field: 'blocked' }] });
    expect(await rejection(put(s, caller, { reason: 'fraud', effectiveFrom: new Date(s.clock.now()).toISOString() }))).toMatchObject({
      status: 422,
      errors: [{ field: 'effectiveFrom' }],
    });
    expect(await scanTable(env, env.names.mainTable).then((items) => items.filter((i) => i.pk === `ACCT#${s.accountId}` && String(i.sk).startsWith('BLOCK#')))).toEqual([]);

    expect((await put(s, caller, { reason: 'abuse' })).status).toBe(201);
    const retried = await put(s, caller, { reason: 'abuse' });
    expect(retried.status).toBe(200);
    expect((retried.body as BlockedCallerView).history).toHaveLength(1);
    const read = await send(s.routeDeps, s.analyst, 'GET', '/v1/blocked-callers/{e164}', caller);
    expect(read).toMatchObject({ status: 200, body: { reason: 'abuse', state: 'unblocked', history: [{ blocked: true, by: 'risk-team' }] } });
    s.clock.set(s.clock.now() + 2 * MIN);
    expect((await send(s.routeDeps, s.analyst, 'GET', '/v1/blocked-callers/{e164}', caller)).body).toMatchObject({ state: 'blocked', pending: null });
  });

  it('refuses a concurrent write that lost the race with 409', async () => {
    const s = await setUp();
    const caller = freshNumber();
    await put(s, caller, { reason: 'fraud' });
    const hash = callerHash(env.callerHashKey, caller);
    const stored = (await s.blocks.readBlock(s.accountId, hash))!;
    // Another request wrote rev 2 meanwhile: a write still expecting rev 1 must not overwrite it.
    await s.blocks.putBlock(hash, { ...stored, reason: 'other', rev: 2 }, 1);
    await expect(s.blocks.putBlock(hash, { ...stored, rev: 2 }, 1)).rejects.toThrow(/changed concurrently/);
    // A request that read rev 1 before that write: its conditional Put fails, the client gets 409.
    const staleRead = { ...s.routeDeps, blocks: { readBlock: async () => stored, putBlock: s.blocks.putBlock.bind(s.blocks), listBlocks: s.blocks.listBlocks.bind(s.blocks) } };
    expect(await rejection(send(staleRead, s.admin, 'PUT', '/v1/blocked-callers/{e164}', caller, { reason: 'abuse' }))).toMatchObject(PROBLEM.Conflict);
    expect((await s.blocks.readBlock(s.accountId, hash))!).toMatchObject({ reason: 'other', rev: 2 });
  });

  it("lists the account's entries page by page with a cursor bound to the account", async () => {
    const s = await setUp();
    const other = await setUp();
    const callers = [freshNumber(), freshNumber(), freshNumber()];
    for (const c of callers) await put(s, c, { reason: 'robocall' });
    await put(other, freshNumber(), { reason: 'fraud' });

    const first = await send(s.routeDeps, s.analyst, 'GET', '/v1/blocked-callers', undefined, undefined, { limit: '2' });
    const page1 = first.body as { blockedCallers: BlockedCallerView[]; cursor: string | null };
    expect(page1.blockedCallers).toHaveLength(2);
    expect(page1.cursor).not.toBeNull();
    const second = await send(s.routeDeps, s.analyst, 'GET', '/v1/blocked-callers', undefined, undefined, { limit: '2', cursor: page1.cursor! });
    const page2 = second.body as typeof page1;
    expect(page2.cursor).toBeNull();
    const ids = [...page1.blockedCallers, ...page2.blockedCallers].map((v) => v.blockId).sort();
    expect(ids).toEqual(callers.map((c) => blockIdOf(callerHash(env.callerHashKey, c))).sort());
    // Another account's cursor is refused; its entries never show.
    expect(await rejection(send(other.routeDeps, other.analyst, 'GET', '/v1/blocked-callers', undefined, undefined, { cursor: page1.cursor! }))).toMatchObject({
      status: 400,
      errors: [{ field: 'cursor' }],
    });
    expect(((await send(other.routeDeps, other.analyst, 'GET', '/v1/blocked-callers')).body as typeof page1).blockedCallers).toHaveLength(1);
  });
});

describe('the api handler never shows the number', () => {
  let api: InProcessApi;
  beforeAll(async () => {
    api = await startInProcessApi(env);
  });

  it('PUT/GET/list answer with blockId and …last4; problems name e164 and the route template; the stored item has no number', async () => {
    const caller = freshNumber();
    const national = caller.slice(2);
    const path = `/v1/blocked-callers/${encodeURIComponent(caller)}`;
    const { adminKey, analystKey, tenant } = api;
    const call = api.call;

    const forbidden = await call('PUT', path, analystKey, { reason: 'fraud' });
    expect(forbidden).toMatchObject({ status: 403, type: 'application/problem+json', body: { instance: '/v1/blocked-callers/{e164}' } });
    const created = await call('PUT', path, adminKey, { reason: 'fraud' });
    expect(created).toMatchObject({ status: 201, body: { blockId: blockIdOf(callerHash(env.callerHashKey, caller)), last4: `…${caller.slice(-4)}` } });
    expect((await call('GET', path, analystKey)).status).toBe(200);
    expect((await call('GET', '/v1/blocked-callers', analystKey)).body.blockedCallers).toHaveLength(1);
    const invalid = await call('PUT', `/v1/blocked-callers/${national}`, adminKey, { reason: 'fraud' });
    expect(invalid).toMatchObject({ status: 400, body: { errors: [{ field: 'e164' }], instance: '/v1/blocked-callers/{e164}' } });
    const tooEarly = await call('PUT', path, adminKey, { reason: 'abuse', effectiveFrom: new Date().toISOString() });
    expect(tooEarly).toMatchObject({ status: 422, body: { errors: [{ field: 'effectiveFrom' }] } });

    for (const text of api.texts) {
      expect(text).not.toContain(national);
      expect(text).not.toContain(encodeURIComponent(caller));
    }
    const items = (await scanTable(env, env.names.mainTable)).filter((i) => i.pk === `ACCT#${tenant.account.accountId}` && String(i.sk).startsWith('BLOCK#'));
    expect(items).toHaveLength(1);
    expect(JSON.stringify(items)).not.toContain(national);
    expect(items[0]).toMatchObject({ last4: caller.slice(-4), reason: 'fraud', createdBy: 'ops' });
  });
});
