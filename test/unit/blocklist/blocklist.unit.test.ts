/**
 * The block list without I/O: the state at an instant from the history (last-written change in force), applying a
 * PUT (idempotent, effective-dated, 422s), the view that never carries the number, the request schema, the
 * per-account cache's exactness rule, the reader over a fake DynamoDB client, and the routes' refusals before any I/O.
 */
import { PROBLEM, rejection, thrown } from '../../support/problems';
import fc from 'fast-check';
import { errorView, isCallerError } from '../../../shared/app/kernel/errors';
import { describe, expect, it } from 'vitest';
import { BlockRepo } from '../../../shared/adapters/blocklist/block-repo';
import { ExactCache, exactFor } from '../../../shared/adapters/platform/exact-cache';
import { marshall } from '@aws-sdk/util-dynamodb';
import { BLOCK_ROUTES, type BlockListDeps } from '../../../shared/app/blocklist/block-list';
import type { RouteRequest } from '../../../shared/app/ledger/ledger-routes';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import {
  BLOCK_REASONS,
  applyBlockRequest,
  blockIdOf,
  blockMatch,
  blockedAt,
  blockedCallerView,
  changeInForce,
  last4Of,
  parseCallerNumber,
  type BlockChange,
  type BlockEntry,
  type BlockRequest,
} from '../../../shared/domain/blocklist/block-list';
import { BlockCallerBodySchema } from '../../../shared/domain/blocklist/block-list-schema';
import { callerHash } from '../../../shared/domain/calls/caller';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import { BadRequest, Forbidden, Unprocessable, UnsupportedMediaType } from '../../../shared/domain/kernel/problems';

const NOW = Date.parse('2026-11-24T12:00:00.000Z');
const MIN = 60_000;
const NUMBER = '+15125550142';
const HASH = callerHash('unit-test-key', NUMBER);
const iso = (ms: number) => new Date(ms).toISOString();
const ctx = (nowMs: number, by = 'ops') => ({ accountId: 'acme', callerHash: HASH, e164: NUMBER, by, nowMs });

const change = (blocked: boolean, effectiveMs: number, atMs = effectiveMs - MIN): BlockChange => ({
  blocked,
  reason: 'fraud',
  effectiveFrom: iso(effectiveMs),
  at: iso(atMs),
  by: 'ops',
});

describe('the caller number and the entry id', () => {
  it('accepts numbers in E.164 form as the identity the writer gives them, valid or not; refuses withheld markers apart', () => {
    expect(parseCallerNumber(NUMBER)).toMatchObject({ kind: 'e164', canonical: NUMBER });
    expect(parseCallerNumber('+442071838750')).toMatchObject({ kind: 'e164', canonical: '+442071838750' });
    // Unallocatable, yet a carrier delivers calls from it: one caller, blockable as one.
    expect(parseCallerNumber('+10005550142')).toMatchObject({ kind: 'number', canonical: '+10005550142' });
    for (const bad of ['5125550142', '15125550142', '+1 512 555 0142', '+1512', '', '+1512555014299999']) {
      expect(parseCallerNumber(bad), bad).toBeNull();
    }
    expect(parseCallerNumber('anonymous')).toBe('withheld');
    // The keypad spelling of ANONYMOUS that <Dial> legs once sent.
    expect(parseCallerNumber('+266696687')).toBe('withheld');
  });

  it('names an entry by blk_ + 16 hex digits of the keyed hash and keeps only the last four digits', () => {
    expect(blockIdOf(HASH)).toBe(`blk_${HASH.slice(0, 16)}`);
    expect(blockIdOf(HASH)).toMatch(/^blk_[0-9a-f]{16}$/);
    expect(blockIdOf(HASH)).not.toContain('5125550142');
    expect(last4Of(NUMBER)).toBe('0142');
  });
});

