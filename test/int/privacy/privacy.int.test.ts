/**
 * Recordings retention, legal hold and deletion requests against DynamoDB Local + fauxqs (with the local
 * S3 tagging of infra/local/s3-tagging.ts) and the fake Twilio media host: recordings are stored with their account's
 * retention class, an open dispute holds its call's recording and its close releases it, and a deletion request
 * removes recordings and personal fields, defers held recordings until their dispute closes, and leaves the ledger
 * as it was (still verifying).
 */
import { rejection, PROBLEM } from '../../support/problems';
import { randomBytes } from 'node:crypto';
import { GetObjectTaggingCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMedia, type FakeMedia } from '../../../infra/local/fake-media';
import { ConfigRepo } from '../../../shared/adapters/calls/main-repo';
import { S3RecordingObjects, S3RecordingStore } from '../../../shared/adapters/recordings/recordings';
import { COMPLIANCE_ROUTES } from '../../../shared/app/compliance/compliance';
import { complianceDeps } from '../../../shared/adapters/compliance/deps';
import { fetchRecording, type FetchRecordingDeps } from '../../../shared/app/recordings/fetch-recording';
import { type LedgerRouteDeps } from '../../../shared/app/ledger/ledger-routes';
import { ledgerRouteDeps } from '../../../shared/adapters/ledger/deps';
import { PRIVACY_ROUTES, type DeletionRecord, type PrivacyDeps } from '../../../shared/app/privacy/privacy';
import { privacyDeps } from '../../../shared/adapters/privacy/deps';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { Unprocessable } from '../../../shared/domain/kernel/problems';
import { freshNumber, hex32, ledgerItemsOf, recordingTelemetry, scanTable, silentLog, startCoreEnv, type CoreEnv } from '../../support/writer-fixtures';
import { commitCall, createLedger3Tenant, request, type CommittedCall, type Ledger3Tenant } from '../../support/ledger-fixtures';
import { checkedRoute } from '../../contract/hooks';

let env: CoreEnv;
let media: FakeMedia;
let ledgerDeps: LedgerRouteDeps;
let privacy: PrivacyDeps;
const TOKEN = randomBytes(16).toString('hex');
const HOUR = 3_600_000;

beforeAll(async () => {
  env = await startCoreEnv();
  media = await startFakeMedia({ credentials: () => TOKEN });
  const config = { mainTable: env.names.mainTable, ledgerTable: env.names.ledgerTable, callerHashKeyRef: 'env:UNUSED_IN_TESTS', recordingsBucket: env.names.recordingsBucket };
  const options = { client: env.clients.dynamodb, s3: env.clients.s3, secrets: { resolve: async () => env.callerHashKey } };
  ledgerDeps = ledgerRouteDeps(config, options);
  privacy = privacyDeps(config, options);
});
afterAll(async () => {
  await media?.stop();
  await env?.stop();
});

const s3 = () => env.clients.s3;
const bucket = () => env.names.recordingsBucket;

async function tagsOf(key: string): Promise<Record<string, string>> {
  const out = await s3().send(new GetObjectTaggingCommand({ Bucket: bucket(), Key: key }));
  return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key!, t.Value!]));
}

async function exists(key: string): Promise<boolean> {
  try {
    await s3().send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));
    return true;
  } catch (err) {
    if ((err as { name?: string }).name === 'NotFound') return false;
    throw err;
  }
}

async function setRetention(t: Ledger3Tenant, days: number): Promise<void> {
  const route = checkedRoute(COMPLIANCE_ROUTES.find((r) => r.method === 'PUT' && r.path === '/v1/account/compliance')!);
  const body = JSON.stringify({ consentMissingNonBillable: false, dncNonBillable: false, recordingRetentionDays: days });
  const res = await route.handle(t.admin, { pathParameters: {}, query: {}, body, contentType: 'application/json' }, complianceDeps(
    { mainTable: env.names.mainTable, callerHashKeyRef: 'env:UNUSED' },
    { client: env.clients.dynamodb, secrets: { resolve: async () => env.callerHashKey } },
  ));
  expect(res).toEqual({ status: 200, body: JSON.parse(body) });
}

