/**
 * The sealer's pieces in isolation: sealLedger reading one interval at a time, the run over accounts (outcomes,
 * bounded concurrency, anchoring, telemetry), verifyLedger with an anchor store, the handler's wiring, its
 * configuration, the DynamoDB and S3 adapters' request shapes (stub clients), and the local stand-in scheduler.
 * The same behaviour against the emulators: test/int/ledger/sealer.int.test.ts.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveScheduleEveryMs, startLocalSchedule } from '../../../infra/local/scheduler';
import { FUNCTIONS } from '../../../infra/resources';
import { S3AnchorStore, anchorKey } from '../../../shared/adapters/ledger/anchors';
import { ConfigError, loadConfig } from '../../../shared/adapters/platform/env';
import { LedgerRepo } from '../../../shared/adapters/ledger/ledger-repo';
import {
  DEFAULT_SEAL_OPTIONS,
  SealIndexNotReady,
  sealLedger,
  verifyLedger,
  type AnchorReader,
  type HashedEntry,
  type LedgerSealStore,
} from '../../../shared/app/ledger/verify';
import type { Log } from '../../../shared/app/kernel/ports';
import { sealAllAccounts, type SealAccountsDeps, type SealRunSummary } from '../../../shared/app/ledger/seal-accounts';
import type { LedgerEntry } from '../../../shared/domain/ledger/entries';
import { anchorOf, withContentHash, type Seal, type SealAnchor } from '../../../shared/domain/ledger/tamper';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-20T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const OPTS = { ...DEFAULT_SEAL_OPTIONS, intervalMs: HOUR, graceMs: 5 * 60_000 };

function entry(accountId: string, n: number, createdAtMs: number): LedgerEntry {
  return {
    entryId: `charge:twilio:CA${n}`,
    type: 'charge',
    amountCents: 4500,
    currency: 'USD',
    callId: `twilio:CA${n}`,
    accountId,
    publisherId: 'pub-a',
    subSource: null,
    campaignId: 'roofing-tx',
    termsVersion: 1,
    effectiveAt: iso(createdAtMs - 10 * 60_000),
    createdAt: iso(createdAtMs),
  };
}

/** An in-memory LedgerSealStore (and verify reader) that records what was asked of it. */
class MemoryLedger implements LedgerSealStore {
  readonly entries: HashedEntry[] = [];
  readonly seals: Seal[] = [];
  readonly calls: string[] = [];
  /** Seq numbers another sealer "already stored". */
  readonly taken = new Set<number>();

  async latestSeal(accountId: string) {
    this.calls.push(`latestSeal ${accountId}`);
    return this.seals.filter((s) => s.accountId === accountId).reduce<Seal | null>((a, s) => (a === null || s.seq > a.seq ? s : a), null);
  }
  async firstCreatedAt(accountId: string) {
    this.calls.push(`firstCreatedAt ${accountId}`);
    const mine = this.entries.filter((e) => e.accountId === accountId).map((e) => e.createdAt).sort();
    return mine[0] ?? null;
  }
  async entriesCreatedBetween(accountId: string, fromIso: string, toIso: string) {
    this.calls.push(`between ${accountId} ${fromIso} ${toIso}`);
    return this.entries.filter((e) => e.accountId === accountId && e.createdAt >= fromIso && e.createdAt < toIso);
  }
  async putSeal(seal: Seal) {
    this.calls.push(`putSeal ${seal.accountId} ${seal.seq}`);
    if (this.taken.has(seal.seq) || this.seals.some((s) => s.accountId === seal.accountId && s.seq === seal.seq)) return 'exists' as const;
    this.seals.push(seal);
    return 'stored' as const;
  }
  async entriesInRange(q: { accountId: string }) {
    return this.entries.filter((e) => e.accountId === q.accountId);
  }
  async listSeals(accountId: string) {
    return this.seals.filter((s) => s.accountId === accountId);
  }
}