describe('state at an instant', () => {
  it('is not blocked before any change takes effect, blocked from effectiveFrom, unblocked from a later unblock', () => {
    const history = [change(true, NOW), change(false, NOW + 10 * MIN)];
    expect(blockedAt([], NOW)).toBe(false);
    expect(blockedAt(history, NOW - 1)).toBe(false);
    expect(blockedAt(history, NOW)).toBe(true);
    expect(blockedAt(history, NOW + 10 * MIN - 1)).toBe(true);
    expect(blockedAt(history, NOW + 10 * MIN)).toBe(false);
    expect(changeInForce(history, NOW + 5 * MIN)).toBe(history[0]);
  });

  it('is decided by the LAST-WRITTEN change in force: a later unblock supersedes a block scheduled further ahead', () => {
    const scheduledBlock = change(true, NOW + 60 * MIN, NOW);
    const unblock = change(false, NOW + 2 * MIN, NOW + MIN);
    const history = [scheduledBlock, unblock];
    expect(blockedAt(history, NOW + 90 * MIN)).toBe(false);
    expect(changeInForce(history, NOW + 90 * MIN)).toBe(unblock);
    expect(blockedAt(history, NOW + MIN)).toBe(false);
  });

  it('matches for the rating with the blockId only when blocked at the call start', () => {
    const entry = { blockId: blockIdOf(HASH), history: [change(true, NOW)] };
    expect(blockMatch(entry, NOW + 1)).toEqual({ blockId: blockIdOf(HASH) });
    expect(blockMatch(entry, NOW - 1)).toBeNull();
    expect(blockMatch(undefined, NOW)).toBeNull();
  });

  it('a change written after a copy was read never alters the state of an instant up to CONFIG_LEAD_MS after the read', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            gapMs: fc.integer({ min: 1, max: 3 * MIN }),
            blocked: fc.boolean(),
            reason: fc.constantFrom(...BLOCK_REASONS),
            extraLeadMs: fc.option(fc.integer({ min: 0, max: 10 * MIN }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.nat(),
        fc.integer({ min: 0, max: CONFIG_LEAD_MS }),
        (writes, readAfterIndex, probeOffsetMs) => {
          let entry: BlockEntry | null = null;
          let atMs = NOW;
          const snapshots: { readAtMs: number; history: readonly BlockChange[] }[] = [];
          for (const w of writes) {
            atMs += w.gapMs;
            const request: BlockRequest = {
              blocked: w.blocked,
              reason: w.reason,
              ...(w.extraLeadMs === undefined ? {} : { effectiveFrom: iso(atMs + CONFIG_LEAD_MS + w.extraLeadMs) }),
            };
            try {
              entry = applyBlockRequest(entry, request, ctx(atMs)).entry;
            } catch (err) {
              if (!isCallerError(err) || errorView(err).status !== 422) throw err; // unblocking a caller never blocked
            }
            // A read issued just after this write (and before the next one).
            snapshots.push({ readAtMs: atMs, history: entry?.history ?? [] });
          }
          const read = snapshots[readAfterIndex % snapshots.length]!;
          const probe = read.readAtMs + probeOffsetMs;
          expect(blockedAt(read.history, probe)).toBe(blockedAt(entry?.history ?? [], probe));
        },
      ),
    );
  });
});

