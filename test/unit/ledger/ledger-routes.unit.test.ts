/**
 * LEDGER_ROUTES request handling with in-memory fakes: the route table the API mounts, and the precise problems a
 * malformed request gets before any store is touched.
 */
import { PROBLEM, rejection } from '../../support/problems';
import { describe, expect, it } from 'vitest';
import { LEDGER_ROUTES, type LedgerRouteDeps, type RouteRequest } from '../../../shared/app/ledger/ledger-routes';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { BadRequest, NotFound, UnsupportedMediaType } from '../../../shared/domain/kernel/problems';

const admin: ApiKeyRecord = { accountId: 'acme', role: 'admin', label: 'ops' };

/** Every port throws: these requests must be refused before any I/O. */
const untouchable = new Proxy({} as LedgerRouteDeps, {
  get: (_t, name) => {
    throw new Error(`deps.${String(name)} used`);
  },
});

function route(method: string, path: string) {
  const r = LEDGER_ROUTES.find((x) => x.method === method && x.path === path);
  if (!r) throw new Error(`no ${method} ${path}`);
  return r;
}

const req = (over: Partial<RouteRequest>): RouteRequest => ({ pathParameters: {}, query: {}, body: '', contentType: undefined, ...over });

describe('LEDGER_ROUTES', () => {
  it('is the documented route table', () => {
    expect(LEDGER_ROUTES.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/calls/{callId}/disputes',
      'POST /v1/disputes/{disputeId}/resolve',
      'GET /v1/disputes',
      'GET /v1/statements',
      'POST /v1/reconciliations',
      'GET /v1/ledger/verify',
    ]);
  });

  it('rejects bodies and parameters precisely before touching a store', async () => {
    const open = route('POST', '/v1/calls/{callId}/disputes');
    const withCall = { pathParameters: { callId: 'twilio:CA1' } };
    expect(await rejection(open.handle(admin, req({ ...withCall, body: '{"reason":"fraud"}', contentType: 'text/plain' }), untouchable))).toMatchObject(PROBLEM.UnsupportedMediaType);
    expect(await rejection(open.handle(admin, req({ ...withCall, body: '{nope', contentType: 'application/json' }), untouchable))).toMatchObject(PROBLEM.BadRequest);
    expect(await rejection(open.handle(admin, req({ ...withCall, body: '{"reason":"fraud","extra":1}', contentType: 'application/json' }), untouchable))).toMatchObject({
      status: 400,
      errors: [{ field: '(root)', message: expect.stringContaining('extra') }],
    });
    await expect(open.handle(admin, req({ ...withCall, query: { force: 'yes' } }), untouchable)).rejects.toMatchObject({
      errors: [{ field: 'force', message: 'is not a known parameter' }],
    });
    expect(await rejection(open.handle(admin, req({ body: '{"reason":"fraud"}', contentType: 'application/json' }), untouchable))).toMatchObject(PROBLEM.NotFound);

    const resolve = route('POST', '/v1/disputes/{disputeId}/resolve');
    expect(
      await rejection(resolve.handle(admin, req({ pathParameters: { disputeId: 'dispute:twilio:CA1' }, body: '{"outcome":"accepted","creditCents":0}', contentType: 'application/json' }), untouchable)),
    ).toMatchObject({ status: 400, errors: [{ field: 'creditCents' }] });

    const list = route('GET', '/v1/disputes');
    await expect(list.handle(admin, req({ query: { status: 'closed', limit: '0' } }), untouchable)).rejects.toMatchObject({
      errors: [
        { field: 'status', message: 'must be open, accepted or rejected' },
        { field: 'limit', message: 'must be a whole number from 1 to 100' },
      ],
    });
    const statements = route('GET', '/v1/statements');
    await expect(statements.handle(admin, req({ query: { period: '2026-1', publisherId: 'Pub A' } }), untouchable)).rejects.toMatchObject({
      errors: [
        { field: 'period', message: 'must be YYYY-MM from 0001-01 to 9999-11' },
        { field: 'publisherId', message: 'must be an id (lower-case letters, digits, dashes)' },
      ],
    });
    expect(await rejection(route('GET', '/v1/ledger/verify').handle(admin, req({ query: { from: 'x' } }), untouchable))).toMatchObject(PROBLEM.BadRequest);
  });
});