class MemoryAnchors implements AnchorReader {
  readonly stored = new Map<string, SealAnchor>();
  readonly asked: [string, number][] = [];
  async putAnchor(a: SealAnchor) {
    const key = anchorKey(a.accountId, a.seq);
    if (this.stored.has(key)) return 'exists' as const;
    this.stored.set(key, a);
    return 'stored' as const;
  }
  async latestAnchor(accountId: string, atLeastSeq: number) {
    this.asked.push([accountId, atLeastSeq]);
    return [...this.stored.values()].filter((a) => a.accountId === accountId).sort((x, y) => y.seq - x.seq)[0] ?? null;
  }
}

function recordingLog(): Log & { lines: { level: string; message: string; attrs: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; attrs: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, attrs?: Record<string, unknown>) => void lines.push({ level, message, attrs: attrs ?? {} });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('sealLedger reads one interval at a time', () => {
  it('starts at the boundary before the first entry, reads each ready interval once, and never the whole ledger', async () => {
    const ledger = new MemoryLedger();
    ledger.entries.push(entry('a', 1, T0 + 10 * HOUR + 5 * 60_000), entry('a', 2, T0 + 11 * HOUR + 59 * 60_000), entry('a', 3, T0 + 12 * HOUR));
    const seals = await sealLedger('a', { ledger, now: () => new Date(T0 + 12 * HOUR + 10 * 60_000) }, OPTS);
    expect(seals.map((s) => [s.seq, s.coversFrom, s.coversTo, s.entryCount])).toEqual([
      [1, iso(T0 + 10 * HOUR), iso(T0 + 11 * HOUR), 1],
      [2, iso(T0 + 11 * HOUR), iso(T0 + 12 * HOUR), 1],
    ]);
    expect(ledger.calls).toEqual([
      'latestSeal a',
      'firstCreatedAt a',
      `between a ${iso(T0 + 10 * HOUR)} ${iso(T0 + 11 * HOUR)}`,
      'putSeal a 1',
      `between a ${iso(T0 + 11 * HOUR)} ${iso(T0 + 12 * HOUR)}`,
      'putSeal a 2',
    ]);
  });

  it('continues from the newest seal without looking for the first entry; nothing to do without entries', async () => {
    const ledger = new MemoryLedger();
    ledger.entries.push(entry('a', 1, T0 + 10 * HOUR));
    await sealLedger('a', { ledger, now: () => new Date(T0 + 11 * HOUR + 10 * 60_000) }, OPTS);
    ledger.calls.length = 0;
    const next = await sealLedger('a', { ledger, now: () => new Date(T0 + 12 * HOUR + 10 * 60_000) }, OPTS);
    expect(next.map((s) => [s.seq, s.entryCount])).toEqual([[2, 0]]);
    expect(ledger.calls).toEqual(['latestSeal a', `between a ${iso(T0 + 11 * HOUR)} ${iso(T0 + 12 * HOUR)}`, 'putSeal a 2']);

    const empty = new MemoryLedger();
    expect(await sealLedger('b', { ledger: empty, now: () => new Date(T0 + 99 * HOUR) }, OPTS)).toEqual([]);
    expect(empty.calls).toEqual(['latestSeal b', 'firstCreatedAt b']);
  });

  it('stops at maxSeals, and when another sealer stored the sequence number first', async () => {
    const ledger = new MemoryLedger();
    ledger.entries.push(entry('a', 1, T0));
    const now = () => new Date(T0 + 10 * HOUR);
    expect(await sealLedger('a', { ledger, now }, { ...OPTS, maxSeals: 3 })).toHaveLength(3);
    ledger.taken.add(5);
    expect((await sealLedger('a', { ledger, now }, OPTS)).map((s) => s.seq)).toEqual([4]);
  });
});

describe('sealAllAccounts', () => {
  const now = () => new Date(T0 + 12 * HOUR + 10 * 60_000);

  function deps(over: Partial<SealAccountsDeps> & { ids: string[] }): SealAccountsDeps & { anchors: MemoryAnchors; ledger: MemoryLedger; log: ReturnType<typeof recordingLog> } {
    const { ids, ...rest } = over;
    return {
      accounts: { listAccountIds: async () => ids },
      ledger: new MemoryLedger(),
      anchors: new MemoryAnchors(),
      now,
      log: recordingLog(),
      ...rest,
    } as never;
  }

  it('seals, anchors the newest seal per account, and reports every outcome without one failure stopping the rest', async () => {
    const d = deps({ ids: ['busy', 'idle', 'broken', 'backfilling'] });
    d.ledger.entries.push(entry('busy', 1, T0 + 10 * HOUR), entry('busy', 2, T0 + 11 * HOUR + 30 * 60_000));
    const inner = d.ledger;
    const ledger: LedgerSealStore = {
      latestSeal: (id) => {
        if (id === 'broken') return Promise.reject(new Error('ProvisionedThroughputExceeded'));
        if (id === 'backfilling') return Promise.reject(new SealIndexNotReady('Cannot read from backfilling global secondary index'));
        return inner.latestSeal(id);
      },
      firstCreatedAt: (id) => inner.firstCreatedAt(id),
      entriesCreatedBetween: (id, f, t) => inner.entriesCreatedBetween(id, f, t),
      putSeal: (s) => inner.putSeal(s),
    };
    const runs: SealRunSummary[] = [];
    const summary = await sealAllAccounts({ ...d, ledger, telemetry: { sealerRun: (s) => void runs.push(s) } }, { ...OPTS, concurrency: 2 });

    const busySeals = await inner.listSeals('busy');
    expect(busySeals.map((s) => s.seq)).toEqual([1, 2]);
    expect([...d.anchors.stored.values()]).toEqual([anchorOf(busySeals[1]!)]);
    expect(summary).toMatchObject({ accounts: 4, sealsWritten: 2, anchorsWritten: 1, sealed: 1, upToDate: 1, deferred: 1, skipped: 0, failed: ['broken'] });
    expect(summary.outcomes.map((o) => [o.accountId, o.status])).toEqual([
      ['busy', 'sealed'],
      ['idle', 'up_to_date'],
      ['broken', 'failed'],
      ['backfilling', 'deferred'],
    ]);
    expect(runs).toEqual([summary]);
    // Accounts run concurrently: per-account lines in any order, the run's summary last.
    const perAccount = d.log.lines.slice(0, -1).map((l) => [l.level, l.message, l.attrs.accountId]);
    expect(perAccount).toHaveLength(3);
    expect(perAccount).toEqual(
      expect.arrayContaining([
        ['info', 'ledger sealed', 'busy'],
        ['error', 'ledger sealing failed', 'broken'],
        ['warn', 'ledger sealing deferred', 'backfilling'],
      ]),
    );
    expect(d.log.lines.at(-1)).toMatchObject({ level: 'info', message: 'sealer run', attrs: { accounts: 4, sealsWritten: 2, failed: 1 } });
    expect(d.log.lines.find((l) => l.message === 'ledger sealed')!.attrs).toMatchObject({ seals: 2, firstSeq: 1, lastSeq: 2, entries: 2, anchorWritten: true, coversTo: iso(T0 + 12 * HOUR) });
  });

  it('runs at most `concurrency` accounts at once and skips the rest once told to stop', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `acct-${i}`);
    let inFlight = 0;
    let peak = 0;
    let started = 0;
    const ledger: LedgerSealStore = {
      latestSeal: async () => {
        started++;
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        return null;
      },
      firstCreatedAt: async () => null,
      entriesCreatedBetween: async () => [],
      putSeal: async () => 'stored',
    };
    const d = deps({ ids, ledger });
    const all = await sealAllAccounts(d, { ...OPTS, concurrency: 3 });
    expect(peak).toBe(3);
    expect(all.upToDate).toBe(10);

    started = 0;
    const stopped = await sealAllAccounts(d, { ...OPTS, concurrency: 3, shouldStop: () => started >= 4 });
    expect(stopped.skipped).toBeGreaterThan(0);
    expect(stopped.skipped + stopped.upToDate).toBe(10);
    expect(started).toBeLessThan(10);
  });

  it('reports an anchor that already exists as not written (the key is write-once)', async () => {
    const d = deps({ ids: ['a'] });
    d.ledger.entries.push(entry('a', 1, T0 + 11 * HOUR));
    await d.anchors.putAnchor({ accountId: 'a', seq: 1, sealHash: 'x'.repeat(64), coversTo: iso(T0 + 12 * HOUR) });
    const summary = await sealAllAccounts(d, { ...OPTS, concurrency: 1 });
    expect(summary).toMatchObject({ sealed: 1, sealsWritten: 1, anchorsWritten: 0 });
    expect(summary.outcomes[0]).toMatchObject({ status: 'sealed', anchorWritten: false });
  });
});