describe('applying a PUT', () => {
  it('creates an entry effective CONFIG_LEAD_MS from now by default, with who and when', () => {
    const { entry, created, changed } = applyBlockRequest(null, { blocked: true, reason: 'robocall' }, ctx(NOW));
    expect({ created, changed }).toEqual({ created: true, changed: true });
    expect(entry).toEqual({
      accountId: 'acme',
      blockId: blockIdOf(HASH),
      last4: '0142',
      reason: 'robocall',
      createdAt: iso(NOW),
      createdBy: 'ops',
      history: [{ blocked: true, reason: 'robocall', effectiveFrom: iso(NOW + CONFIG_LEAD_MS), at: iso(NOW), by: 'ops' }],
      rev: 1,
      updatedAt: iso(NOW),
    });
    expect(JSON.stringify(entry)).not.toContain('5125550142');
  });

  it('adds nothing for a retried PUT, appends an unblock (keeping the reason) and a later re-block', () => {
    const first = applyBlockRequest(null, { blocked: true, reason: 'fraud' }, ctx(NOW)).entry;
    const retry = applyBlockRequest(first, { blocked: true, reason: 'fraud' }, ctx(NOW + 5_000));
    expect(retry).toEqual({ entry: first, created: false, changed: false });
    const sameInstant = applyBlockRequest(first, { blocked: true, reason: 'fraud', effectiveFrom: first.history[0]!.effectiveFrom }, ctx(NOW + 5_000));
    expect(sameInstant.changed).toBe(false);

    const unblocked = applyBlockRequest(first, { blocked: false }, ctx(NOW + 10 * MIN, 'lead')).entry;
    expect(unblocked.history.map((c) => [c.blocked, c.reason, c.by])).toEqual([
      [true, 'fraud', 'ops'],
      [false, 'fraud', 'lead'],
    ]);
    expect(unblocked).toMatchObject({ rev: 2, createdBy: 'ops', createdAt: iso(NOW), updatedAt: iso(NOW + 10 * MIN) });

    const reblocked = applyBlockRequest(unblocked, { blocked: true, reason: 'abuse', effectiveFrom: iso(NOW + 60 * MIN) }, ctx(NOW + 20 * MIN)).entry;
    expect(reblocked.reason).toBe('abuse');
    expect(reblocked.history.at(-1)).toMatchObject({ blocked: true, effectiveFrom: iso(NOW + 60 * MIN) });
    expect(blockedAt(reblocked.history, NOW + 30 * MIN)).toBe(false);
    expect(blockedAt(reblocked.history, NOW + 60 * MIN)).toBe(true);
  });

  it('a new reason with the same state is a change on record', () => {
    const first = applyBlockRequest(null, { blocked: true, reason: 'fraud' }, ctx(NOW)).entry;
    const next = applyBlockRequest(first, { blocked: true, reason: 'do_not_buy' }, ctx(NOW + MIN));
    expect(next.changed).toBe(true);
    expect(next.entry.history).toHaveLength(2);
    expect(next.entry.reason).toBe('do_not_buy');
  });

  it('refuses to unblock a caller never blocked, and an effectiveFrom sooner than CONFIG_LEAD_MS (422 naming the field)', () => {
    // As answered: the renderer turns whatever the domain throws into the problem a client sees.
    expect(thrown(() => applyBlockRequest(null, { blocked: false }, ctx(NOW)))).toMatchObject({ status: 422, errors: [{ field: 'blocked', message: expect.any(String) }] });
    expect(thrown(() => applyBlockRequest(null, { blocked: true, reason: 'fraud', effectiveFrom: iso(NOW + CONFIG_LEAD_MS - 1) }, ctx(NOW)))).toMatchObject({
      status: 422,
      errors: [{ field: 'effectiveFrom', message: expect.any(String) }],
    });
    expect(thrown(() => applyBlockRequest(null, { blocked: true }, ctx(NOW)))).toMatchObject({ status: 422, errors: [{ field: 'reason', message: expect.any(String) }] });
  });
});

describe('the view', () => {
  it('shows the state now, a pending change and …last4, never the number or the hash', () => {
    const entry = applyBlockRequest(null, { blocked: true, reason: 'fraud' }, ctx(NOW)).entry;
    const before = blockedCallerView(entry, NOW);
    expect(before).toMatchObject({ blockId: blockIdOf(HASH), last4: '…0142', state: 'unblocked', pending: { blocked: true, effectiveFrom: iso(NOW + CONFIG_LEAD_MS) } });
    const after = blockedCallerView(entry, NOW + CONFIG_LEAD_MS);
    expect(after).toMatchObject({ state: 'blocked', pending: null });
    const text = JSON.stringify([before, after]);
    expect(text).not.toContain('5125550142');
    expect(text).not.toContain(HASH);
  });
});

