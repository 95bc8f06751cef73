/**
 * Compliance against DynamoDB Local (core fixtures): a 10,000-number CSV upload through COMPLIANCE_ROUTES
 * (BatchWriteItem), the writer's reader (DncRepo.dncListed) finding a listed caller from the upload + CONFIG_LEAD_MS
 * and not an unlisted one, removal effective-dated, consent evidence found for a call that started after its capture
 * and not for one before (ConsentRepo.consentFor and GET /v1/calls/{callId}/consent on a rated call), and, through
 * the real api handler, that no answer carries a number and analyst keys cannot write.
 *
 * Time: the management writes and the readers share a simulated clock about an hour before the real now, moved
 * forward by the tests (CONFIG_LEAD_MS is not waited for).
 */
import { rejection, PROBLEM } from '../../support/problems';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsentRepo } from '../../../shared/adapters/compliance/consent-repo';
import { DncRepo } from '../../../shared/adapters/compliance/dnc-repo';
import { COMPLIANCE_ROUTES, type ComplianceDeps } from '../../../shared/app/compliance/compliance';
import { complianceDeps } from '../../../shared/adapters/compliance/deps';
import type { RouteResponse } from '../../../shared/app/ledger/ledger-routes';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { callerHash } from '../../../shared/domain/calls/caller';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import type { DncUploadResult } from '../../../shared/domain/compliance/dnc';
import { Forbidden } from '../../../shared/domain/kernel/problems';
import { createTenant, startInProcessApi, type InProcessApi, freshNumber, lifecycle, records, scanTable, startCoreEnv, type CoreEnv, } from '../../support/writer-fixtures';
import { checkedRoute } from '../../contract/hooks';

const MIN = 60_000;
let env: CoreEnv;

beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

async function setUp() {
  const tenant = await createTenant(env.config, { duplicateWindowHours: 0 });
  const accountId = tenant.account.accountId;
  let nowMs = Math.floor(Date.now() / 1000) * 1000 - 60 * MIN;
  const clock = { now: () => nowMs, set: (ms: number) => void (nowMs = ms) };
  const deps: ComplianceDeps = complianceDeps(
    { mainTable: env.names.mainTable, callerHashKeyRef: 'env:UNUSED_IN_TESTS' },
    { client: env.clients.dynamodb, secrets: { resolve: async () => env.callerHashKey }, now: () => new Date(clock.now()) },
  );
  const admin: ApiKeyRecord = { accountId, role: 'admin', label: 'compliance-team' };
  const analyst: ApiKeyRecord = { accountId, role: 'analyst', label: 'viewer' };
  return { tenant, accountId, clock, deps, admin, analyst };
}

type Setup = Awaited<ReturnType<typeof setUp>>;

function send(s: Setup, principal: ApiKeyRecord, method: string, path: string, params: Record<string, string>, body?: string, contentType = 'application/json'): Promise<RouteResponse> {
  const found = COMPLIANCE_ROUTES.find((r) => r.method === method && r.path === path);
  if (found === undefined) throw new Error(`no route ${method} ${path}`);
  return checkedRoute(found).handle(principal, { pathParameters: params, query: {}, body: body ?? '', contentType: body === undefined ? undefined : contentType }, s.deps);
}

/** `count` distinct valid US numbers (Austin, exchange 300-399), none from freshNumber's random range collisions aside. */
function numbers(count: number, exchangeBase: number): string[] {
  return Array.from({ length: count }, (_, i) => `+1512${exchangeBase + Math.floor(i / 10_000)}${String(i % 10_000).padStart(4, '0')}`);
}