/** Stores a recording for the call the way the fetcher does (fresh config: no cached account). */
async function storeRecording(t: Ledger3Tenant, call: CommittedCall, expected: 'stored' | 'skipped' = 'stored'): Promise<string | null> {
  const config = new ConfigRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
  const account = (await config.getAccount(t.accountId))!;
  const deps: FetchRecordingDeps = {
    calls: env.calls,
    config,
    secrets: { getSecret: async () => TOKEN },
    media: new S3RecordingStore({ bucket: bucket(), allowedHosts: [new URL(media.baseUrl).host], client: s3() }),
    holds: new S3RecordingObjects(bucket(), s3()),
    now: () => new Date(),
    telemetry: recordingTelemetry(),
    log: silentLog,
  };
  const recordingId = `RE${hex32()}`;
  const result = await fetchRecording(
    { v: 1, accountId: t.accountId, callId: call.callId, recordingId, recordingUrl: media.recordingUrl(account.twilio!.accountSid, recordingId), recordingDurationSec: 12 },
    deps,
  );
  expect(result).toBe(expected);
  return (await env.calls.getCall(call.callId, { consistent: true }))!.recording?.key ?? null;
}

const openDispute = (t: Ledger3Tenant, callId: string) =>
  request(ledgerDeps, t.admin, 'POST', '/v1/calls/{callId}/disputes', { pathParameters: { callId }, body: { reason: 'fraud', note: 'QA' } });
const resolveDispute = (t: Ledger3Tenant, callId: string, outcome: 'accepted' | 'rejected') =>
  request(ledgerDeps, t.admin, 'POST', '/v1/disputes/{disputeId}/resolve', { pathParameters: { disputeId: `dispute:${callId}` }, body: { outcome, note: 'done' } });

async function deletion(principal: ApiKeyRecord, idempotencyKey: string, callerNumber: string) {
  const route = checkedRoute(PRIVACY_ROUTES.find((r) => r.method === 'POST')!);
  return route.handle(principal, { pathParameters: {}, query: {}, body: JSON.stringify({ callerNumber }), contentType: 'application/json', idempotencyKey }, privacy);
}

async function getDeletion(principal: ApiKeyRecord, deletionId: string) {
  const route = checkedRoute(PRIVACY_ROUTES.find((r) => r.method === 'GET')!);
  return route.handle(principal, { pathParameters: { deletionId }, query: {}, body: '', contentType: undefined, idempotencyKey: undefined }, privacy);
}

async function rawCall(callId: string): Promise<Record<string, unknown>> {
  return (await scanTable(env, env.names.mainTable)).find((i) => i.pk === `CALL#${callId}`)!;
}

async function newTenant(): Promise<Ledger3Tenant> {
  return createLedger3Tenant(env, { disputeWindowDays: 30, allowedReasons: ['fraud', 'other'] });
}

