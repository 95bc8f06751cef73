import { request } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../../infra/resources';
import { ROUTES } from '../../../infra/routes';
import { REPO_ROOT } from '../../../infra/local/emulators';
import { startHttpAdapter, type ComponentHealth, type HttpAdapter, type HttpHandler } from '../../../infra/local/http-adapter';

interface Echo {
  event: APIGatewayProxyEventV2;
  loadedWith: string | null;
  context: { functionName: string; memoryLimitInMB: string; awsRequestId: string; remainingMs: number };
}

/** node:http rather than fetch: fetch cannot send a Cookie header and hides Set-Cookie. */
function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolveRes, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveRes({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('local HTTP adapter (API Gateway HTTP API, payload 2.0)', () => {
  let adapter: HttpAdapter;
  const loads: string[] = [];
  let health: ComponentHealth = 'up';

  beforeAll(async () => {
    process.env.FIXTURE_MARKER = 'set-before-import';
    adapter = await startHttpAdapter({
      port: 0,
      routes: ROUTES,
      functions: FUNCTIONS,
      loadHandler: async (fn) => {
        loads.push(fn);
        const mod = (await import(pathToFileURL(join(REPO_ROOT, 'test/support/echo-handler.ts')).href)) as { handler: HttpHandler };
        return mod.handler;
      },
      health: { dynamodb: async () => 'up', sqs: async () => health },
    });
  });
  afterAll(async () => {
    await adapter?.stop();
    delete process.env.FIXTURE_MARKER;
  });

  it('builds the v2 event for a form POST: route key, raw path and query, cookies, base64 body', async () => {
    const form = 'CallSid=CA123&From=%2B15125550100&CallStatus=ringing';
    const res = await send(`${adapter.url}/webhooks/twilio/acme-roofing?a=1&a=2&b=x%20y`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': 'sig=',
        Cookie: 'c1=v1; c2=v2',
        'User-Agent': 'TwilioProxy/1.1',
      },
      body: form,
    });
    expect(res.status).toBe(200);
    const { event, loadedWith, context } = JSON.parse(res.body.toString()) as Echo;
    expect(loadedWith).toBe('set-before-import');
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'ANY /webhooks/twilio/{accountId}',
      rawPath: '/webhooks/twilio/acme-roofing',
      rawQueryString: 'a=1&a=2&b=x%20y',
      cookies: ['c1=v1', 'c2=v2'],
      queryStringParameters: { a: '1,2', b: 'x y' },
      pathParameters: { accountId: 'acme-roofing' },
      isBase64Encoded: true,
      requestContext: {
        accountId: expect.any(String),
        apiId: expect.any(String),
        domainName: new URL(adapter.url).host,
        routeKey: 'ANY /webhooks/twilio/{accountId}',
        stage: '$default',
        http: { method: 'POST', path: '/webhooks/twilio/acme-roofing', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'TwilioProxy/1.1' },
      },
    });
    // API Gateway base64-encodes form posts.
    expect(Buffer.from(event.body!, 'base64').toString('utf8')).toBe(form);
    expect(event.headers['x-twilio-signature']).toBe('sig=');
    expect(event.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(event.headers).not.toHaveProperty('cookie');
    expect(Object.keys(event.headers).every((h) => h === h.toLowerCase())).toBe(true);
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(event.requestContext.timeEpoch - Date.now())).toBeLessThan(10_000);
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(context.awsRequestId).toBe(event.requestContext.requestId);
    expect(context.memoryLimitInMB).toBe(String(FUNCTIONS.ingestTwilio.memoryMb));
    expect(context.remainingMs).toBeGreaterThan(0);
    expect(context.remainingMs).toBeLessThanOrEqual(FUNCTIONS.ingestTwilio.timeoutSec * 1000);
  });

  it('passes JSON bodies as text and omits absent parts', async () => {
    const res = await send(`${adapter.url}/webhooks/twilio/x`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"k":"välue"}',
    });
    const { event } = JSON.parse(res.body.toString()) as Echo;
    expect(event.body).toBe('{"k":"välue"}');
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext.http.method).toBe('PUT');
    expect(event.cookies).toBeUndefined();
    expect(event.queryStringParameters).toBeUndefined();
    expect(event.rawQueryString).toBe('');

    const get = JSON.parse((await send(`${adapter.url}/v1/calls`)).body.toString()) as Echo;
    expect(get.event.body).toBeUndefined();
    expect(get.event.isBase64Encoded).toBe(false);
    expect(get.event.pathParameters).toBeUndefined();
  });

  it('matches path templates and decodes path parameters; explicit methods only', async () => {
    const one = JSON.parse((await send(`${adapter.url}/v1/calls/twilio%3ACA42`)).body.toString()) as Echo;
    expect(one.event.routeKey).toBe('GET /v1/calls/{callId}');
    expect(one.event.rawPath).toBe('/v1/calls/twilio%3ACA42');
    expect(one.event.pathParameters).toEqual({ callId: 'twilio:CA42' });

    const list = JSON.parse((await send(`${adapter.url}/v1/calls?billable=true`)).body.toString()) as Echo;
    expect(list.event.routeKey).toBe('GET /v1/calls');

    // GET-only routes do not match other methods; unknown paths are 404 problem+json.
    for (const [method, path] of [
      ['POST', '/v1/calls'],
      ['GET', '/v1/nothing'],
      ['GET', '/v1/calls/a/b'],
    ] as const) {
      const res = await send(`${adapter.url}${path}`, { method });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(res.body.toString())).toMatchObject({ type: 'https://callledger.dev/problems/not-found', status: 404 });
    }
    expect(new Set(loads)).toEqual(new Set(['ingestTwilio', 'api'])); // each handler loaded once, lazily
    expect(loads).toHaveLength(2);
  });

  it('writes back status, headers, cookies and a base64 body decoded', async () => {
    const res = await send(`${adapter.url}/v1/ledger`, { headers: { 'x-fixture-mode': 'binary' } });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['x-extra']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect([...res.body]).toEqual([0, 1, 2, 253, 254, 255]);
  });

  it('infers 200 JSON for a bare result and answers 500 when the handler throws, as API Gateway does', async () => {
    const plain = await send(`${adapter.url}/v1/ledger`, { headers: { 'x-fixture-mode': 'plain' } });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('application/json');
    expect(JSON.parse(plain.body.toString())).toEqual({ hello: 'world' });

    const thrown = await send(`${adapter.url}/v1/ledger`, { headers: { 'x-fixture-mode': 'throw' } });
    expect(thrown.status).toBe(500);
    expect(JSON.parse(thrown.body.toString())).toEqual({ message: 'Internal Server Error' });
  });

  it('GET /health is 200 only when every component is up, else 503 naming the failing one', async () => {
    health = { down: 'connection refused' };
    const down = await send(`${adapter.url}/health`);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body.toString())).toEqual({
      status: 'degraded',
      components: { dynamodb: 'up', sqs: 'down' },
      failures: { sqs: 'connection refused' },
    });
    health = 'up';
    const up = await send(`${adapter.url}/health`);
    expect(up.status).toBe(200);
    expect(JSON.parse(up.body.toString())).toEqual({ status: 'ok', components: { dynamodb: 'up', sqs: 'up' } });
  });
});
