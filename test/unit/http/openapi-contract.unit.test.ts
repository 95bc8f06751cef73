/**
 * The OpenAPI document is the contract: it is valid OpenAPI 3.1, every schema in it means something (a Problem that
 * refers to itself would accept anything), and the checker the suites run every exchange through (test/contract/)
 * catches what departs from it, naming the route, the status and the JSON pointer.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../../shared/adapters/http/openapi';
import { OpenApiContract, type Exchange } from '../../contract/openapi-contract';

const document = openApiDocument();

const CALL = {
  callId: 'twilio:CA1',
  accountId: 'acme',
  routing: null,
  campaignId: null,
  publisherId: null,
  subSource: null,
  status: null,
  durationSec: null,
  billable: null,
  amountCents: null,
  reasons: [],
  startedAt: null,
  endedAt: null,
  recording: null,
  outcome: null,
  qa: null,
  caller: null,
  signals: [],
  crossCallSignals: null,
  network: null,
};

const PROBLEM = { type: 'https://callledger.dev/problems/bad-request', title: 'Bad Request', status: 400, detail: 'Invalid query parameters.' };

function exchange(over: Partial<Omit<Exchange, 'response'>> & { status: number; answer?: unknown; contentType?: string }): Exchange {
  const { status, answer: body, contentType, ...request } = over;
  return {
    method: 'GET',
    path: '/v1/calls/twilio%3ACA1',
    query: '',
    headers: { authorization: 'Bearer k' },
    body: undefined,
    ...request,
    response: {
      status,
      headers: { 'content-type': contentType ?? (status >= 400 ? 'application/problem+json' : 'application/json') },
      body: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
    },
  };
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 (the specification’s own schema, JSON Schema 2020-12)', async () => {
    const validator = new Validator();
    const result = await validator.validate(document as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('defines Problem as an object with its fields, not a reference to itself', () => {
    const problem = (document.components as { schemas: Record<string, Record<string, unknown>> }).schemas.Problem!;
    expect(problem.$ref).toBeUndefined();
    expect(problem).toMatchObject({ type: 'object', required: expect.arrayContaining(['type', 'title', 'status', 'detail']) });
  });

  it('documents what the answers carry: quality signals on a call, Idempotency-Key, CSV bodies, every query parameter', () => {
    const paths = document.paths as Record<string, Record<string, { parameters: { name: string; in: string; required: boolean }[]; requestBody?: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, unknown> }> }>>;
    const call = (document.components as { schemas: Record<string, { properties: Record<string, unknown> }> }).schemas.Call!;
    expect(Object.keys(call.properties)).toEqual(expect.arrayContaining(['signals', 'crossCallSignals']));
    for (const [path, method] of [['/v1/pilots', 'post'], ['/v1/privacy/deletions', 'post']] as const) {
      expect(paths[path]![method]!.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }));
    }
    expect(Object.keys(paths['/v1/reconciliations']!.post!.requestBody!.content)).toEqual(['text/csv']);
    expect(paths['/v1/reconciliations']!.post!.parameters.map((p) => p.name)).toEqual(['publisherId', 'period', 'from', 'to', 'openDisputes', 'toleranceSec', 'networkId']);
    expect(Object.keys(paths['/v1/outcomes']!.post!.requestBody!.content)).toEqual(['application/json', 'text/csv']);
    expect(Object.keys(paths['/v1/reports/sources']!.get!.responses['200']!.content!)).toEqual(['application/json', 'text/csv']);
    expect(Object.keys(paths['/v1/pilots/{pilotId}/report']!.get!.responses['200']!.content!)).toEqual(['application/json', 'text/csv']);
    expect(paths['/v1/disputes']!.get!.parameters.map((p) => p.name)).toContain('publisherId');
  });
});

describe('the contract checker', () => {
  it('passes an answer the document describes', async () => {
    const contract = await OpenApiContract.load(document);
    expect(contract.check(exchange({ status: 200, answer: CALL }))).toEqual([]);
    expect(contract.check(exchange({ status: 404, answer: { ...PROBLEM, status: 404 } }))).toEqual([]);
  });

  it('names the route, the status and the pointer of an undocumented field or a wrong value', async () => {
    const contract = await OpenApiContract.load(document);
    const out = contract.check(exchange({ status: 200, answer: { ...CALL, bogus: 1, signals: ['nope'] } }));
    expect(out).toEqual([
      expect.objectContaining({ route: 'GET /v1/calls/{callId}', status: 200, part: 'response', pointer: '/bogus' }),
      expect.objectContaining({ route: 'GET /v1/calls/{callId}', status: 200, part: 'response', pointer: '/signals/0' }),
    ]);
  });

  it('fails an undocumented status, an undocumented media type and a problem body without its fields', async () => {
    const contract = await OpenApiContract.load(document);
    expect(contract.check(exchange({ status: 418, answer: CALL }))).toEqual([expect.objectContaining({ status: 418, pointer: '', message: expect.stringContaining('not documented') })]);
    expect(contract.check(exchange({ status: 200, answer: 'a,b', contentType: 'text/csv' }))).toEqual([
      expect.objectContaining({ status: 200, message: expect.stringContaining('content type text/csv is not documented') }),
    ]);
    expect(contract.check(exchange({ status: 404, answer: { type: 'x' } })).map((m) => m.pointer)).toEqual(['/title', '/status', '/detail']);
  });

  it('a request the document refuses must be refused: 2xx to it is a mismatch, a 4xx problem is not', async () => {
    const contract = await OpenApiContract.load(document);
    const bad = { path: '/v1/calls', query: 'from=yesterday' };
    expect(contract.check(exchange({ ...bad, status: 200, answer: { calls: [], cursor: null } }))).toEqual([
      expect.objectContaining({ route: 'GET /v1/calls', part: 'request', pointer: '/query/from' }),
    ]);
    // A page size outside the documented range is refused by the document: a 200 to it is a mismatch.
    expect(contract.check(exchange({ path: '/v1/calls', query: 'limit=0', status: 200, answer: { calls: [], cursor: null } }))).toEqual([
      expect.objectContaining({ route: 'GET /v1/calls', part: 'request', pointer: '/query/limit' }),
    ]);
    // A parameter the operation does not read is not refused by the document (nor by the API: it is ignored).
    expect(contract.check(exchange({ path: '/v1/calls', query: 'bogus=1', status: 200, answer: { calls: [], cursor: null } }))).toEqual([]);
    expect(contract.check(exchange({ ...bad, status: 400, answer: PROBLEM }))).toEqual([]);
    const noKey = contract.check(exchange({ headers: {}, status: 200, answer: CALL }));
    expect(noKey).toEqual([expect.objectContaining({ part: 'request', pointer: '/header/authorization' })]);
  });

  it('checks request bodies by media type: a CSV upload where only JSON is documented, a missing Idempotency-Key', async () => {
    const contract = await OpenApiContract.load(document);
    const csvToJsonOnly = contract.check({
      method: 'PUT',
      path: '/v1/publishers/pub-a',
      query: '',
      headers: { authorization: 'Bearer k', 'content-type': 'text/csv' },
      body: 'name\nA',
      response: { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' },
    });
    expect(csvToJsonOnly).toContainEqual(expect.objectContaining({ part: 'request', pointer: '/header/content-type' }));
    const pilot = contract.check({
      method: 'POST',
      path: '/v1/pilots',
      query: '',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: '{}',
      response: { status: 201, headers: { 'content-type': 'application/json' }, body: '{}' },
    });
    expect(pilot).toContainEqual(expect.objectContaining({ part: 'request', pointer: '/header/idempotency-key' }));
  });

  it('an unrouted path must be a 404 or 405 problem', async () => {
    const contract = await OpenApiContract.load(document);
    expect(contract.check(exchange({ path: '/v1/nothing', status: 404, answer: { ...PROBLEM, status: 404 } }))).toEqual([]);
    expect(contract.check(exchange({ path: '/v1/nothing', status: 200, answer: {} }))).toEqual([
      expect.objectContaining({ route: 'GET /v1/nothing', message: expect.stringContaining('no documented operation') }),
    ]);
  });
});
