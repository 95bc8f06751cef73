/**
 * End to end, with real emulators frozen under the running local stack: DynamoDB Local's JVM stopped with SIGSTOP
 * (the kernel still accepts connections, nothing answers: a hung dependency, the worst kind), and fauxqs (SQS and
 * S3) holding every request the same way. A dependency outage is a 503 problem with Retry-After, answered within
 * the SDK time budgets (far inside the function's timeout, not when it expires), `/health` names the component,
 * a webhook is 204 only once SQS has it, and everything answers again when the emulator resumes.
 *
 * The bounds asserted are the functions' Lambda timeouts (FUNCTIONS in infra/resources.ts), not the budgets: an
 * answer later than the timeout is what a hang looks like; the measured times are printed.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emulatorControl } from '../../../infra/local/emulators';
import { FUNCTIONS } from '../../../infra/resources';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { ACME, TwilioSender, apiGet, apiKey, callPath, ledgerTable, newCallSid, newCaller, type CallSpec } from '../../support/e2e-harness';

let stack: LocalStack;
let acme: TwilioSender;
let admin: string;

beforeAll(async () => {
  // No scheduled functions: nothing else touches the emulators while they are frozen.
  stack = await startLocalStack({ port: 0, quiet: true, scheduleEveryMs: 0 });
  acme = new TwilioSender(stack, ACME.accountId);
  admin = apiKey(stack, ACME.accountId, 'admin');
});

afterEach(() => {
  // Whatever an assertion left frozen, the next test and stop() find running.
  emulatorControl(stack.endpoints.dynamodb).thaw();
  emulatorControl(stack.endpoints.sqs).thaw();
});

afterAll(async () => {
  await stack?.stop();
});

const call = (): CallSpec => ({ callSid: newCallSid(), from: newCaller(), to: ACME.number });
const completed = (c: CallSpec) => acme.terminal(c, 'completed', Math.floor(Date.now() / 1000) * 1000, 240);

/** Calls `f` until `done` holds for its answer (every 200 ms, at most 60 s), returning that answer. */
async function until<T>(f: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await f();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await f();
  return { value, ms: Date.now() - started };
}

async function health(): Promise<{ status: number; body: { status: string; components: Record<string, string>; failures?: Record<string, string> } }> {
  const res = await fetch(`${stack.baseUrl}/health`);
  return { status: res.status, body: (await res.json()) as never };
}