describe('verifyLedger with an anchor store', () => {
  const principal = { accountId: 'a', role: 'analyst' as const, label: 'auditor' };
  const now = () => new Date(T0 + 20 * HOUR);

  async function sealedLedger() {
    const ledger = new MemoryLedger();
    ledger.entries.push(withContentHash(entry('a', 1, T0 + 10 * HOUR)), withContentHash(entry('a', 2, T0 + 11 * HOUR)));
    const seals = await sealLedger('a', { ledger, now: () => new Date(T0 + 12 * HOUR + 10 * 60_000) }, OPTS);
    return { ledger, seals };
  }

  it('checks the newest anchor, found from the newest seal in the database', async () => {
    const { ledger, seals } = await sealedLedger();
    const anchors = new MemoryAnchors();
    await anchors.putAnchor(anchorOf(seals[1]!));
    const report = await verifyLedger(principal, { ledger, now, anchors });
    expect(report).toMatchObject({ ok: true, checkedSeals: 2, anchor: anchorOf(seals[1]!) });
    expect(anchors.asked).toEqual([['a', 2]]);
  });

  it('reports a chain that disagrees with the anchor, or does not reach it', async () => {
    const { ledger, seals } = await sealedLedger();
    const anchors = new MemoryAnchors();
    const forged = { ...anchorOf(seals[1]!), sealHash: 'f'.repeat(64) };
    await anchors.putAnchor(forged);
    expect((await verifyLedger(principal, { ledger, now, anchors })).brokenLink).toEqual({ kind: 'anchor', seq: 2, expected: forged.sealHash, actual: seals[1]!.sealHash });

    const ahead = new MemoryAnchors();
    await ahead.putAnchor({ ...anchorOf(seals[1]!), seq: 3 });
    expect((await verifyLedger(principal, { ledger, now, anchors: ahead })).brokenLink).toMatchObject({ kind: 'anchor', seq: 3, actual: null });
  });

  it('without an anchor store (or before any anchor) checks the database alone', async () => {
    const { ledger } = await sealedLedger();
    expect(await verifyLedger(principal, { ledger, now })).toMatchObject({ ok: true, anchor: null });
    expect(await verifyLedger(principal, { ledger, now, anchors: new MemoryAnchors() })).toMatchObject({ ok: true, anchor: null });
  });
});