describe('recordings retention and legal hold', () => {
  it("stores every recording with its account's retention class, a change applying to recordings stored afterwards", async () => {
    const t = await newTenant();
    const before = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: Date.now() - 3 * HOUR });
    const keyDefault = (await storeRecording(t, before))!;
    expect(await tagsOf(keyDefault)).toEqual({ 'retention-class': 'd365', expiry: 'd365' });

    await setRetention(t, 90);
    const after = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: Date.now() - 2 * HOUR });
    const key90 = (await storeRecording(t, after))!;
    expect(await tagsOf(key90)).toEqual({ 'retention-class': 'd90', expiry: 'd90' });
    // The earlier recording keeps the class it was stored with.
    expect(await tagsOf(keyDefault)).toEqual({ 'retention-class': 'd365', expiry: 'd365' });
  });

  it('holds a disputed call’s recording while the dispute is open and releases it when it closes', async () => {
    const t = await newTenant();
    await setRetention(t, 180);
    const call = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: Date.now() - 2 * HOUR });
    const key = (await storeRecording(t, call))!;
    const audio = await s3().send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));

    expect((await openDispute(t, call.callId)).status).toBe(201);
    expect(await tagsOf(key)).toEqual({ 'retention-class': 'd180', expiry: 'hold' });
    expect((await rawCall(call.callId)).hold).toMatchObject({ d: `dispute:${call.callId}` });
    // An identical retry answers 200 and leaves the hold as it is.
    expect((await openDispute(t, call.callId)).status).toBe(200);
    expect(await tagsOf(key)).toEqual({ 'retention-class': 'd180', expiry: 'hold' });

    expect((await resolveDispute(t, call.callId, 'rejected')).status).toBe(200);
    expect(await tagsOf(key)).toEqual({ 'retention-class': 'd180', expiry: 'd180' });
    expect((await rawCall(call.callId)).hold).toBeUndefined();
    // A retried resolve changes nothing, and the recording itself was never rewritten by the tagging.
    expect((await resolveDispute(t, call.callId, 'rejected')).status).toBe(200);
    expect(await tagsOf(key)).toEqual({ 'retention-class': 'd180', expiry: 'd180' });
    const now = await s3().send(new HeadObjectCommand({ Bucket: bucket(), Key: key }));
    expect([now.ETag, now.ContentLength, now.LastModified?.getTime()]).toEqual([audio.ETag, audio.ContentLength, audio.LastModified?.getTime()]);
  });

  it('a recording stored while its call is disputed is stored held, and released on accept', async () => {
    const t = await newTenant();
    const call = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: Date.now() - 2 * HOUR });
    expect((await openDispute(t, call.callId)).status).toBe(201);
    const key = (await storeRecording(t, call))!;
    expect(await tagsOf(key)).toEqual({ 'retention-class': 'd365', expiry: 'hold' });
    expect((await resolveDispute(t, call.callId, 'accepted')).status).toBe(200);
    expect(await tagsOf(key)).toEqual({ 'retention-class': 'd365', expiry: 'd365' });
  });
});

