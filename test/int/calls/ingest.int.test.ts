/**
 * The ingest Lambda handler (functions/ingest-twilio.ts, config from process.env at module load) against the
 * emulators. Signatures come from the official `twilio` package (the oracle); every rejected request must leave
 * no trace in SQS, S3 or DynamoDB.
 */
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { envNameForSecret } from '../../../shared/adapters/platform/secrets';
import type { IngestMessage } from '../../../shared/domain/calls/events';
import { createTenant, freshNumber, hex32, listKeys, queueDepth, receiveAll, scanTable, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

const BASE = 'https://hooks.callledger.test';
let env: CoreEnv;
let tenant: Tenant;
let handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const context = { functionName: 'ingest', awsRequestId: 'test', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

beforeAll(async () => {
  env = await startCoreEnv();
  tenant = await createTenant(env.config);
  Object.assign(process.env, env.emulators.env, {
    MAIN_TABLE: env.names.mainTable,
    INGEST_QUEUE_URL: env.names.ingestQueueUrl,
    PUBLIC_BASE_URL: `${BASE}/`, // the trailing slash must not break signatures
    SECRETS_REF: 'env:',
    [envNameForSecret(tenant.account.twilio!.authTokenSecret)]: tenant.authToken,
  });
  ({ handler } = await import('../../../functions/ingest-twilio'));
});
afterAll(async () => {
  await env?.stop();
});

function completedParams(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: tenant.account.twilio!.accountSid,
    CallSid: `CA${hex32()}`,
    CallStatus: 'completed',
    CallDuration: '184',
    Direction: 'inbound',
    From: freshNumber(),
    To: tenant.numbers.billable.number,
    Timestamp: 'Tue, 24 Nov 2026 02:13:17 +0000',
    SequenceNumber: '3',
    ApiVersion: '2010-04-01',
    ...overrides,
  };
}

function request(args: {
  params?: Record<string, string>;
  body?: string;
  accountId?: string;
  method?: string;
  contentType?: string | null;
  signature?: string | null;
  signWith?: string;
  query?: string;
  base64?: boolean;
}): APIGatewayProxyEventV2 {
  const accountId = args.accountId ?? tenant.account.accountId;
  const params = args.params ?? completedParams();
  const body = args.body ?? new URLSearchParams(params).toString();
  const rawPath = `/webhooks/twilio/${accountId}`;
  const url = `${BASE}${rawPath}${args.query ? `?${args.query}` : ''}`;
  const signature =
    args.signature === undefined ? twilio.getExpectedTwilioSignature(args.signWith ?? tenant.authToken, url, params) : args.signature;
  const headers: Record<string, string> = {};
  if (args.contentType !== null) headers['Content-Type'] = args.contentType ?? 'application/x-www-form-urlencoded; charset=UTF-8';
  if (signature !== null) headers['X-Twilio-Signature'] = signature;
  return {
    version: '2.0',
    routeKey: 'ANY /webhooks/twilio/{accountId}',
    rawPath,
    rawQueryString: args.query ?? '',
    headers,
    requestContext: { http: { method: args.method ?? 'POST', path: rawPath } } as APIGatewayProxyEventV2['requestContext'],
    pathParameters: { accountId },
    body: args.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: args.base64 ?? false,
  };
}

async function noTrace(): Promise<void> {
  expect(await queueDepth(env, env.names.ingestQueueUrl)).toBe(0);
  expect(await listKeys(env, env.names.archiveBucket)).toEqual([]);
  expect((await scanTable(env, env.names.mainTable)).filter((i) => String(i.pk).startsWith('CALL#'))).toEqual([]);
}

describe('ingest-twilio handler', () => {
  it('accepts a signed webhook: 204 after the canonical event is on the queue', async () => {
    const params = completedParams();
    const res = await handler(request({ params, query: 'src=number' }), context);
    expect(res.statusCode).toBe(204);
    const [body] = await receiveAll(env, env.names.ingestQueueUrl);
    const message = JSON.parse(body!) as IngestMessage;
    expect(message.v).toBe(1);
    expect(message.event).toMatchObject({
      kind: 'call.status',
      accountId: tenant.account.accountId,
      callId: `twilio:${params.CallSid}`,
      status: 'completed',
      durationSec: 184,
      occurredAt: '2026-11-24T02:13:17.000Z',
    });
    expect(message.raw).toMatchObject({ contentType: 'application/x-www-form-urlencoded; charset=UTF-8', body: new URLSearchParams(params).toString() });
    // The oracle agrees with what was accepted.
    expect(twilio.validateRequest(tenant.authToken, request({ params }).headers['X-Twilio-Signature']!, `${BASE}/webhooks/twilio/${tenant.account.accountId}`, params)).toBe(true);
  });

  it('accepts a base64-encoded body', async () => {
    const res = await handler(request({ base64: true }), context);
    expect(res.statusCode).toBe(204);
    expect(await receiveAll(env, env.names.ingestQueueUrl)).toHaveLength(1);
  });

  const body = (res: APIGatewayProxyStructuredResultV2) => JSON.parse(String(res.body)) as { type: string; status: number; errors?: { field: string }[] };

  it.each([
    ['GET', 405, 'method-not-allowed', () => request({ method: 'GET' })],
    ['JSON content type', 415, 'unsupported-media-type', () => request({ contentType: 'application/json' })],
    ['no content type', 415, 'unsupported-media-type', () => request({ contentType: null })],
    ['body over 64 KiB', 413, 'payload-too-large', () => request({ params: completedParams({ Padding: 'x'.repeat(65 * 1024) }) })],
    ['unknown account', 404, 'not-found', () => request({ accountId: 'no-such-account' })],
    ['missing signature', 403, 'bad-signature', () => request({ signature: null })],
    ['forged signature', 403, 'bad-signature', () => request({ signWith: randomBytes(16).toString('hex') })],
    [
      'tampered body',
      403,
      'bad-signature',
      () => {
        const params = completedParams();
        const signed = request({ params });
        return { ...signed, body: new URLSearchParams({ ...params, CallDuration: '9999' }).toString() };
      },
    ],
    ['signed for another URL', 403, 'bad-signature', () => ({ ...request({ query: 'a=1' }), rawQueryString: 'a=2' })],
    ['another AccountSid', 403, 'forbidden', () => request({ params: completedParams({ AccountSid: `AC${hex32()}` }) })],
  ] as const)('%s → %i %s problem+json, no trace', async (_name, status, slug, make) => {
    const res = await handler(make(), context);
    expect(res.statusCode).toBe(status);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    expect(body(res)).toMatchObject({ type: `https://callledger.dev/problems/${slug}`, status });
    if (status === 405) expect(res.headers?.allow).toBe('POST');
    await noTrace();
  });

  it('400 lists every malformed field', async () => {
    const res = await handler(request({ params: completedParams({ CallSid: 'CAnope', CallStatus: 'exploded', CallDuration: 'long' }) }), context);
    expect(res.statusCode).toBe(400);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    expect(body(res).errors?.map((e) => e.field).sort()).toEqual(['CallDuration', 'CallSid', 'CallStatus']);
    // Field errors never echo values (they may be phone numbers).
    expect(String(res.body)).not.toContain('exploded');
    await noTrace();
  });

  it('never logs the caller number, accepted or rejected', async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => void lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) => vi.spyOn(console, m).mockImplementation(capture));
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (capture(String(chunk)), true));
    try {
      const caller = freshNumber();
      expect((await handler(request({ params: completedParams({ From: caller }) }), context)).statusCode).toBe(204);
      expect((await handler(request({ params: completedParams({ From: caller }), signature: 'forged' }), context)).statusCode).toBe(403);
      expect((await handler(request({ params: completedParams({ From: caller, CallStatus: 'nope' }) }), context)).statusCode).toBe(400);
      expect(lines.join('\n')).toContain('webhook accepted');
      expect(lines.join('\n')).toContain('webhook rejected');
      expect(lines.join('\n')).not.toContain(caller.slice(1));
    } finally {
      for (const s of spies) s.mockRestore();
      write.mockRestore();
      await receiveAll(env, env.names.ingestQueueUrl);
    }
  });
});