describe('configuration', () => {
  it('defaults the seal interval and grace, and refuses values that could seal writes still in flight', () => {
    expect(loadConfig(['sealIntervalMs', 'sealGraceMs', 'anchorsBucket'], { ANCHORS_BUCKET: 'b' })).toEqual({
      sealIntervalMs: 3_600_000,
      sealGraceMs: 300_000,
      anchorsBucket: 'b',
    });
    expect(loadConfig(['sealIntervalMs', 'sealGraceMs'], { SEAL_INTERVAL_MS: '60000', SEAL_GRACE_MS: '30000' })).toEqual({ sealIntervalMs: 60_000, sealGraceMs: 30_000 });
    expect(() => loadConfig(['sealGraceMs', 'sealIntervalMs', 'anchorsBucket'], { SEAL_GRACE_MS: '1000', SEAL_INTERVAL_MS: '1.5' })).toThrow(ConfigError);
    try {
      loadConfig(['sealGraceMs', 'sealIntervalMs', 'anchorsBucket'], { SEAL_GRACE_MS: '1000', SEAL_INTERVAL_MS: '1.5' });
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        'SEAL_GRACE_MS: at least 30000 ms',
        'SEAL_INTERVAL_MS: expected a whole number of milliseconds',
        'ANCHORS_BUCKET: missing',
      ]);
    }
  });
});