describe('deletion requests', () => {
  it('removes recordings and personal fields, defers held recordings until their dispute closes, and leaves the ledger intact', async () => {
    const t = await newTenant();
    const other = await newTenant();
    const caller = freshNumber();
    const start = Date.now() - 6 * HOUR;
    const released = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: start, caller });
    const held = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: start + HOUR, caller });
    const plain = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: start + 2 * HOUR, caller });
    const noRecording = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: start + 3 * HOUR, caller, reasons: ['below_buffer'] });
    const otherCaller = await commitCall(env, t, { publisherId: t.defaultPublisher, startMs: start, caller: freshNumber() });
    const otherAccount = await commitCall(env, other, { publisherId: other.defaultPublisher, startMs: start, caller });
    const keys = {
      released: (await storeRecording(t, released))!,
      held: (await storeRecording(t, held))!,
      plain: (await storeRecording(t, plain))!,
      otherCaller: (await storeRecording(t, otherCaller))!,
      otherAccount: (await storeRecording(other, otherAccount))!,
    };
    // One dispute opened and closed (its recording is free again), one still open (its recording is held).
    await openDispute(t, released.callId);
    await resolveDispute(t, released.callId, 'rejected');
    await openDispute(t, held.callId);

    const ledgerBefore = await ledgerItemsOf(env, t.accountId);
    const verifyBefore = (await request(ledgerDeps, t.analyst, 'GET', '/v1/ledger/verify')).body as { ok: boolean; checkedEntries: number };
    expect(verifyBefore.ok).toBe(true);

    const idem = `gdpr-${hex32()}`;
    const res = await deletion(t.admin, idem, caller.replace('+1', '(').replace(/^\((\d{3})/, '($1) '));
    expect(res.status).toBe(202);
    const record = res.body as DeletionRecord;
    expect(record).toMatchObject({
      status: 'deferred',
      accountId: t.accountId,
      calls: 4,
      personalFieldsRemoved: 4,
      recordingsDeleted: 2,
      recordingsDeferred: [held.callId],
      completedAt: null,
      requestedBy: 'finance-bot (admin)',
    });
    expect(record.callIds).toEqual([released.callId, held.callId, plain.callId, noRecording.callId].sort());
    expect(JSON.stringify(record)).not.toContain(caller.slice(-7));

    // Recordings: deleted, except the held one; other callers and other accounts untouched.
    expect(await exists(keys.released)).toBe(false);
    expect(await exists(keys.plain)).toBe(false);
    expect(await exists(keys.held)).toBe(true);
    expect(await tagsOf(keys.held)).toMatchObject({ expiry: 'hold' });
    expect(await exists(keys.otherCaller)).toBe(true);
    expect(await exists(keys.otherAccount)).toBe(true);

    // Personal fields: gone from every call of the caller in this account; the keyed hash stays (duplicates).
    for (const c of [released, held, plain, noRecording]) {
      const item = await rawCall(c.callId);
      expect(item.callerEnc, c.callId).toBeUndefined();
      expect(item.callerHash).toEqual(expect.stringMatching(/^[0-9a-f]{64}$/));
      expect(item.erasure).toMatchObject({ d: record.deletionId });
      expect(JSON.stringify(item)).not.toContain(caller.slice(2));
      expect((item.s_completed as Record<string, unknown>).z).toBeUndefined();
      expect((item.s_completed as Record<string, unknown>).u).toBeDefined();
    }
    expect((await rawCall(released.callId)).recording).toBeUndefined();
    expect((await rawCall(held.callId)).recording).toBeDefined();
    for (const c of [otherCaller, otherAccount]) expect((await rawCall(c.callId)).callerEnc).toEqual(expect.any(String));

    // The ledger: every entry exactly as before, and it still verifies.
    expect(await ledgerItemsOf(env, t.accountId)).toEqual(ledgerBefore);
    const verifyAfter = (await request(ledgerDeps, t.analyst, 'GET', '/v1/ledger/verify')).body as { ok: boolean; checkedEntries: number };
    expect({ ...verifyAfter, verifiedAt: null }).toEqual({ ...verifyBefore, verifiedAt: null });

    // Idempotent: the same key answers the stored outcome; the same key for another number is refused.
    const again = await deletion(t.admin, idem, caller);
    expect(again).toEqual({ status: 202, body: record });
    expect(await rejection(deletion(t.admin, idem, freshNumber()))).toMatchObject(PROBLEM.Unprocessable);
    // A late recording job of an erased call stores nothing.
    expect(await storeRecording(t, noRecording, 'skipped')).toBeNull();

    // The held recording is deleted when its dispute closes, and the request completes.
    expect((await resolveDispute(t, held.callId, 'accepted')).status).toBe(200);
    expect(await exists(keys.held)).toBe(false);
    expect((await rawCall(held.callId)).recording).toBeUndefined();
    const done = await getDeletion(t.admin, record.deletionId);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'completed', recordingsDeleted: 3, recordingsDeferred: [], completedAt: expect.any(String) });
    // The accepted dispute appended its credit; no entry was changed or removed, and the ledger verifies.
    const ledgerAfter = await ledgerItemsOf(env, t.accountId);
    expect(ledgerAfter.filter((e) => e.type !== 'credit')).toEqual(ledgerBefore);
    expect(((await request(ledgerDeps, t.analyst, 'GET', '/v1/ledger/verify')).body as { ok: boolean }).ok).toBe(true);
  });

  it('refuses analyst keys, a missing Idempotency-Key and invalid numbers; another account cannot read a request', async () => {
    const t = await newTenant();
    const other = await newTenant();
    expect(await rejection(deletion(t.analyst, 'k1', freshNumber()))).toMatchObject({ status: 403 });
    expect(
      await rejection(PRIVACY_ROUTES[0]!.handle(t.admin, { pathParameters: {}, query: {}, body: '{"callerNumber":"+15125550101"}', contentType: 'application/json', idempotencyKey: undefined }, privacy)),
    ).toMatchObject({ status: 400 });
    expect(await rejection(deletion(t.admin, 'k2', '12'))).toMatchObject({ status: 422 });
    const res = await deletion(t.admin, 'k3', freshNumber());
    expect(res).toMatchObject({ status: 200, body: { status: 'completed', calls: 0 } });
    expect(await rejection(getDeletion(other.admin, (res.body as DeletionRecord).deletionId))).toMatchObject({ status: 404 });
  });
});