describe('DNC lists', () => {
  it('uploads 10,000 numbers by CSV; the reader lists them from upload + lead, not an unlisted caller; re-upload is `already`', async () => {
    const s = await setUp();
    const T0 = s.clock.now();
    expect((await send(s, s.admin, 'PUT', '/v1/dnc-lists/{listId}', { listId: 'natl' }, JSON.stringify({ name: 'National DNC', source: 'national' }))).status).toBe(201);

    const listed = numbers(10_000, 301);
    const csv = ['number', ...listed.slice(0, 5000), 'not a number', ...listed.slice(5000), '12'].join('\n');
    const started = performance.now();
    const upload = await send(s, s.admin, 'POST', '/v1/dnc-lists/{listId}/numbers', { listId: 'natl' }, csv, 'text/csv');
    const uploadMs = Math.round(performance.now() - started);
    console.info(`DNC upload of 10,000 numbers: ${uploadMs} ms`);
    expect(upload.status).toBe(200);
    expect(upload.body).toEqual({
      listId: 'natl',
      lines: 10_002,
      added: 10_000,
      already: 0,
      removed: 0,
      notListed: 0,
      invalid: 2,
      invalidLines: [5002, 10_003],
      effectiveFrom: new Date(T0 + CONFIG_LEAD_MS).toISOString(),
    } satisfies DncUploadResult);
    const got = await send(s, s.analyst, 'GET', '/v1/dnc-lists/{listId}', { listId: 'natl' });
    expect(got.body).toMatchObject({ listId: 'natl', name: 'National DNC', source: 'national', count: 10_000, createdBy: 'compliance-team' });
    expect(((await send(s, s.analyst, 'GET', '/v1/dnc-lists', {})).body as { lists: unknown[] }).lists).toHaveLength(1);

    const entries = (await scanTable(env, env.names.mainTable)).filter((i) => i.pk === `DNC#${s.accountId}`);
    expect(entries).toHaveLength(10_000);
    expect(JSON.stringify(entries)).not.toContain(listed[42]!.slice(2));

    const reader = new DncRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb, now: s.clock.now });
    const hash = callerHash(env.callerHashKey, listed[4321]!);
    s.clock.set(T0 + 2 * MIN);
    expect(await reader.dncListed(s.accountId, hash, T0 + CONFIG_LEAD_MS - 1)).toBeNull();
    expect(await reader.dncListed(s.accountId, hash, T0 + CONFIG_LEAD_MS)).toEqual({ listIds: ['natl'] });
    expect(await reader.dncListed(s.accountId, callerHash(env.callerHashKey, freshNumber().replace('+1512', '+1737')), T0 + CONFIG_LEAD_MS)).toBeNull();
    // One Query per (caller, freshness), whatever the list's size, plus one per account for "has it any list?".
    expect(reader.reads).toBe(3);

    const again = await send(s, s.admin, 'POST', '/v1/dnc-lists/{listId}/numbers', { listId: 'natl' }, listed.join('\n'), 'text/csv');
    expect(again.body).toMatchObject({ added: 0, already: 10_000, invalid: 0 });
  });

  it('a caller on two lists is named by both; a removal applies from its write + lead and keeps earlier calls listed', async () => {
    const s = await setUp();
    const T0 = s.clock.now();
    const caller = freshNumber();
    const hash = callerHash(env.callerHashKey, caller);
    for (const [listId, source] of [['internal', 'internal'], ['tx', 'state']] as const) {
      await send(s, s.admin, 'PUT', '/v1/dnc-lists/{listId}', { listId }, JSON.stringify({ name: listId, source }));
      const r = await send(s, s.admin, 'POST', '/v1/dnc-lists/{listId}/numbers', { listId }, JSON.stringify({ add: [caller] }));
      expect(r.body).toMatchObject({ added: 1 });
    }
    s.clock.set(T0 + 10 * MIN);
    const removal = await send(s, s.admin, 'POST', '/v1/dnc-lists/{listId}/numbers', { listId: 'tx' }, JSON.stringify({ remove: [caller, freshNumber()] }));
    expect(removal.body).toMatchObject({ removed: 1, notListed: 1 });
    expect((await send(s, s.admin, 'GET', '/v1/dnc-lists/{listId}', { listId: 'tx' })).body).toMatchObject({ count: 0 });

    s.clock.set(T0 + 20 * MIN);
    const reader = new DncRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb, now: s.clock.now });
    expect(await reader.dncListed(s.accountId, hash, T0 + 5 * MIN)).toEqual({ listIds: ['internal', 'tx'] });
    expect(await reader.dncListed(s.accountId, hash, T0 + 10 * MIN + CONFIG_LEAD_MS)).toEqual({ listIds: ['internal'] });
  });

  it('an analyst key cannot create a list or upload (403)', async () => {
    const s = await setUp();
    expect(await rejection(send(s, s.analyst, 'PUT', '/v1/dnc-lists/{listId}', { listId: 'x' }, JSON.stringify({ name: 'x', source: 'internal' })))).toMatchObject(PROBLEM.Forbidden);
    expect(await rejection(send(s, s.analyst, 'POST', '/v1/dnc-lists/{listId}/numbers', { listId: 'x' }, '+15125550101', 'text/csv'))).toMatchObject(PROBLEM.Forbidden);
    expect(await rejection(send(s, s.analyst, 'POST', '/v1/consent', {}, JSON.stringify({})))).toMatchObject(PROBLEM.Forbidden);
    expect(await rejection(send(s, s.analyst, 'PUT', '/v1/account/compliance', {}, JSON.stringify({ consentMissingNonBillable: true, dncNonBillable: true })))).toMatchObject(PROBLEM.Forbidden);
  });
});