describe('functions/ledger-sealer.ts', () => {
  const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs, functionName: 'ledger-sealer', awsRequestId: 'r' }) as unknown as Context;

  async function load() {
    vi.stubEnv('MAIN_TABLE', 'main');
    vi.stubEnv('LEDGER_TABLE', 'ledger');
    vi.stubEnv('ANCHORS_BUCKET', 'anchors');
    vi.stubEnv('SEAL_GRACE_MS', '120000');
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    return import('../../../functions/ledger-sealer');
  }
  afterEach(() => void vi.unstubAllEnvs());

  it('takes its seal options from the environment and returns the run counts', async () => {
    const mod = await load();
    expect(mod.options).toMatchObject({ intervalMs: 3_600_000, graceMs: 120_000, concurrency: 8 });
    const ledger = new MemoryLedger();
    ledger.entries.push(entry('a', 1, T0));
    const anchors = new MemoryAnchors();
    const handler = mod.createHandler({ ...mod.deps, accounts: { listAccountIds: async () => ['a'] }, ledger, anchors, now: () => new Date(T0 + 2 * HOUR) });
    const result = await handler({}, context(300_000));
    expect(result).toEqual({ accounts: 1, sealsWritten: 1, anchorsWritten: 1, sealed: 1, upToDate: 0, deferred: 0, skipped: 0, failed: [] });
  });

  it('fails the invocation after trying every account when one failed, and starts none when time is short', async () => {
    const mod = await load();
    const ledger = new MemoryLedger();
    const failing: LedgerSealStore = { ...ledger, latestSeal: async (id) => (id === 'b' ? Promise.reject(new Error('boom')) : ledger.latestSeal(id)), firstCreatedAt: (id) => ledger.firstCreatedAt(id), entriesCreatedBetween: (id, f, t) => ledger.entriesCreatedBetween(id, f, t), putSeal: (s) => ledger.putSeal(s) };
    const handler = mod.createHandler({ ...mod.deps, accounts: { listAccountIds: async () => ['a', 'b', 'c'] }, ledger: failing, anchors: new MemoryAnchors() });
    await expect(handler({}, context(300_000))).rejects.toThrow('sealing failed for 1 of 3 account(s): b');
    expect(ledger.calls.filter((c) => c.startsWith('latestSeal'))).toEqual(['latestSeal a', 'latestSeal c']);

    ledger.calls.length = 0;
    const result = await handler({}, context(mod.RESERVE_MS - 1));
    expect(result).toMatchObject({ accounts: 3, skipped: 3, failed: [] });
    expect(ledger.calls).toEqual([]);
  });
});

