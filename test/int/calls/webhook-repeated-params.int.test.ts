/**
 * A validly signed Twilio webhook with a repeated parameter, through the real ingest handler (functions/
 * ingest-twilio.ts) and the real ledger writer, against the emulators. Signatures come from the official `twilio`
 * package (the oracle). A repeated parameter no rule reads is accepted (204 once durable in SQS), the call is rated,
 * and the raw body is archived byte for byte; a read parameter with conflicting values is a 400 naming it, with
 * nothing enqueued.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNameForSecret } from '../../../shared/adapters/platform/secrets';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { parseForm } from '../../../shared/domain/calls/providers/twilio';
import type { IngestMessage } from '../../../shared/domain/calls/events';
import { createTenant, freshNumber, hex32, ledgerItemsOf, listKeys, queueDepth, readArchive, receiveAll, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

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
    PUBLIC_BASE_URL: BASE,
    SECRETS_REF: 'env:',
    [envNameForSecret(tenant.account.twilio!.authTokenSecret)]: tenant.authToken,
  });
  ({ handler } = await import('../../../functions/ingest-twilio'));
});
afterAll(async () => {
  await env?.stop();
});

/** A completed callback as Twilio form-encodes it, with `extra` pairs appended in order (names may repeat). */
function completedBody(callSid: string, extra: readonly [string, string][]): string {
  const form = new URLSearchParams({
    AccountSid: tenant.account.twilio!.accountSid,
    CallSid: callSid,
    CallStatus: 'completed',
    CallDuration: '200',
    Direction: 'inbound',
    From: freshNumber(),
    To: tenant.numbers.billable.number,
    Timestamp: new Date(Date.now() - 3_600_000).toUTCString(),
    ApiVersion: '2010-04-01',
  });
  for (const [name, value] of extra) form.append(name, value);
  return form.toString();
}

/** The request as API Gateway hands it over, signed by the oracle over the parsed form (repeated names as lists). */
function signed(body: string): APIGatewayProxyEventV2 {
  const rawPath = `/webhooks/twilio/${tenant.account.accountId}`;
  const signature = twilio.getExpectedTwilioSignature(tenant.authToken, `${BASE}${rawPath}`, parseForm(body));
  return {
    version: '2.0',
    routeKey: 'ANY /webhooks/twilio/{accountId}',
    rawPath,
    rawQueryString: '',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8', 'X-Twilio-Signature': signature },
    requestContext: { http: { method: 'POST', path: rawPath } } as APIGatewayProxyEventV2['requestContext'],
    pathParameters: { accountId: tenant.account.accountId },
    body,
    isBase64Encoded: false,
  };
}

describe('repeated parameters in a signed webhook', () => {
  it('a repeated parameter no rule reads: 204, rated, and the raw body archived byte for byte', async () => {
    const callSid = `CA${hex32()}`;
    const body = completedBody(callSid, [
      ['SipHeader_X-Campaign', 'spring'],
      ['SipHeader_X-Campaign', 'autumn'],
      // A read parameter repeated with the same value is that value.
      ['Direction', 'inbound'],
    ]);
    const request = signed(body);
    // The oracle accepts the very signature sent (repeated values sorted and de-duplicated into the signed string).
    expect(twilio.validateRequest(tenant.authToken, request.headers['X-Twilio-Signature']!, `${BASE}${request.rawPath}`, parseForm(body))).toBe(true);

    const res = await handler(request, context);
    expect(res.statusCode).toBe(204);
    const [queued] = await receiveAll(env, env.names.ingestQueueUrl);
    const message = JSON.parse(queued!) as IngestMessage;
    expect(message.event).toMatchObject({ callId: `twilio:${callSid}`, status: 'completed', direction: 'inbound', durationSec: 200 });
    expect(message.raw.body).toBe(body);

    const result = await processIngestBatch([{ messageId: 'm-repeated', body: queued! }], env.writerDeps);
    expect(result.failedMessageIds).toEqual([]);
    expect((await env.calls.getCall(`twilio:${callSid}`, { consistent: true }))?.rating).toMatchObject({ billable: true, amountCents: 4500 });
    expect((await ledgerItemsOf(env, tenant.account.accountId)).map((e) => e.callId)).toContain(`twilio:${callSid}`);

    const keys = await listKeys(env, env.names.archiveBucket, `raw/${tenant.account.accountId}/`);
    const archived = (await Promise.all(keys.map((k) => readArchive(env, k)))).flat().find((m) => m.event.callId === `twilio:${callSid}`);
    expect(archived?.raw.body).toBe(body);
    expect(Buffer.from(archived!.raw.body, 'utf8').equals(Buffer.from(body, 'utf8'))).toBe(true);
    expect(parseForm(archived!.raw.body)['SipHeader_X-Campaign']).toEqual(['spring', 'autumn']);
  });

  it.each([
    ['CallSid', (): string => `CA${hex32()}`],
    ['CallStatus', (): string => 'busy'],
    ['CallDuration', (): string => '4717'],
  ] as const)('a read parameter with conflicting values (%s): 400 naming it, not echoing values, nothing enqueued', async (name, other) => {
    const value = other();
    const res = await handler(signed(completedBody(`CA${hex32()}`, [[name, value]])), context);
    expect(res.statusCode).toBe(400);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(String(res.body)) as { errors: { field: string; message: string }[] };
    expect(problem.errors).toEqual([{ field: name, message: 'is repeated with different values' }]);
    expect(String(res.body)).not.toContain(value);
    expect(await queueDepth(env, env.names.ingestQueueUrl)).toBe(0);
  });

  it('a repeated AccountSid naming another account is refused as such (403)', async () => {
    const res = await handler(signed(completedBody(`CA${hex32()}`, [['AccountSid', `AC${hex32()}`]])), context);
    expect(res.statusCode).toBe(403);
    expect(await queueDepth(env, env.names.ingestQueueUrl)).toBe(0);
  });
});