/** The deployed `GET /health` (the api function's route; locally the HTTP adapter answers /health itself). */
async function deployedHealth(): Promise<APIGatewayProxyStructuredResultV2> {
  const { handler } = await import('../../../functions/api');
  const event = {
    version: '2.0',
    routeKey: 'GET /health',
    rawPath: '/health',
    rawQueryString: '',
    headers: {},
    requestContext: { http: { method: 'GET', path: '/health', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, requestId: 'health' },
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
  const context = { functionName: 'api', awsRequestId: 'health', getRemainingTimeInMillis: () => FUNCTIONS.api.timeoutSec * 1000 } as unknown as Context;
  return (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
}

describe('DynamoDB frozen (SIGSTOP on the DynamoDB Local JVM)', () => {
  it('API reads answer 503 + Retry-After well inside the api timeout; /health names dynamodb; SIGCONT and all recovers', async () => {
    // Warm: the key is cached (as in a warm container), the ingest function has the account.
    expect((await apiGet(stack, '/v1/calls', admin)).status).toBe(200);
    await acme.deliver(acme.ringing(call()));
    await stack.waitForIdle(20_000);

    emulatorControl(stack.endpoints.dynamodb).freeze();

    const read = await timed(() => fetch(`${stack.baseUrl}/v1/ledger?campaignId=${ACME.campaignId}`, { headers: { authorization: `Bearer ${admin}` } }));
    const problem = (await read.value.json()) as { type: string; status: number; detail: string };
    console.info(`frozen DynamoDB: GET /v1/ledger answered ${read.value.status} in ${read.ms} ms`);
    expect(read.value.status).toBe(503);
    expect(read.value.headers.get('content-type')).toBe('application/problem+json');
    expect(read.value.headers.get('retry-after')).toBe('5');
    expect(problem).toMatchObject({ type: 'https://callledger.dev/problems/service-unavailable', status: 503 });
    expect(read.ms).toBeLessThan(FUNCTIONS.api.timeoutSec * 1000);

    const detail = await timed(() => apiGet(stack, callPath('twilio:CA0000000000000000000000000000dead'), admin));
    expect(detail.value.status).toBe(503);
    expect(detail.ms).toBeLessThan(FUNCTIONS.api.timeoutSec * 1000);

    const local = await timed(health);
    console.info(`frozen DynamoDB: /health answered ${local.value.status} in ${local.ms} ms`);
    expect(local.value.status).toBe(503);
    expect(local.value.body.components).toMatchObject({ dynamodb: 'down', sqs: 'up', s3: 'up' });
    expect(local.ms).toBeLessThan(FUNCTIONS.api.timeoutSec * 1000);

    const deployed = await timed(deployedHealth);
    console.info(`frozen DynamoDB: the api's GET /health answered ${deployed.value.statusCode} in ${deployed.ms} ms`);
    expect(deployed.value.statusCode).toBe(503);
    expect(deployed.value.headers?.['retry-after']).toBe('5');
    expect(JSON.parse(deployed.value.body!)).toEqual({
      status: 'degraded',
      components: { dynamodb: 'down', sqs: 'up', s3: 'up' },
      failures: { dynamodb: 'timeout' },
    });
    expect(deployed.ms).toBeLessThan(FUNCTIONS.api.timeoutSec * 1000);

    // The webhook path does not read DynamoDB in a warm container: still accepted, because SQS has it.
    const accepted = await acme.post(acme.ringing(call()));
    expect(accepted.status).toBe(204);

    emulatorControl(stack.endpoints.dynamodb).thaw();

    expect((await apiGet(stack, '/v1/ledger', admin, { campaignId: ACME.campaignId })).status).toBe(200);
    expect((await health()).status).toBe(200);
    expect((await deployedHealth()).statusCode).toBe(200);
  });
});

describe('SQS down (fauxqs holding every request)', () => {
  it('a webhook is 503 + Retry-After while SQS cannot take it, 204 once it can, and is billed once', async () => {
    const c = call();
    const form = completed(c);

    emulatorControl(stack.endpoints.sqs).freeze();

    const refused = await timed(() => acme.post(form));
    const problem = (await refused.value.json()) as { type: string; status: number };
    console.info(`frozen SQS: the webhook answered ${refused.value.status} in ${refused.ms} ms`);
    expect(refused.value.status).toBe(503);
    expect(refused.value.headers.get('retry-after')).toBe('5');
    expect(problem).toMatchObject({ type: 'https://callledger.dev/problems/service-unavailable', status: 503 });
    // Inside the ingest function's timeout, and inside Twilio's 15 s read timeout.
    expect(refused.ms).toBeLessThan(FUNCTIONS.ingestTwilio.timeoutSec * 1000);

    const local = await health();
    expect(local.status).toBe(503);
    expect(local.body.components).toMatchObject({ dynamodb: 'up', sqs: 'down', s3: 'down' });
    const deployed = await deployedHealth();
    expect(deployed.statusCode).toBe(503);
    expect(JSON.parse(deployed.body!)).toMatchObject({ components: { dynamodb: 'up', sqs: 'down', s3: 'down' }, failures: { sqs: 'timeout', s3: 'timeout' } });

    emulatorControl(stack.endpoints.sqs).thaw();

    // Twilio's retry of the same callback.
    await acme.deliver(form);
    // Polled rather than waitForIdle: the webhook accepted while DynamoDB was frozen failed in the writer and stays
    // in flight for the queue's visibility timeout before its redelivery.
    const detail = await until(
      () => apiGet<{ status: string; billable: boolean }>(stack, callPath(`twilio:${c.callSid}`), admin),
      (r) => r.status === 200 && r.body.billable === true,
    );
    expect(detail.body).toMatchObject({ status: 'completed', billable: true });
    // The send that timed out may have reached the queue after all (at-least-once): still one charge.
    const charges = (await ledgerTable(stack)).filter((e) => e.callId === `twilio:${c.callSid}`);
    expect(charges).toHaveLength(1);
    expect((await health()).status).toBe(200);
  });
});