describe('LedgerRepo: the write-time index', () => {
  type Cmd = { constructor: { name: string }; input: Record<string, any> };

  it('queries byCreatedAt, drops an entry created exactly at the end, and fetches the entries by key in batches of 100', async () => {
    const sent: Cmd[] = [];
    const from = iso(T0);
    const to = iso(T0 + HOUR);
    const keys = Array.from({ length: 150 }, (_, i) => ({ pk: 'ACCT#a', sk: `k${String(i).padStart(3, '0')}`, accountId: 'a', createdAt: iso(T0 + i * 1000) }));
    keys.push({ pk: 'ACCT#a', sk: 'at-the-end', accountId: 'a', createdAt: to });
    let unprocessedOnce = true;
    const client = {
      send: async (cmd: Cmd) => {
        sent.push(cmd);
        if (cmd.constructor.name === 'QueryCommand') {
          const page = cmd.input.ExclusiveStartKey === undefined ? keys.slice(0, 100) : keys.slice(100);
          return { Items: page.map((k) => marshall(k)), LastEvaluatedKey: cmd.input.ExclusiveStartKey === undefined ? marshall({ pk: 'x' }) : undefined };
        }
        const requested = cmd.input.RequestItems.ledger.Keys as Record<string, any>[];
        // The first batch comes back with one key unprocessed (throttling): it must be asked for again.
        const [held, ...served] = unprocessedOnce ? requested : [undefined, ...requested];
        unprocessedOnce = false;
        return {
          Responses: { ledger: served.filter((k) => k !== undefined).map((k) => ({ ...k, entryId: { S: k.sk.S }, createdAt: { S: 'x' } })) },
          UnprocessedKeys: held ? { ledger: { Keys: [held] } } : {},
        };
      },
    };
    const repo = new LedgerRepo({ ledgerTable: 'ledger', client: client as never });
    const entries = await repo.entriesCreatedBetween('a', from, to);
    expect(entries.map((e) => e.entryId).sort()).toEqual(keys.slice(0, 150).map((k) => k.sk));
    const queries = sent.filter((c) => c.constructor.name === 'QueryCommand');
    expect(queries[0]!.input).toMatchObject({
      TableName: 'ledger',
      IndexName: 'byCreatedAt',
      KeyConditionExpression: '#a = :a AND #c BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#a': 'accountId', '#c': 'createdAt' },
      ExpressionAttributeValues: { ':a': { S: 'a' }, ':from': { S: from }, ':to': { S: to } },
    });
    const batches = sent.filter((c) => c.constructor.name === 'BatchGetItemCommand').map((c) => c.input.RequestItems.ledger.Keys.length);
    expect(batches).toEqual([100, 1, 50]);
  });

  it('turns a read of an index DynamoDB is still backfilling into SealIndexNotReady; other errors pass through', async () => {
    const backfilling = Object.assign(new Error('Cannot read from backfilling global secondary index: byCreatedAt'), { name: 'ValidationException' });
    const repo = (err: Error) => new LedgerRepo({ ledgerTable: 'ledger', client: { send: async () => Promise.reject(err) } as never });
    await expect(repo(backfilling).firstCreatedAt('a')).rejects.toBeInstanceOf(SealIndexNotReady);
    await expect(repo(backfilling).entriesCreatedBetween('a', iso(T0), iso(T0 + HOUR))).rejects.toBeInstanceOf(SealIndexNotReady);
    const other = Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
    await expect(repo(other).firstCreatedAt('a')).rejects.toBe(other);
  });

  it('reads the newest seal with one strongly consistent, descending Query of one item', async () => {
    const sent: Cmd[] = [];
    const repo = new LedgerRepo({ ledgerTable: 'ledger', client: { send: async (c: Cmd) => (sent.push(c), { Items: [] }) } as never });
    expect(await repo.latestSeal('a')).toBeNull();
    expect(sent[0]!.input).toMatchObject({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'SEAL#a' } }, ScanIndexForward: false, Limit: 1, ConsistentRead: true });
    expect(sent[0]!.input.IndexName).toBeUndefined();
  });
});

describe('S3AnchorStore', () => {
  type Cmd = { constructor: { name: string }; input: Record<string, any> };
  const anchor: SealAnchor = { accountId: 'acme', seq: 7, sealHash: 'a'.repeat(64), coversTo: iso(T0) };

  it('writes write-once JSON at anchors/<account>/<seq, 12 digits>.json; an existing key is "exists"', async () => {
    const sent: Cmd[] = [];
    let exists = false;
    const client = {
      send: async (cmd: Cmd) => {
        sent.push(cmd);
        if (exists) throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
        exists = true;
        return {};
      },
    };
    const store = new S3AnchorStore({ bucket: 'anchors', client: client as never });
    expect(await store.putAnchor(anchor)).toBe('stored');
    expect(await store.putAnchor(anchor)).toBe('exists');
    expect(sent[0]!.input).toMatchObject({ Bucket: 'anchors', Key: 'anchors/acme/000000000007.json', IfNoneMatch: '*', ContentType: 'application/json' });
    expect(JSON.parse(sent[0]!.input.Body)).toEqual(anchor);
  });

  function listing(keys: string[], bodies: Record<string, string>) {
    const sent: Cmd[] = [];
    const client = {
      send: async (cmd: Cmd) => {
        sent.push(cmd);
        if (cmd.constructor.name === 'ListObjectsV2Command') {
          const after = cmd.input.StartAfter ?? '';
          return { Contents: keys.filter((k) => k.startsWith(cmd.input.Prefix) && k > after).sort().map((Key) => ({ Key })), IsTruncated: false };
        }
        return { Body: { transformToString: async () => bodies[cmd.input.Key] } };
      },
    };
    return { sent, store: new S3AnchorStore({ bucket: 'anchors', client: client as never }) };
  }

  it('finds the newest anchor from the database\'s newest seal, or by listing everything when none is there', async () => {
    const a5 = { ...anchor, seq: 5 };
    const a9 = { ...anchor, seq: 9 };
    const bodies = { [anchorKey('acme', 5)]: JSON.stringify(a5), [anchorKey('acme', 9)]: JSON.stringify(a9) };
    const keys = [anchorKey('acme', 5), anchorKey('acme', 9), anchorKey('acme-2', 12), 'anchors/acme/notes.txt'];

    const newer = listing(keys, bodies);
    expect(await newer.store.latestAnchor('acme', 7)).toEqual(a9); // the database lost seals 8 and 9: the anchor says so
    expect(newer.sent.map((c) => [c.constructor.name, c.input.StartAfter ?? c.input.Key])).toEqual([
      ['ListObjectsV2Command', anchorKey('acme', 6)],
      ['GetObjectCommand', anchorKey('acme', 9)],
    ]);

    const behind = listing(keys.slice(0, 1), bodies);
    expect(await behind.store.latestAnchor('acme', 7)).toEqual(a5); // the last run's anchor write failed
    expect(behind.sent.map((c) => c.constructor.name)).toEqual(['ListObjectsV2Command', 'ListObjectsV2Command', 'GetObjectCommand']);

    expect(await listing([], {}).store.latestAnchor('acme', 0)).toBeNull();
  });

  it('refuses an anchor object that is not one of this account', async () => {
    const key = anchorKey('acme', 5);
    await expect(listing([key], { [key]: JSON.stringify({ ...anchor, seq: 5, accountId: 'other' }) }).store.latestAnchor('acme', 5)).rejects.toThrow(/not a valid anchor/);
    await expect(listing([key], { [key]: 'not json' }).store.latestAnchor('acme', 5)).rejects.toThrow(/not a valid anchor/);
    await expect(listing([key], { [key]: JSON.stringify(anchor) }).store.latestAnchor('acme', 5)).rejects.toThrow(/not a valid anchor/); // seq 7 under key 5
  });
});