describe('consent evidence', () => {
  it('applies to a call that started after its capture (by number and by callId), not to one before; GET /v1/calls/{callId}/consent', async () => {
    const s = await setUp();
    const T0 = s.clock.now();
    const caller = freshNumber();
    const hash = callerHash(env.callerHashKey, caller);
    const capturedAt = new Date(T0 - 30 * MIN).toISOString();

    // Two rated calls of the caller: one 40 min before the capture, one 10 min after it.
    const rated = async (startMs: number) => {
      const call = lifecycle({ accountId: s.accountId, from: caller, to: s.tenant.numbers.billable.number, startMs, durationSec: 120 });
      expect((await processIngestBatch(records(call.events), env.writerDeps)).failedMessageIds).toEqual([]);
      return call.callId;
    };
    const before = await rated(T0 - 70 * MIN);
    const after = await rated(T0 - 20 * MIN);

    const posted = await send(
      s,
      s.admin,
      'POST',
      '/v1/consent',
      {},
      JSON.stringify({
        records: [
          { callerNumber: caller, publisherId: s.tenant.numbers.billable.publisherId, capturedAt, certificateId: 'cert-1', leadId: 'lead-9' },
          { callId: after, capturedAt, certificateUrl: 'https://cert.example/v/abc' },
        ],
      }),
    );
    expect((posted.body as { results: { result: string }[] }).results.map((r) => r.result)).toEqual(['stored', 'stored']);
    // The same evidence again (same caller, capture and certificate) is stored once.
    const repeated = await send(s, s.admin, 'POST', '/v1/consent', {}, JSON.stringify({ callerNumber: caller, publisherId: 'p', capturedAt, certificateId: 'cert-1' }));
    expect(repeated.body).toMatchObject({ results: [{ line: 1, result: 'already' }] });

    const reader = new ConsentRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    expect(await reader.consentFor(s.accountId, hash, T0 - 20 * MIN)).toMatchObject({ capturedAt });
    expect(await reader.consentFor(s.accountId, hash, Date.parse(capturedAt))).not.toBeNull();
    expect(await reader.consentFor(s.accountId, hash, Date.parse(capturedAt) - 1)).toBeNull();
    expect(await reader.consentFor(s.accountId, callerHash(env.callerHashKey, freshNumber()), T0)).toBeNull();

    const forAfter = await send(s, s.analyst, 'GET', '/v1/calls/{callId}/consent', { callId: after });
    expect(forAfter.body).toMatchObject({ callId: after, validityDays: 180 });
    const evidence = (forAfter.body as { evidence: { certificateId: string | null; certificateUrl: string | null; postedBy: string; capturedAt: string }[] }).evidence;
    expect(evidence).toHaveLength(2);
    expect(evidence.every((e) => e.capturedAt === capturedAt && e.postedBy === 'compliance-team')).toBe(true);
    expect(evidence.map((e) => e.certificateId ?? e.certificateUrl).sort()).toEqual(['cert-1', 'https://cert.example/v/abc']);
    expect(((await send(s, s.analyst, 'GET', '/v1/calls/{callId}/consent', { callId: before })).body as { evidence: unknown[] }).evidence).toEqual([]);

    const items = (await scanTable(env, env.names.mainTable)).filter((i) => String(i.pk).startsWith(`CONSENT#${s.accountId}#`));
    expect(items).toHaveLength(2);
    expect(JSON.stringify(items)).not.toContain(caller.slice(2));
  });

  it('PUT /v1/account/compliance stores the settings on the account item', async () => {
    const s = await setUp();
    const res = await send(s, s.admin, 'PUT', '/v1/account/compliance', {}, JSON.stringify({ consentMissingNonBillable: true, dncNonBillable: false }));
    expect(res).toEqual({ status: 200, body: { consentMissingNonBillable: true, dncNonBillable: false } });
    const account = (await scanTable(env, env.names.mainTable)).find((i) => i.pk === `ACCT#${s.accountId}` && i.sk === 'ACCOUNT');
    expect(account?.compliance).toEqual({ consentMissingNonBillable: true, dncNonBillable: false });
  });
});

