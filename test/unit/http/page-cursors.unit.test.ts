/**
 * Page cursors are opaque and tamper-evident (shared/app/kernel/pagination.ts, shared/adapters/http/cursor.ts): a position sealed
 * for one route, account and set of filters opens for exactly those, under the API's key, and nothing else opens at
 * all: not an edited cursor, a truncated one, one for other filters or another account, one sealed under another key,
 * nor a key made up by hand. The use cases refuse such a cursor with a 400 naming it, before reading anything.
 */
import { PROBLEM, rejection } from '../../support/problems';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cursorSealer, encodeCursor } from '../../../shared/adapters/http/cursor';
import { listAccountDisputes } from '../../../shared/app/disputes/disputes';
import { cursorScope, openCursor } from '../../../shared/app/kernel/pagination';
import { listLedgerPage } from '../../../shared/app/calls/read-api';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { BadRequest } from '../../../shared/domain/kernel/problems';

const sealer = cursorSealer(async () => 'the-caller-hash-key');
const SCOPE = cursorScope('GET /v1/ledger', 'acme', { campaignId: 'roofing-tx', from: '2026-01-01T00:00:00.000Z' });
const POSITION = encodeCursor({ pk: 'ACCT#acme', sk: '2026-01-02T00:00:00.000Z#charge:twilio:CA1' });
const principal: ApiKeyRecord = { accountId: 'acme', role: 'analyst', label: 'viewer' };

describe('sealing', () => {
  it('opens for exactly the scope it was sealed for, and shows nothing of the position', async () => {
    const cursor = await sealer.seal(SCOPE, POSITION);
    expect(await sealer.open(SCOPE, cursor)).toBe(POSITION);
    expect(cursor).not.toContain(POSITION.slice(0, 12));
    expect(Buffer.from(cursor, 'base64url').toString('latin1')).not.toContain('ACCT#');
    // Two seals of one position differ (random IV), and both open.
    const again = await sealer.seal(SCOPE, POSITION);
    expect(again).not.toBe(cursor);
    expect(await sealer.open(SCOPE, again)).toBe(POSITION);
  });

  it('does not open for another route, account or filters, nor under another key', async () => {
    const cursor = await sealer.seal(SCOPE, POSITION);
    for (const scope of [
      cursorScope('GET /v1/calls', 'acme', { campaignId: 'roofing-tx', from: '2026-01-01T00:00:00.000Z' }),
      cursorScope('GET /v1/ledger', 'globex', { campaignId: 'roofing-tx', from: '2026-01-01T00:00:00.000Z' }),
      cursorScope('GET /v1/ledger', 'acme', { campaignId: 'roofing-tx' }),
      cursorScope('GET /v1/ledger', 'acme', { campaignId: 'roofing-tx', from: '2026-01-01T00:00:00.000Z', publisherId: 'p' }),
    ]) {
      expect(await sealer.open(scope, cursor)).toBeNull();
    }
    expect(await cursorSealer(async () => 'another-key').open(SCOPE, cursor)).toBeNull();
  });

  it('the scope ignores filter order and absent filters, not their values', () => {
    expect(cursorScope('r', 'a', { b: '2', a: '1', c: undefined })).toBe(cursorScope('r', 'a', { a: '1', b: '2' }));
    expect(cursorScope('r', 'a', { billable: true })).not.toBe(cursorScope('r', 'a', { billable: false }));
    expect(cursorScope('r', 'a', {})).not.toBe(cursorScope('r', 'b', {}));
  });

  it('any edit of a cursor (one character changed, added or removed) makes it open to nothing (property)', async () => {
    const cursor = await sealer.seal(SCOPE, POSITION);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.~ ';
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: cursor.length - 1 }), fc.constantFrom(...alphabet), fc.constantFrom('replace', 'insert', 'delete'), async (i, ch, op) => {
        const edited =
          op === 'replace' ? cursor.slice(0, i) + ch + cursor.slice(i + 1) : op === 'insert' ? cursor.slice(0, i) + ch + cursor.slice(i) : cursor.slice(0, i) + cursor.slice(i + 1);
        fc.pre(edited !== cursor);
        expect(await sealer.open(SCOPE, edited)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('no made-up text opens, and none throws (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.base64String(), fc.json().map((j) => Buffer.from(j).toString('base64url'))), async (text) => {
        expect(await sealer.open(SCOPE, text)).toBeNull();
      }),
      { numRuns: 500 },
    );
    // The shape a cursor had before it was sealed: a DynamoDB key as base64url JSON.
    expect(await sealer.open(SCOPE, encodeCursor({ pk: 'ACCT#acme', sk: '~~~~' }))).toBeNull();
  });
});

describe('the use cases', () => {
  it('openCursor: a 400 naming cursor for anything not sealed for the scope', async () => {
    expect(await rejection(openCursor(sealer, SCOPE, encodeCursor({ pk: 'ACCT#acme', sk: '~~~~' })))).toMatchObject({
      status: 400,
      errors: [{ field: 'cursor', message: 'is not a cursor issued for this query' }],
    });
    expect(await openCursor(sealer, SCOPE, undefined)).toBeUndefined();
  });

  it('GET /v1/ledger: the next-page cursor is sealed, opens the next page for the same query, and is refused (no read) for another', async () => {
    const asked: (string | undefined)[] = [];
    const ledger = {
      listEntries: async (q: { cursor?: string }) => {
        asked.push(q.cursor);
        return { items: [], cursor: q.cursor === undefined ? POSITION : null };
      },
      totals: async () => ({ chargesCents: 0, creditsCents: 0, netCents: 0, count: 0 }),
    };
    const deps = { calls: {} as never, media: {} as never, ledger: ledger as never, cursors: sealer };
    const first = await listLedgerPage(principal, { campaignId: 'roofing-tx', limit: '1' }, deps);
    expect(first.cursor).not.toBe(POSITION);
    expect(asked).toEqual([undefined]);
    // Another page size is the same query.
    const second = await listLedgerPage(principal, { campaignId: 'roofing-tx', limit: '5', cursor: first.cursor! }, deps);
    expect(second.cursor).toBeNull();
    expect(asked).toEqual([undefined, POSITION]);
    for (const params of [
      { campaignId: 'other', cursor: first.cursor! },
      { cursor: first.cursor! },
      { campaignId: 'roofing-tx', cursor: Buffer.from('{"pk":"ACCT#acme","sk":"~~~~"}').toString('base64url') },
    ]) {
      expect(await rejection(listLedgerPage(principal, params, deps))).toMatchObject(PROBLEM.BadRequest);
    }
    expect(await rejection(listLedgerPage({ ...principal, accountId: 'globex' }, { campaignId: 'roofing-tx', cursor: first.cursor! }, deps))).toMatchObject(PROBLEM.BadRequest);
    expect(asked).toHaveLength(2);
  });

  it('GET /v1/disputes: bound to its filters (status, publisher) the same way', async () => {
    const disputes = { list: async (q: { cursor?: string }) => ({ items: [], cursor: q.cursor === undefined ? POSITION : null }) };
    const deps = { disputes: disputes as never, cursors: sealer };
    const first = await listAccountDisputes(principal, { status: 'open', limit: 1 }, deps);
    expect((await listAccountDisputes(principal, { status: 'open', limit: 1, cursor: first.cursor! }, deps)).cursor).toBeNull();
    expect(await rejection(listAccountDisputes(principal, { status: 'accepted', limit: 1, cursor: first.cursor! }, deps))).toMatchObject(PROBLEM.BadRequest);
  });
});