describe('the local scheduler', () => {
  afterEach(() => void vi.useRealTimers());
  const fn = FUNCTIONS.ledgerSealer;

  it('runs the handler every everyMs after the previous run ended, survives a failed run, and stops cleanly', async () => {
    vi.useFakeTimers();
    const events: unknown[] = [];
    const lines: string[] = [];
    let release: (() => void) | undefined;
    let calls = 0;
    const handler = async (event: unknown, context: Context) => {
      events.push(event);
      expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(fn.timeoutSec * 1000);
      calls++;
      if (calls === 2) throw new Error('no table');
      if (calls === 3) await new Promise<void>((r) => (release = r));
      return calls;
    };
    const schedule = startLocalSchedule({ fn, handler, everyMs: 60_000, log: (l) => void lines.push(l) });
    await vi.advanceTimersByTimeAsync(59_999);
    expect(calls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(2);
    expect(lines).toEqual(['ledgerSealer: scheduled run failed: no table']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(3); // in flight until released: no overlapping run however long it takes
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(calls).toBe(3);

    let stopped = false;
    const stopping = schedule.stop().then(() => void (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false); // waits for the run in flight
    release!();
    await stopping;
    expect(schedule.runs()).toBe(3);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(calls).toBe(3);
    expect(events).toEqual([{}, {}, {}]);
  });

  it('runNow waits for a run in flight and returns the result', async () => {
    let n = 0;
    const schedule = startLocalSchedule({ fn, handler: async () => ++n, everyMs: 3_600_000 });
    expect(await schedule.runNow()).toBe(1);
    expect(await schedule.runNow()).toBe(2);
    await schedule.stop();
  });

  it('takes its interval from the option, else LOCAL_SCHEDULE_EVERY_MS, else 60 s; 0 is off', () => {
    expect(resolveScheduleEveryMs(undefined, {})).toBe(60_000);
    expect(resolveScheduleEveryMs(undefined, { LOCAL_SCHEDULE_EVERY_MS: '5000' })).toBe(5_000);
    expect(resolveScheduleEveryMs(0, { LOCAL_SCHEDULE_EVERY_MS: '5000' })).toBe(0);
    expect(() => resolveScheduleEveryMs(undefined, { LOCAL_SCHEDULE_EVERY_MS: 'soon' })).toThrow(/whole number of ms/);
    expect(() => startLocalSchedule({ fn, handler: async () => 1, everyMs: 0 })).toThrow(/positive/);
  });
});