describe('the api handler never shows a number', () => {
  let api: InProcessApi;
  beforeAll(async () => {
    api = await startInProcessApi(env);
  });

  it('uploads, lists, consent and problems answer with counts and line numbers only; analyst writes are 403', async () => {
    const nums = Array.from({ length: 20 }, () => freshNumber());
    const { adminKey, analystKey } = api;
    const call = api.call;

    expect((await call('PUT', '/v1/dnc-lists/internal', analystKey, JSON.stringify({ name: 'Internal', source: 'internal' }))).status).toBe(403);
    expect((await call('PUT', '/v1/dnc-lists/internal', adminKey, JSON.stringify({ name: 'Internal', source: 'internal' }))).status).toBe(201);
    const forbidden = await call('POST', '/v1/dnc-lists/internal/numbers', analystKey, nums.join('\n'), 'text/csv');
    expect(forbidden).toMatchObject({ status: 403, body: { instance: '/v1/dnc-lists/{listId}/numbers' } });
    const upload = await call('POST', '/v1/dnc-lists/internal/numbers', adminKey, `number\n${nums.join("\n")}\n12345`, 'text/csv');
    expect(upload).toMatchObject({ status: 200, body: { added: 20, invalid: 1, invalidLines: [22] } });
    expect((await call('GET', '/v1/dnc-lists', analystKey)).body).toMatchObject({ lists: [{ listId: 'internal', count: 20 }] });
    const badJson = await call('POST', '/v1/dnc-lists/internal/numbers', adminKey, JSON.stringify({ add: nums, extra: nums[1] }));
    expect(badJson.status).toBe(400);
    const consent = await call('POST', '/v1/consent', adminKey, {
      callerNumber: nums[2],
      publisherId: 'pub',
      capturedAt: new Date(Date.now() - MIN).toISOString(),
      certificateUrl: `http://x/${nums[2]}`,
    });
    expect(consent).toMatchObject({ status: 200, body: { results: [{ result: 'refused', problem: { status: 400 } }] } });
    expect((await call('POST', '/v1/consent', analystKey, JSON.stringify({ callerNumber: nums[2] }))).status).toBe(403);
    expect((await call('GET', '/v1/calls/no-such-call/consent', analystKey)).status).toBe(404);
    expect((await call('PUT', '/v1/account/compliance', analystKey, JSON.stringify({ consentMissingNonBillable: true, dncNonBillable: true }))).status).toBe(403);

    for (const text of api.texts) for (const n of nums) expect(text).not.toContain(n.slice(2));
  });
});
