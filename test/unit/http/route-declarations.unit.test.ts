/**
 * Routes declared once: the mount enforces each declaration's `auth`, the handler gets the query its rules parsed, and
 * the OpenAPI document gives each query parameter its rule's schema.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createRouter, mount } from '../../../shared/adapters/http/router';
import { problemResponse } from '../../../shared/adapters/http/problems';
import { openApiDocument } from '../../../shared/adapters/http/openapi';
import { route, type Route } from '../../../shared/app/kernel/route';
import { flag, pageSize } from '../../../shared/app/kernel/query';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { LEDGER_ROUTES, type LedgerRouteDeps } from '../../../shared/app/ledger/ledger-routes';
import { ROUTE_DECLARATIONS } from '../../../shared/app/http/routes';
import { ROUTES } from '../../../infra/routes';

const KEYS: Record<string, ApiKeyRecord> = {
  [createHash('sha256').update('admin-key').digest('hex')]: { accountId: 'acme', role: 'admin' } as ApiKeyRecord,
  [createHash('sha256').update('analyst-key').digest('hex')]: { accountId: 'acme', role: 'analyst' } as ApiKeyRecord,
};
const keys = { getApiKey: async (hash: string) => KEYS[hash] ?? null };

function event(method: string, path: string, opts: { key?: string; query?: Record<string, string>; body?: string; contentType?: string } = {}): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  if (opts.key !== undefined) headers.authorization = `Bearer ${opts.key}`;
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: new URLSearchParams(opts.query ?? {}).toString(),
    headers,
    ...(opts.query === undefined ? {} : { queryStringParameters: opts.query }),
    ...(opts.body === undefined ? {} : { body: opts.body }),
    requestContext: { http: { method, path } } as APIGatewayProxyEventV2['requestContext'],
    isBase64Encoded: false,
  };
}

/** The router over `tables`, answering errors as the api handler does. */
function serve<T extends Readonly<Record<string, readonly Route<never, never>[]>>>(tables: T, deps: Parameters<typeof mount<T>>[1]) {
  const handlers = mount(tables, deps, keys);
  const routes = Object.values(tables).flat();
  const router = createRouter(routes, handlers);
  return async (e: APIGatewayProxyEventV2) => {
    try {
      return await router(e);
    } catch (err) {
      return problemResponse(err, e.rawPath);
    }
  };
}

describe('the mount enforces the declared auth', () => {
  const seen: (ApiKeyRecord | null)[] = [];
  const answer = async (principal: ApiKeyRecord | null) => {
    seen.push(principal);
    return { status: 200, body: { ok: true } };
  };
  const app = serve(
    {
      keyed: [
        route<null>({ method: 'GET', path: '/t/bearer', auth: 'bearer', summary: 's', responses: {}, problems: [], handle: answer }),
        route<null>({ method: 'PUT', path: '/t/admin', auth: 'admin', summary: 's', responses: {}, problems: [], handle: answer }),
      ],
      open: [route<null, Record<never, never>, null>({ method: 'GET', path: '/t/none', auth: 'none', summary: 's', responses: {}, problems: [], handle: answer })],
    },
    { keyed: null, open: null },
  );

  it('none: no key needed, the handler gets no principal', async () => {
    seen.length = 0;
    expect((await app(event('GET', '/t/none'))).statusCode).toBe(200);
    expect(seen).toEqual([null]);
  });

  it('bearer: 401 without a key, any key passes', async () => {
    seen.length = 0;
    expect((await app(event('GET', '/t/bearer'))).statusCode).toBe(401);
    expect((await app(event('GET', '/t/bearer', { key: 'analyst-key' }))).statusCode).toBe(200);
    expect(seen).toEqual([{ accountId: 'acme', role: 'analyst' }]);
  });

  it('admin: an analyst key is a 403 and the handler never runs', async () => {
    seen.length = 0;
    const res = await app(event('PUT', '/t/admin', { key: 'analyst-key' }));
    expect(res.statusCode).toBe(403);
    expect(JSON.parse(String(res.body)).type).toBe('https://callledger.dev/problems/forbidden');
    expect(seen).toEqual([]);
    expect((await app(event('PUT', '/t/admin', { key: 'admin-key' }))).statusCode).toBe(200);
  });

  it("an analyst's dispute is refused for its role before its body is read", async () => {
    const untouchable = new Proxy({}, { get: () => { throw new Error('no store may be touched'); } }) as LedgerRouteDeps;
    const ledger = serve({ ledger: LEDGER_ROUTES }, { ledger: untouchable });
    const res = await ledger(event('POST', '/v1/calls/twilio:CA1/disputes', { key: 'analyst-key', body: '{nope', contentType: 'application/json' }));
    expect(res.statusCode).toBe(403);
  });

  it('a route declared twice is refused when mounted', () => {
    const r = route<null>({ method: 'GET', path: '/t/x', auth: 'bearer', summary: 's', responses: {}, problems: [], handle: answer });
    expect(() => mount({ a: [r], b: [r] }, { a: null, b: null }, keys)).toThrow(/declared twice/);
  });
});