describe('BlockCallerBodySchema', () => {
  it('defaults to blocking, needs a reason to block, not to unblock', () => {
    expect(BlockCallerBodySchema.parse({ reason: 'fraud' })).toEqual({ reason: 'fraud', blocked: true });
    expect(BlockCallerBodySchema.parse({ blocked: false })).toEqual({ blocked: false });
    const missing = BlockCallerBodySchema.safeParse({});
    expect(missing.success).toBe(false);
    expect(missing.error?.issues.map((i) => i.path.join('.'))).toEqual(['reason']);
  });

  it('refuses unknown reasons, free text, extra fields and zone-less instants', () => {
    for (const bad of [
      { reason: 'spam' },
      { reason: 'fraud', note: 'called 40 times from +15125550142' },
      { reason: 'fraud', effectiveFrom: '2026-11-24T12:00:00' },
      { reason: 'fraud', blocked: 'yes' },
    ]) {
      expect(BlockCallerBodySchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(BlockCallerBodySchema.parse({ reason: 'other', effectiveFrom: '2026-11-24T13:00:00+01:00' }).effectiveFrom).toBe('2026-11-24T13:00:00+01:00');
  });
});

describe('ExactCache (the writer-side copy of an account block list)', () => {
  function harness() {
    let now = NOW;
    const loads: number[] = [];
    let version = 0;
    const cache = new ExactCache<number>(CONFIG_LEAD_MS, () => now);
    const load = async () => {
      loads.push(now);
      return ++version;
    };
    return { cache, load, loads, setNow: (ms: number) => void (now = ms) };
  }

  it('serves a copy for calls that started up to CONFIG_LEAD_MS after its read, or too far ahead for any read; re-reads otherwise', async () => {
    const h = harness();
    expect(await h.cache.get('acme', h.load, NOW - MIN)).toBe(1);
    h.setNow(NOW + 30_000);
    expect(await h.cache.get('acme', h.load, NOW + 20_000)).toBe(1);
    expect(await h.cache.get('acme', h.load, NOW + CONFIG_LEAD_MS)).toBe(1);
    // Far in the future of now: no read could be exact, the cached copy serves.
    expect(await h.cache.get('acme', h.load, NOW + 30_000 + CONFIG_LEAD_MS + 1)).toBe(1);
    expect(h.loads).toHaveLength(1);
    // Started after the read + lead, within now + lead: a change written since could be in force: re-read.
    expect(await h.cache.get('acme', h.load, NOW + CONFIG_LEAD_MS + 1)).toBe(2);
    expect(h.loads).toEqual([NOW, NOW + 30_000]);
    expect(await h.cache.get('other', h.load, NOW)).toBe(3);
  });

  it('expires after its lifetime, and a failed read is not cached', async () => {
    const h = harness();
    await h.cache.get('acme', h.load, NOW);
    h.setNow(NOW + CONFIG_LEAD_MS);
    expect(await h.cache.get('acme', h.load, NOW)).toBe(2);
    const failing = () => Promise.reject(new Error('throttled'));
    h.setNow(NOW + 3 * CONFIG_LEAD_MS);
    await expect(h.cache.get('acme', failing, NOW + 3 * CONFIG_LEAD_MS)).rejects.toThrow('throttled');
    expect(await h.cache.get('acme', h.load, NOW + 3 * CONFIG_LEAD_MS)).toBe(3);
  });

  it('shares one read between concurrent misses, but not with a call the read is too old for', async () => {
    const h = harness();
    let release!: (v: number) => void;
    let reads = 0;
    const slow = () => {
      reads += 1;
      return new Promise<number>((r) => (release = r));
    };
    const a = h.cache.get('acme', slow, NOW);
    const b = h.cache.get('acme', slow, NOW + 10_000);
    expect(reads).toBe(1);
    // The clock moved on while the read is in flight: a call after its issue + lead needs a read of its own.
    h.setNow(NOW + 45_000);
    const c = h.cache.get('acme', h.load, NOW + CONFIG_LEAD_MS + 30_000);
    release(7);
    expect(await Promise.all([a, b, c])).toEqual([7, 7, 1]);
    expect(reads).toBe(1);
    expect(h.loads).toEqual([NOW + 45_000]);
  });

  it('states the rule as a pure predicate', () => {
    expect(exactFor(NOW, NOW + CONFIG_LEAD_MS, NOW)).toBe(true);
    expect(exactFor(NOW, NOW + CONFIG_LEAD_MS + 1, NOW + 1)).toBe(false);
    expect(exactFor(NOW, NOW + CONFIG_LEAD_MS + 2, NOW)).toBe(true);
  });
});

describe('BlockRepo.blockedCaller over a fake client', () => {
  it('loads the account list with one consistent, paginated Query and evaluates each history at the call start', async () => {
    const other = callerHash('unit-test-key', '+15125550199');
    const item = (hash: string, history: BlockChange[]) => marshall({ sk: `BLOCK#${hash}`, blockId: blockIdOf(hash), history });
    const pages = [
      { Items: [item(HASH, [change(true, NOW)])], LastEvaluatedKey: { pk: { S: 'ACCT#acme' }, sk: { S: `BLOCK#${HASH}` } } },
      { Items: [item(other, [change(true, NOW), change(false, NOW + 10 * MIN)])] },
    ];
    const sent: Record<string, unknown>[] = [];
    const client = {
      send: async (cmd: { input: Record<string, unknown> }) => {
        sent.push(cmd.input);
        return pages[sent.length - 1]!;
      },
    };
    const repo = new BlockRepo({ mainTable: 'main', client: client as never, now: () => NOW + 20 * MIN });
    expect(await repo.blockedCaller('acme', HASH, NOW + 15 * MIN)).toEqual({ blockId: blockIdOf(HASH) });
    expect(await repo.blockedCaller('acme', other, NOW + 5 * MIN)).toEqual({ blockId: blockIdOf(other) });
    expect(await repo.blockedCaller('acme', other, NOW + 15 * MIN)).toBeNull();
    expect(await repo.blockedCaller('acme', HASH, NOW - 1)).toBeNull();
    expect(await repo.blockedCaller('acme', 'f'.repeat(64), NOW + 15 * MIN)).toBeNull();
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({
      TableName: 'main',
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': { S: 'ACCT#acme' }, ':prefix': { S: 'BLOCK#' } },
      ConsistentRead: true,
    });
    expect(sent[1]).toMatchObject({ ExclusiveStartKey: pages[0]!.LastEvaluatedKey });
  });

  it('fails the lookup (so the call is retried) on an item without a valid history', async () => {
    const client = { send: async () => ({ Items: [marshall({ sk: `BLOCK#${HASH}`, blockId: blockIdOf(HASH), history: 'blocked' })] }) };
    const repo = new BlockRepo({ mainTable: 'main', client: client as never, now: () => NOW });
    await expect(repo.blockedCaller('acme', HASH, NOW)).rejects.toThrow(/no valid history/);
  });
});

describe('BLOCK_ROUTES', () => {
  const admin: ApiKeyRecord = { accountId: 'acme', role: 'admin', label: 'ops' };
  const analyst: ApiKeyRecord = { accountId: 'acme', role: 'analyst', label: 'viewer' };
  /** Every port throws: these requests must be refused before any I/O. */
  const untouchable = new Proxy({} as BlockListDeps, {
    get: (_t, name) => {
      throw new Error(`deps.${String(name)} used`);
    },
  });
  const route = (method: string, path: string) => {
    const r = BLOCK_ROUTES.find((x) => x.method === method && x.path === path);
    if (!r) throw new Error(`no ${method} ${path}`);
    return r;
  };
  const req = (over: Partial<RouteRequest>): RouteRequest => ({ pathParameters: {}, query: {}, body: '', contentType: undefined, ...over });
  const put = route('PUT', '/v1/blocked-callers/{e164}');

  it('is the documented route table', () => {
    expect(BLOCK_ROUTES.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PUT /v1/blocked-callers/{e164}',
      'GET /v1/blocked-callers/{e164}',
      'GET /v1/blocked-callers',
    ]);
  });

  it('refuses an analyst, a bad number (named, not echoed), bad bodies and parameters before touching a store', async () => {
    const body = { body: '{"reason":"fraud"}', contentType: 'application/json' };
    expect(await rejection(put.handle(analyst, req({ pathParameters: { e164: NUMBER }, ...body }), untouchable))).toMatchObject(PROBLEM.Forbidden);

    const badNumber = put.handle(admin, req({ pathParameters: { e164: '5125550142' }, ...body }), untouchable);
    expect(await rejection(badNumber)).toMatchObject(PROBLEM.BadRequest);
    const problem = await rejection(badNumber);
    expect(problem.errors).toEqual([{ field: 'e164', message: expect.any(String) }]);
    expect(JSON.stringify({ detail: problem.detail, errors: problem.errors })).not.toContain('5125550142');

    expect(await rejection(put.handle(admin, req({ pathParameters: { e164: NUMBER }, body: '{"reason":"fraud"}', contentType: 'text/plain' }), untouchable))).toMatchObject(PROBLEM.UnsupportedMediaType);
    expect(await rejection(put.handle(admin, req({ pathParameters: { e164: NUMBER }, body: '{nope', contentType: 'application/json' }), untouchable))).toMatchObject(PROBLEM.BadRequest);
    expect(await rejection(put.handle(admin, req({ pathParameters: { e164: NUMBER }, body: '{"reason":"spam"}', contentType: 'application/json' }), untouchable))).toMatchObject({
      status: 400,
      errors: [{ field: 'reason' }],
    });
    expect(await rejection(put.handle(admin, req({ pathParameters: { e164: NUMBER } }), untouchable))).toMatchObject({ status: 400, errors: [{ field: 'reason' }] });
    expect(await rejection(route('GET', '/v1/blocked-callers').handle(admin, req({ query: { limit: '0', sort: 'x' } }), untouchable))).toMatchObject({
      status: 400,
      errors: [{ field: 'limit' }, { field: 'sort' }],
    });
    expect(await rejection(route('GET', '/v1/blocked-callers/{e164}').handle(analyst, req({ pathParameters: { e164: 'not-a-number' } }), untouchable))).toMatchObject({
      status: 400,
      errors: [{ field: 'e164' }],
    });
    // A withheld marker names no caller: 422, for reading as for writing.
    for (const method of ['GET', 'PUT'] as const) {
      expect(await rejection(route(method, '/v1/blocked-callers/{e164}').handle(admin, req({ pathParameters: { e164: 'anonymous' }, body: '{}' }), untouchable))).toMatchObject({
        status: 422,
        errors: [{ field: 'e164' }],
      });
    }
  });
});
