/**
 * The local HTTP adapter and bodies over API Gateway's 10 MiB limit, with a real keep-alive http.Agent holding one
 * socket: the 413 leaves the connection usable for the next request (the body is read to its end and discarded), or,
 * for a body far beyond the limit, says `Connection: close` and the client's next request goes out on a new socket —
 * never a reset under the next request, never a broken pipe instead of the 413.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../../infra/resources';
import { ROUTES } from '../../../infra/routes';
import { startHttpAdapter, type HttpAdapter } from '../../../infra/local/http-adapter';

const LIMIT = 10 * 1024 * 1024;
const MiB = 1024 * 1024;

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly socket: Socket;
  readonly reused: boolean;
}

let adapter: HttpAdapter;
const handled: string[] = [];

beforeAll(async () => {
  adapter = await startHttpAdapter({
    port: 0,
    routes: ROUTES,
    functions: FUNCTIONS,
    loadHandler: async () => async (event) => {
      handled.push(`${event.requestContext.http.method} ${event.rawPath} ${event.body?.length ?? 0}`);
      return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    },
    health: {},
  });
});
afterAll(async () => {
  await adapter?.stop();
});

function send(agent: Agent, path: string, opts: { body?: Buffer; chunked?: boolean; expectContinue?: boolean } = {}): Promise<Answer> {
  const url = new URL(path, adapter.url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.body) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      if (!opts.chunked) headers['content-length'] = String(opts.body.length);
      if (opts.expectContinue) headers.expect = '100-continue';
    }
    const req = request(url, { method: opts.body ? 'POST' : 'GET', agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text, socket: req.socket!, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    if (!opts.body) return void req.end();
    if (opts.expectContinue) return void req.once('continue', () => req.end(opts.body));
    if (opts.chunked) {
      // Several writes without a length: Transfer-Encoding: chunked.
      for (let at = 0; at < opts.body.length; at += MiB) req.write(opts.body.subarray(at, at + MiB));
      return void req.end();
    }
    req.end(opts.body);
  });
}

const webhook = '/webhooks/twilio/acct-1';

describe('a body over the limit on a keep-alive connection', () => {
  it.each([
    ['one byte over, with a length', { body: Buffer.alloc(LIMIT + 1) }],
    ['1 MiB over, with a length', { body: Buffer.alloc(LIMIT + MiB) }],
    ['4 MiB over, chunked', { body: Buffer.alloc(LIMIT + 4 * MiB), chunked: true }],
  ])('%s: 413 problem, then the next request is answered on the same socket', async (_label, opts) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await send(agent, '/v1/ledger');
      expect(first.status).toBe(200);
      const tooLarge = await send(agent, webhook, opts);
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(tooLarge.body)).toMatchObject({ status: 413, title: 'Payload Too Large' });
      expect(tooLarge.headers.connection).toBe('keep-alive');
      const next = await send(agent, '/v1/ledger');
      expect(next.status).toBe(200);
      expect(next.reused).toBe(true);
      expect(next.socket).toBe(first.socket);
    } finally {
      agent.destroy();
    }
  });

  it('far over the limit: 413 with Connection: close, read by the client, and its next request succeeds on a new socket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const opts of [{ body: Buffer.alloc(3 * LIMIT) }, { body: Buffer.alloc(3 * LIMIT), chunked: true }]) {
        const first = await send(agent, '/v1/ledger');
        const tooLarge = await send(agent, webhook, opts);
        expect(tooLarge.status).toBe(413);
        expect(tooLarge.headers.connection).toBe('close');
        expect(JSON.parse(tooLarge.body)).toMatchObject({ status: 413 });
        const next = await send(agent, '/v1/ledger');
        expect(next.status).toBe(200);
        expect(next.socket).not.toBe(first.socket);
      }
    } finally {
      agent.destroy();
    }
  });

  it('Expect: 100-continue with a length over the limit: 413 before the body is sent', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const tooLarge = await send(agent, webhook, { body: Buffer.alloc(LIMIT + 1), expectContinue: true });
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.headers.connection).toBe('close');
      expect((await send(agent, '/v1/ledger')).status).toBe(200);
      // Within the limit the client is told to continue and the handler gets the whole body.
      handled.length = 0;
      const ok = await send(agent, webhook, { body: Buffer.from('CallSid=CA1'), expectContinue: true });
      expect(ok.status).toBe(200);
      expect(handled).toEqual([`POST ${webhook} ${Buffer.from('CallSid=CA1').toString('base64').length}`]);
    } finally {
      agent.destroy();
    }
  });

  it('a body at the limit exactly reaches the handler', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      handled.length = 0;
      const res = await send(agent, webhook, { body: Buffer.alloc(LIMIT) });
      expect(res.status).toBe(200);
      expect(handled).toEqual([`POST ${webhook} ${Buffer.alloc(LIMIT).toString('base64').length}`]);
    } finally {
      agent.destroy();
    }
  });
});