describe('the declared query', () => {
  const got: unknown[] = [];
  const r = route<null, { billable: typeof flag; limit: typeof pageSize }>({
    method: 'GET',
    path: '/t/q',
    auth: 'bearer',
    summary: 's',
    query: { billable: flag, limit: pageSize },
    responses: {},
    problems: [],
    handle: async (_p, _req, _d, q) => {
      got.push(q);
      return { status: 200, body: q };
    },
  });
  const principal = { accountId: 'acme', role: 'analyst' } as ApiKeyRecord;
  const req = (query: Record<string, string>) => ({ pathParameters: {}, query, body: '', contentType: undefined });

  it('reaches the handler parsed by its rules', async () => {
    await r.handle(principal, req({ billable: 'true', limit: '7' }), null);
    expect(got).toEqual([{ billable: true, limit: 7 }]);
  });

  it('refuses an unknown or bad parameter, naming each, before the handler runs', async () => {
    got.length = 0;
    await expect(r.handle(principal, req({ billable: 'yes', sort: 'x' }), null)).rejects.toMatchObject({
      errors: [
        { field: 'billable', message: 'must be true or false' },
        { field: 'sort', message: 'is not a known parameter' },
      ],
    });
    expect(got).toEqual([]);
  });
});

describe('the OpenAPI document types each query parameter by its rule', () => {
  type Param = { name: string; in: string; required: boolean; schema: Record<string, unknown> };
  const doc = openApiDocument() as { paths: Record<string, Record<string, { parameters: Param[] }>> };
  const param = (method: string, path: string, name: string) => doc.paths[path]?.[method]?.parameters.find((p) => p.in === 'query' && p.name === name);

  it('flags, enums, ids and whole numbers', () => {
    expect(param('get', '/v1/calls', 'billable')?.schema).toEqual({ type: 'boolean' });
    expect(param('get', '/v1/calls', 'campaignId')?.schema).toEqual({ type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
    expect(param('get', '/v1/disputes', 'status')?.schema).toEqual({ type: 'string', enum: ['open', 'accepted', 'rejected'] });
    expect(param('get', '/v1/outcomes', 'status')?.schema).toEqual({ type: 'string', enum: ['matched', 'unmatched'] });
    expect(param('get', '/v1/pilots/{pilotId}/report', 'format')?.schema).toEqual({ type: 'string', enum: ['json', 'csv'] });
    expect(param('get', '/v1/reports/threshold', 'step')?.schema).toEqual({ type: 'integer', minimum: 1, maximum: 3600 });
    expect(param('post', '/v1/reconciliations', 'toleranceSec')?.schema).toEqual({ type: 'integer', minimum: 0, maximum: 3600 });
  });

  it('a parameter its rule requires is required', () => {
    expect(param('get', '/v1/reports/sources', 'campaignId')?.required).toBe(true);
    expect(param('get', '/v1/qa/sample', 'campaignId')?.required).toBe(true);
    expect(param('get', '/v1/statements', 'period')?.required).toBe(true);
    expect(param('get', '/v1/calls', 'campaignId')?.required).toBe(false);
  });

  it('is generated from the declarations, and the catalog is too', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(operations.sort()).toEqual(ROUTE_DECLARATIONS.flatMap((r) => (r.method === 'ANY' ? (r.anyMethods ?? ['post']) : [r.method.toLowerCase()]).map((m) => `${m} ${r.path}`)).sort());
    expect(ROUTES).toEqual(ROUTE_DECLARATIONS.map((r) => ({ method: r.method, path: r.path, fn: r.fn ?? 'api' })));
  });
});
