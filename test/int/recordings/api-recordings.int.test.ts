/**
 * The recording fetcher and the read API Lambda handlers (config from process.env at module load) against the
 * emulators and the fake Twilio media host.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRecordingBytes, startFakeMedia, type FakeMedia } from '../../../infra/local/fake-media';
import { configItems } from '../../../shared/adapters/calls/main-repo';
import { envNameForSecret } from '../../../shared/adapters/platform/secrets';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import type { RecordingJob } from '../../../shared/app/recordings/ports';
import { maskNumber } from '../../../shared/domain/calls/caller';
import {
  apiFunctionEnv,
  createTenant,
  freshNumber,
  hex32,
  lifecycle,
  receiveAll,
  recordingEvent,
  records,
  sha256,
  startCoreEnv,
  type CoreEnv,
  type Tenant,
} from '../../support/writer-fixtures';
import { checkedApiHandler } from '../../contract/hooks';

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const context = { functionName: 'test', awsRequestId: 'test', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

let env: CoreEnv;
let media: FakeMedia;
let a: Tenant;
let b: Tenant;
const keyA = randomBytes(24).toString('base64url');
const keyB = randomBytes(24).toString('base64url');
let api: HttpHandler;
let fetcher: SqsHandler;

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-10T12:00:00.000Z');
let billable: ReturnType<typeof lifecycle>;
let duplicate: ReturnType<typeof lifecycle>;
let busy: ReturnType<typeof lifecycle>;
let second: ReturnType<typeof lifecycle>;
let otherAccountCall: ReturnType<typeof lifecycle>;
const recordingSid = `RE${hex32()}`;

function sqsEvent(bodies: readonly string[]): SQSEvent {
  return {
    Records: bodies.map((body, i) => ({ messageId: `r-${i}-${randomBytes(4).toString('hex')}`, body }) as SQSEvent['Records'][number]),
  };
}

function get(path: string, key: string | null, query: Record<string, string> = {}): APIGatewayProxyEventV2 {
  const qs = new URLSearchParams(query).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: qs,
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
    queryStringParameters: Object.keys(query).length > 0 ? query : undefined,
    requestContext: { http: { method: 'GET', path } } as APIGatewayProxyEventV2['requestContext'],
    isBase64Encoded: false,
  };
}

const json = (res: APIGatewayProxyStructuredResultV2) => JSON.parse(String(res.body));

beforeAll(async () => {
  env = await startCoreEnv();
  a = await createTenant(env.config, { duplicateWindowHours: 24, priceCents: 4500 });
  b = await createTenant(env.config);
  media = await startFakeMedia({
    credentials: new Map([
      [a.account.twilio!.accountSid, a.authToken],
      [b.account.twilio!.accountSid, b.authToken],
    ]),
  });
  await env.config.putConfigItems([
    configItems.apiKey(sha256(keyA), { accountId: a.account.accountId, role: 'analyst', label: 'a' }),
    configItems.apiKey(sha256(keyB), { accountId: b.account.accountId, role: 'admin', label: 'b' }),
  ]);
  Object.assign(process.env, apiFunctionEnv(env), {
    RECORDING_URL_ALLOWED_HOSTS: new URL(media.baseUrl).host,
    [envNameForSecret(a.account.twilio!.authTokenSecret)]: a.authToken,
    [envNameForSecret(b.account.twilio!.authTokenSecret)]: b.authToken,
  });
  // Every exchange is checked against the OpenAPI document the handler serves (test/contract/hooks.ts).
  api = checkedApiHandler((await import('../../../functions/api')).handler);
  ({ handler: fetcher } = await import('../../../functions/recording-fetcher'));

  const acct = a.account.accountId;
  const caller = freshNumber();
  billable = lifecycle({ accountId: acct, from: caller, to: a.numbers.billable.number, startMs: T0, durationSec: 200 });
  duplicate = lifecycle({ accountId: acct, from: caller, to: a.numbers.second.number, startMs: T0 + HOUR, durationSec: 200 });
  busy = lifecycle({ accountId: acct, from: freshNumber(), to: a.numbers.billable.number, startMs: T0 + 2 * HOUR, durationSec: 0, final: 'busy' });
  second = lifecycle({ accountId: acct, from: freshNumber(), to: a.numbers.second.number, startMs: T0 + 3 * HOUR, durationSec: 300 });
  otherAccountCall = lifecycle({ accountId: b.account.accountId, from: freshNumber(), to: b.numbers.billable.number, startMs: T0, durationSec: 300 });
  const recording = recordingEvent({
    accountId: acct,
    callSid: billable.callSid,
    recordingSid,
    recordingUrl: media.recordingUrl(a.account.twilio!.accountSid, recordingSid),
    occurredAt: new Date(T0 + 201_000).toISOString(),
    durationSec: 199,
  });
  // Recording before completed, and the rest in later batches.
  for (const batch of [[recording], billable.events, duplicate.events, [...busy.events, ...second.events], otherAccountCall.events]) {
    expect((await processIngestBatch(records(batch), env.writerDeps)).failedMessageIds).toEqual([]);
  }
});

afterAll(async () => {
  await media?.stop();
  await env?.stop();
});

describe('recording-fetcher handler', () => {
  it('streams the recording to S3 and records sha256 and bytes; a second delivery is skipped', async () => {
    const jobs = await receiveAll(env, env.names.recordingsQueueUrl);
    expect(jobs).toHaveLength(1);
    expect(await fetcher(sqsEvent(jobs), context)).toEqual({ batchItemFailures: [] });
    const expected = fakeRecordingBytes(recordingSid);
    const call = await env.calls.getCall(billable.callId, { consistent: true });
    expect(call?.recording).toMatchObject({
      recordingId: recordingSid,
      key: `recordings/${a.account.accountId}/${billable.callId}.wav`,
      sha256: createHash('sha256').update(expected).digest('hex'),
      bytes: expected.length,
      durationSec: 199,
      contentType: 'audio/x-wav',
    });
    expect(media.requestsFor(recordingSid)).toBe(1);

    expect(await fetcher(sqsEvent(jobs), context)).toEqual({ batchItemFailures: [] });
    expect(media.requestsFor(recordingSid)).toBe(1);
  });

  it('fails the message when the media host errors or the host is not allowed', async () => {
    const sid = `RE${hex32()}`;
    const job = (url: string): RecordingJob => ({ v: 1, accountId: a.account.accountId, callId: second.callId, recordingId: sid, recordingUrl: url, recordingDurationSec: 10 });
    media.failNext(sid, 1, 503);
    const event = sqsEvent([
      JSON.stringify(job(media.recordingUrl(a.account.twilio!.accountSid, sid))),
      JSON.stringify(job(`https://evil.example.com/2010-04-01/Accounts/${a.account.twilio!.accountSid}/Recordings/${sid}`)),
      '{"v":1}',
    ]);
    const res = await fetcher(event, context);
    expect(res.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(event.Records.map((r) => r.messageId));
    expect((await env.calls.getCall(second.callId, { consistent: true }))?.recording).toBeNull();

    // The retry succeeds.
    expect(await fetcher(sqsEvent([JSON.stringify(job(media.recordingUrl(a.account.twilio!.accountSid, sid)))]), context)).toEqual({ batchItemFailures: [] });
    expect((await env.calls.getCall(second.callId, { consistent: true }))?.recording?.recordingId).toBe(sid);
  });
});

describe('api handler', () => {
  it('GET /v1/calls/{callId} answers the documented shape with a presigned recording URL', async () => {
    const res = await api(get(`/v1/calls/${billable.callId}`, keyA), context);
    expect(res.statusCode).toBe(200);
    const body = json(res);
    const expected = fakeRecordingBytes(recordingSid);
    expect(body).toEqual({
      callId: billable.callId,
      accountId: a.account.accountId,
      campaignId: a.campaign.campaignId,
      publisherId: a.numbers.billable.publisherId,
      subSource: 'search',
      status: 'completed',
      durationSec: 200,
      billable: true,
      amountCents: 4500,
      reasons: [],
      startedAt: '2026-11-10T12:00:00.000Z',
      endedAt: '2026-11-10T12:03:20.000Z',
      recording: { sha256: createHash('sha256').update(expected).digest('hex'), bytes: expected.length, url: expect.any(String) },
      outcome: null,
      qa: null,
      // keyA is an analyst key: the caller is masked (shared/domain/privacy/pii.ts).
      caller: maskNumber(billable.events[0]!.kind === 'call.status' ? billable.events[0]!.from : ''),
      // The quality signals beside the billing: no STIR/SHAKEN attestation in these events makes robocall_suspect.
      signals: ['robocall_suspect'],
      crossCallSignals: null,
      network: null,
      // Not answered by the voice URL: no routing audit.
      routing: null,
    });
    const download = await fetch(body.recording.url);
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(body.recording.sha256);
    expect(body.recording.url).toMatch(/X-Amz-Expires=900/);
  });

  it('answers reasons for a non-billable call, and the caller number is not exposed', async () => {
    const res = await api(get(`/v1/calls/${encodeURIComponent(duplicate.callId)}`, keyA), context);
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({ billable: false, amountCents: 0, reasons: ['duplicate_caller'], recording: null });
    expect(String(res.body)).not.toContain(duplicate.events[0]!.kind === 'call.status' ? duplicate.events[0]!.from : '');
  });

  it('401 without or with an unknown key; another account\'s call answers exactly as an unknown one (404)', async () => {
    const noKey = await api(get(`/v1/calls/${billable.callId}`, null), context);
    expect(noKey.statusCode).toBe(401);
    expect(noKey.headers?.['content-type']).toBe('application/problem+json');
    expect(noKey.headers?.['www-authenticate']).toBe('Bearer');
    expect((await api(get(`/v1/calls/${billable.callId}`, 'not-a-key'), context)).statusCode).toBe(401);
    const other = await api(get(`/v1/calls/${billable.callId}`, keyB), context);
    const unknown = await api(get(`/v1/calls/twilio:CA${hex32()}`, keyA), context);
    expect(other.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
    const { instance: _a, ...otherBody } = json(other);
    const { instance: _b, ...unknownBody } = json(unknown);
    expect(otherBody).toEqual(unknownBody);
    expect((await api(get('/v1/nothing', keyA), context)).statusCode).toBe(404);
    const post = await api({ ...get('/v1/calls', keyA), requestContext: { http: { method: 'POST', path: '/v1/calls' } } as APIGatewayProxyEventV2['requestContext'] }, context);
    expect(post.statusCode).toBe(405);
    expect(post.headers?.allow).toBe('GET');
  });

  it('GET /v1/calls lists rated calls newest first, filters, and pages with a cursor bound to the account', async () => {
    const all = json(await api(get('/v1/calls', keyA), context));
    expect(all.calls.map((c: { callId: string }) => c.callId)).toEqual([second.callId, busy.callId, duplicate.callId, billable.callId]);
    expect(all.cursor).toBeNull();

    const billableOnly = json(await api(get('/v1/calls', keyA, { billable: 'true' }), context));
    expect(billableOnly.calls.map((c: { callId: string }) => c.callId)).toEqual([second.callId, billable.callId]);

    const byPublisher = json(await api(get('/v1/calls', keyA, { publisherId: a.numbers.second.publisherId }), context));
    expect(byPublisher.calls.map((c: { callId: string }) => c.callId)).toEqual([second.callId, duplicate.callId]);

    const window = json(await api(get('/v1/calls', keyA, { from: new Date(T0 + HOUR).toISOString(), to: new Date(T0 + 3 * HOUR).toISOString() }), context));
    expect(window.calls.map((c: { callId: string }) => c.callId)).toEqual([busy.callId, duplicate.callId]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = json(await api(get('/v1/calls', keyA, { limit: '1', ...(cursor ? { cursor } : {}) }), context));
      expect(page.calls.length).toBeLessThanOrEqual(1);
      seen.push(...page.calls.map((c: { callId: string }) => c.callId));
      cursor = page.cursor;
      if (seen.length === 1) {
        // A cursor issued to account A is rejected for account B.
        const stolen = await api(get('/v1/calls', keyB, { cursor: cursor! }), context);
        expect(stolen.statusCode).toBe(400);
        expect(json(stolen).errors).toEqual([{ field: 'cursor', message: expect.any(String) }]);
      }
    } while (cursor !== null);
    expect(seen).toEqual(all.calls.map((c: { callId: string }) => c.callId));
  });

  it('GET /v1/ledger answers entries and totals over the whole filtered range', async () => {
    const res = await api(get('/v1/ledger', keyA), context);
    expect(res.statusCode).toBe(200);
    const body = json(res);
    expect(body.entries.map((e: { callId: string }) => e.callId)).toEqual([billable.callId, second.callId]);
    expect(body.entries[0]).toMatchObject({ entryId: `charge:${billable.callId}`, type: 'charge', amountCents: 4500, currency: 'USD', termsVersion: 1 });
    expect(body.entries[0]).not.toHaveProperty('pk');
    expect(body.totals).toEqual({ chargesCents: 9000, creditsCents: 0, reversalsCents: 0, netCents: 9000, count: 2 });
    expect(body.cursor).toBeNull();

    const page1 = json(await api(get('/v1/ledger', keyA, { limit: '1' }), context));
    expect(page1.entries).toHaveLength(1);
    expect(page1.totals).toEqual({ chargesCents: 9000, creditsCents: 0, reversalsCents: 0, netCents: 9000, count: 2 });
    const page2 = json(await api(get('/v1/ledger', keyA, { limit: '1', cursor: page1.cursor }), context));
    expect(page2.entries.map((e: { callId: string }) => e.callId)).toEqual([second.callId]);

    const filtered = json(await api(get('/v1/ledger', keyA, { publisherId: a.numbers.second.publisherId }), context));
    expect(filtered.totals).toEqual({ chargesCents: 4500, creditsCents: 0, reversalsCents: 0, netCents: 4500, count: 1 });
    const ranged = json(await api(get('/v1/ledger', keyA, { to: new Date(T0 + 3 * HOUR).toISOString() }), context));
    expect(ranged.entries.map((e: { callId: string }) => e.callId)).toEqual([billable.callId]);

    const otherAccount = json(await api(get('/v1/ledger', keyB), context));
    expect(otherAccount.entries.map((e: { callId: string }) => e.callId)).toEqual([otherAccountCall.callId]);
  });

  it('400 problem+json lists every invalid query parameter', async () => {
    const res = await api(get('/v1/ledger', keyA, { from: 'yesterday', limit: '0', bogus: '1', campaignId: 'Not An Id' }), context);
    expect(res.statusCode).toBe(400);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    expect(json(res).errors.map((e: { field: string }) => e.field).sort()).toEqual(['bogus', 'campaignId', 'from', 'limit']);
    const badFlag = await api(get('/v1/calls', keyA, { billable: 'yes' }), context);
    expect(json(badFlag).errors).toEqual([{ field: 'billable', message: 'must be true or false' }]);
    const reversed = await api(get('/v1/calls', keyA, { from: '2026-11-11T00:00:00+02:00', to: '2026-11-10T00:00:00Z' }), context);
    expect(reversed.statusCode).toBe(400);
    expect(json(reversed).errors).toEqual([{ field: 'to', message: 'must be after from' }]);
  });
});
