/**
 * Compliance, pure parts and use cases: DNC effective dating (applyDncOp / listedAt), CSV and JSON upload
 * parsing with line numbers, the upload use case over an in-memory store (counts, invalid line numbers, no number
 * echoed), the request schemas, the consent rule and window, and the writer reader's cache exactness (DncRepo over a
 * stub client that counts Queries).
 */
import { rejection, thrown, PROBLEM } from '../../support/problems';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DncRepo } from '../../../shared/adapters/compliance/dnc-repo';
import { consentRecords, dncUploadLines, postConsent, uploadDncNumbers, type ComplianceDeps, type ConsentStore, type DncStore } from '../../../shared/app/compliance/compliance';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { callerHash } from '../../../shared/domain/calls/caller';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import { CONSENT_VALIDITY_MS, consentApplies, consentFinding, consentRequired } from '../../../shared/domain/compliance/consent';
import { ComplianceSettingsSchema, ConsentRecordSchema } from '../../../shared/domain/compliance/consent-schema';
import { applyDncOp, dncLinesFromCsv, dncLinesFromJson, listedAt, listsAt, MAX_DNC_LINES, type DncEntry, type DncList } from '../../../shared/domain/compliance/dnc';
import { DncNumbersBodySchema, PutDncListBodySchema } from '../../../shared/domain/compliance/dnc-schema';
import { BadRequest, Forbidden, NotFound, UnsupportedMediaType, Unprocessable } from '../../../shared/domain/kernel/problems';

const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const ctx = (nowMs: number) => ({ listId: 'natl', nowMs, by: 'ops' });
const admin: ApiKeyRecord = { accountId: 'acct-1', role: 'admin', label: 'ops' };
const analyst: ApiKeyRecord = { accountId: 'acct-1', role: 'analyst', label: 'viewer' };
const KEY = 'k'.repeat(64);

describe('DNC entries: effective dating', () => {
  it('an addition applies from its write + CONFIG_LEAD_MS, not before', () => {
    const { entry, result } = applyDncOp(null, 'add', ctx(T0));
    expect(result).toBe('added');
    expect(listedAt(entry!, T0 + CONFIG_LEAD_MS - 1)).toBe(false);
    expect(listedAt(entry!, T0 + CONFIG_LEAD_MS)).toBe(true);
  });

  it('adding a listed number is `already` and changes nothing; removing an unlisted one is `not_listed`', () => {
    const added = applyDncOp(null, 'add', ctx(T0)).entry;
    const again = applyDncOp(added, 'add', ctx(T0 + 1000));
    expect(again).toMatchObject({ result: 'already', changed: false, entry: added });
    expect(applyDncOp(null, 'remove', ctx(T0))).toMatchObject({ result: 'not_listed', changed: false, entry: null });
  });

  it('a removal applies from its write + lead; the instants before stay listed', () => {
    const added = applyDncOp(null, 'add', ctx(T0)).entry!;
    const removedAt = T0 + 3_600_000;
    const removed = applyDncOp(added, 'remove', ctx(removedAt));
    expect(removed.result).toBe('removed');
    expect(listedAt(removed.entry!, removedAt + CONFIG_LEAD_MS - 1)).toBe(true);
    expect(listedAt(removed.entry!, removedAt + CONFIG_LEAD_MS)).toBe(false);
    expect(listedAt(removed.entry!, T0 + CONFIG_LEAD_MS + 1)).toBe(true);
  });

  it('a removal before the addition took effect leaves no listed instant', () => {
    const added = applyDncOp(null, 'add', ctx(T0)).entry!;
    const removed = applyDncOp(added, 'remove', ctx(T0)).entry!;
    expect(removed.periods).toEqual([]);
    expect(listedAt(removed, T0 + CONFIG_LEAD_MS)).toBe(false);
  });

  it('no sequence of changes alters whether an instant already past (write time) was listed', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom<'add' | 'remove'>('add', 'remove'), fc.integer({ min: 1, max: 600_000 })), { minLength: 1, maxLength: 12 }), (ops) => {
        let entry: DncEntry | null = null;
        let now = T0;
        for (const [op, gap] of ops) {
          now += gap;
          const probes = [T0, now - 1, now, now + CONFIG_LEAD_MS - 1].map((t) => [t, entry === null ? false : listedAt(entry, t)] as const);
          entry = applyDncOp(entry, op, ctx(now)).entry;
          for (const [t, before] of probes) expect(entry === null ? false : listedAt(entry, t)).toBe(before);
        }
      }),
    );
  });

  it('listsAt names every list that lists the caller then, sorted', () => {
    const a = { ...applyDncOp(null, 'add', { ...ctx(T0), listId: 'state-tx' }).entry! };
    const b = { ...applyDncOp(null, 'add', { ...ctx(T0), listId: 'internal' }).entry! };
    expect(listsAt([a, b], T0 + CONFIG_LEAD_MS)).toEqual(['internal', 'state-tx']);
    expect(listsAt([a, b], T0)).toEqual([]);
  });
});

describe('DNC upload parsing', () => {
  it('CSV: optional header, blank lines skipped, quoted and extra columns, CRLF; line numbers are the text’s own', () => {
    const text = '\ufeffnumber\r\n+15125550101\r\n\r\n"(512) 555-0102",note\nnot-a-number\n5125550103\n';
    expect(dncLinesFromCsv(text)).toEqual([
      { line: 2, op: 'add', raw: '+15125550101' },
      { line: 4, op: 'add', raw: '(512) 555-0102' },
      { line: 5, op: 'add', raw: 'not-a-number' },
      { line: 6, op: 'add', raw: '5125550103' },
    ]);
    expect(dncLinesFromCsv('+15125550101\n+15125550102')).toHaveLength(2);
  });

  it('JSON: additions first, then removals, numbered in that order', () => {
    expect(dncLinesFromJson({ add: ['a', 'b'], remove: ['c'] })).toEqual([
      { line: 1, op: 'add', raw: 'a' },
      { line: 2, op: 'add', raw: 'b' },
      { line: 3, op: 'remove', raw: 'c' },
    ]);
  });

  it('media types: text/csv and JSON; anything else is 415; an empty JSON upload is 400', () => {
    expect(dncUploadLines({ body: '+15125550101', contentType: 'text/csv; charset=utf-8' })).toHaveLength(1);
    expect(dncUploadLines({ body: '{"remove":["+15125550101"]}', contentType: 'application/json' })[0]).toMatchObject({ op: 'remove' });
    expect(thrown(() => dncUploadLines({ body: '+15125550101', contentType: 'text/plain' }))).toMatchObject(PROBLEM.UnsupportedMediaType);
    expect(thrown(() => dncUploadLines({ body: '{}', contentType: 'application/json' }))).toMatchObject(PROBLEM.BadRequest);
  });
});

/** An in-memory DncStore (the use case's port; the adapter is covered by test/int/compliance/compliance.int.test.ts). */
function memoryDnc(): DncStore & { entries: Map<string, DncEntry>; count: number } {
  const list: DncList = { accountId: 'acct-1', listId: 'natl', name: 'National', source: 'national', count: 0, createdAt: 'x', createdBy: 'ops', updatedAt: 'x', lastUploadAt: null };
  const store = {
    entries: new Map<string, DncEntry>(),
    count: 0,
    readList: async (_a: string, id: string) => (id === 'natl' ? { ...list, count: store.count } : null),
    putList: async () => list,
    listLists: async () => [list],
    recordUpload: async (_a: string, _l: string, delta: number) => {
      store.count += delta;
      return { ...list, count: store.count };
    },
    readEntries: async (_a: string, _l: string, hashes: readonly string[]) => new Map(hashes.flatMap((h) => (store.entries.has(h) ? [[h, store.entries.get(h)!] as const] : []))),
    writeEntries: async (_a: string, es: readonly { callerHash: string; entry: DncEntry }[]) => {
      for (const e of es) store.entries.set(e.callerHash, e.entry);
    },
  };
  return store;
}

function deps(dnc: DncStore, consent?: ConsentStore): ComplianceDeps {
  return {
    dnc,
    consent: consent ?? { putEvidence: async () => 'stored', evidenceFor: async () => [], callForConsent: async () => null },
    settings: { putCompliance: async () => true },
    callerHashKey: async () => KEY,
    now: () => new Date(T0),
  };
}

describe('DNC upload use case', () => {
  it('counts added / already / invalid with invalid line numbers, hashes with the caller-hash key, never echoes a number', async () => {
    const dnc = memoryDnc();
    const csv = 'number\n+15125550101\n(512) 555-0102\n+15125550101\n12\nhello\n';
    const result = await uploadDncNumbers(admin, 'natl', dncLinesFromCsv(csv), deps(dnc));
    expect(result).toMatchObject({ lines: 5, added: 2, already: 1, removed: 0, invalid: 2, invalidLines: [5, 6], effectiveFrom: new Date(T0 + CONFIG_LEAD_MS).toISOString() });
    expect([...dnc.entries.keys()].sort()).toEqual([callerHash(KEY, '+15125550101'), callerHash(KEY, '+15125550102')].sort());
    expect(dnc.count).toBe(2);
    expect(JSON.stringify(result)).not.toMatch(/512555|555-01|5550101|5550102|hello/);

    const removal = await uploadDncNumbers(admin, 'natl', dncLinesFromJson({ add: ['+15125550101'], remove: ['+15125550102', '+15125550199'] }), deps(dnc));
    expect(removal).toMatchObject({ added: 0, already: 1, removed: 1, notListed: 1, invalid: 0 });
    expect(dnc.count).toBe(1);
  });

  it('refuses an analyst key (403), an unknown list (404), and too many lines (422)', async () => {
    const dnc = memoryDnc();
    const lines = dncLinesFromCsv('+15125550101');
    expect(await rejection(uploadDncNumbers(analyst, 'natl', lines, deps(dnc)))).toMatchObject(PROBLEM.Forbidden);
    expect(await rejection(uploadDncNumbers(admin, 'other', lines, deps(dnc)))).toMatchObject(PROBLEM.NotFound);
    const many = Array.from({ length: MAX_DNC_LINES + 1 }, (_, i) => ({ line: i + 1, op: 'add' as const, raw: '+15125550101' }));
    expect(await rejection(uploadDncNumbers(admin, 'natl', many, deps(dnc)))).toMatchObject(PROBLEM.Unprocessable);
  });
});

describe('schemas', () => {
  it('DNC list and upload bodies', () => {
    expect(PutDncListBodySchema.safeParse({ name: 'National', source: 'national' }).success).toBe(true);
    expect(PutDncListBodySchema.safeParse({ name: 'X', source: 'federal' }).success).toBe(false);
    expect(PutDncListBodySchema.safeParse({ name: '', source: 'state' }).success).toBe(false);
    expect(DncNumbersBodySchema.safeParse({ add: [] }).success).toBe(false);
    expect(DncNumbersBodySchema.safeParse({ add: ['+15125550101'], extra: 1 }).success).toBe(false);
  });

  it('consent records: https URL ≤ 2048, a certificate, exactly one of callId / callerNumber, publisherId with a number', () => {
    const base = { callerNumber: '+15125550101', publisherId: 'pub-a', capturedAt: '2026-03-01T10:00:00Z' };
    expect(ConsentRecordSchema.safeParse({ ...base, certificateId: 'cert-1' }).success).toBe(true);
    expect(ConsentRecordSchema.safeParse({ ...base, certificateUrl: 'https://cert.example/abc' }).success).toBe(true);
    expect(ConsentRecordSchema.safeParse({ ...base, certificateUrl: 'http://cert.example/abc' }).success).toBe(false);
    expect(ConsentRecordSchema.safeParse({ ...base, certificateUrl: `https://cert.example/${'a'.repeat(2048)}` }).success).toBe(false);
    expect(ConsentRecordSchema.safeParse(base).success).toBe(false);
    expect(ConsentRecordSchema.safeParse({ ...base, callId: 'c1', certificateId: 'x' }).success).toBe(false);
    expect(ConsentRecordSchema.safeParse({ callerNumber: '+15125550101', capturedAt: base.capturedAt, certificateId: 'x' }).success).toBe(false);
    expect(ConsentRecordSchema.safeParse({ callId: 'c1', capturedAt: base.capturedAt, certificateId: 'x' }).success).toBe(true);
    expect(ComplianceSettingsSchema.safeParse({ consentMissingNonBillable: true, dncNonBillable: false }).success).toBe(true);
    expect(ComplianceSettingsSchema.safeParse({ consentMissingNonBillable: true }).success).toBe(false);
  });

  it('POST /v1/consent answers one result per record; a bad record is refused by its position without its values', async () => {
    const stored: string[] = [];
    const consent: ConsentStore = {
      putEvidence: async (hash) => (stored.push(hash), 'stored'),
      evidenceFor: async () => [],
      callForConsent: async () => null,
    };
    const records = consentRecords({
      records: [
        { callerNumber: '+15125550177', publisherId: 'p', capturedAt: '2026-03-01T10:00:00Z', certificateId: 'c1' },
        { callerNumber: '+15125550178', publisherId: 'p', capturedAt: '2026-03-01T10:00:00Z', certificateUrl: 'http://x' },
        { callerNumber: 'nope', publisherId: 'p', capturedAt: '2026-03-01T10:00:00Z', certificateId: 'c1' },
        { callId: 'missing', capturedAt: '2026-03-01T10:00:00Z', certificateId: 'c1' },
        { callerNumber: '+15125550177', publisherId: 'p', capturedAt: '2026-04-01T10:00:00Z', certificateId: 'c1' },
      ],
    });
    const { results } = await postConsent(admin, records, deps(memoryDnc(), consent));
    expect(results.map((r) => [r.line, r.result, r.problem?.status])).toEqual([
      [1, 'stored', undefined],
      [2, 'refused', 400],
      [3, 'refused', 422],
      [4, 'refused', 404],
      [5, 'refused', 422],
    ]);
    expect(stored).toEqual([callerHash(KEY, '+15125550177')]);
    expect(JSON.stringify(results)).not.toMatch(/5550177|5550178|nope/);
    expect(await rejection(postConsent(analyst, records, deps(memoryDnc(), consent)))).toMatchObject(PROBLEM.Forbidden);
  });
});

describe('consent rule', () => {
  it('consent is required for outbound or purchased-list publishers only', () => {
    expect(consentRequired({ trafficMethods: ['paid_search', 'outbound'] })).toBe(true);
    expect(consentRequired({ trafficMethods: ['purchased_list'] })).toBe(true);
    expect(consentRequired({ trafficMethods: ['paid_search', 'seo', 'affiliate'] })).toBe(false);
    expect(consentRequired(null)).toBe(false);
  });

  it('consent_missing when required and no evidence applies', () => {
    const evidence = { certificateId: 'c', capturedAt: '2026-03-01T00:00:00.000Z' };
    expect(consentFinding(true, null)).toBe('consent_missing');
    expect(consentFinding(true, evidence)).toBeNull();
    expect(consentFinding(false, null)).toBeNull();
  });

  it('evidence applies from capture until CONSENT_VALIDITY_DAYS later, both ends inclusive, never before capture', () => {
    expect(consentApplies(T0, T0)).toBe(true);
    expect(consentApplies(T0, T0 - 1)).toBe(false);
    expect(consentApplies(T0, T0 + CONSENT_VALIDITY_MS)).toBe(true);
    expect(consentApplies(T0, T0 + CONSENT_VALIDITY_MS + 1)).toBe(false);
  });
});

describe('DncRepo reader cache (exact at the call start)', () => {
  /**
   * A client stub: the account has one list (the "any list?" Query, counted in `listQueries`); every caller Query
   * answers the current `items`, counted in `queries`.
   */
  function stub() {
    const s = {
      queries: 0,
      listQueries: 0,
      items: [] as Record<string, unknown>[],
      client: {
        send: async (command: { input: { ExpressionAttributeValues: Record<string, { S: string }> } }) => {
          if (command.input.ExpressionAttributeValues[':prefix']?.S === 'DNCLIST#') {
            s.listQueries += 1;
            return { Items: [marshall({ sk: 'DNCLIST#natl' })] };
          }
          s.queries += 1;
          return { Items: s.items.map((i) => marshall(i)) };
        },
      } as unknown as DynamoDBClient,
    };
    return s;
  }

  it('an account without any list costs one Query per freshness, whatever the callers', async () => {
    let now = T0;
    let queries = 0;
    const client = { send: async () => ((queries += 1), { Items: [] }) } as unknown as DynamoDBClient;
    const repo = new DncRepo({ mainTable: 't', client, now: () => now });
    for (let i = 0; i < 50; i++) expect(await repo.dncListed('a', `h${i}`, T0)).toBeNull();
    expect(queries).toBe(1);
    now = T0 + CONFIG_LEAD_MS + 1;
    expect(await repo.dncListed('a', 'h0', now)).toBeNull();
    expect(queries).toBe(2);
  });

  it('a copy read at L serves calls that started up to L + lead (listed or not), and re-reads for later ones', async () => {
    const s = stub();
    let now = T0;
    const repo = new DncRepo({ mainTable: 't', client: s.client, now: () => now });
    expect(await repo.dncListed('a', 'h', T0 - 5000)).toBeNull();
    // A listing written after the read takes effect at its write + lead > L + lead: the cached "no" stays exact.
    now = T0 + 10_000;
    s.items = [{ listId: 'natl', periods: [{ from: new Date(now + CONFIG_LEAD_MS).toISOString(), until: null }] }];
    expect(await repo.dncListed('a', 'h', T0 + CONFIG_LEAD_MS)).toBeNull();
    expect(s.queries).toBe(1);
    // A call that started after L + lead re-reads and sees the listing once in force.
    now = T0 + CONFIG_LEAD_MS + 20_000;
    expect(await repo.dncListed('a', 'h', T0 + CONFIG_LEAD_MS + 1)).toBeNull();
    expect(s.queries).toBe(2);
    expect(await repo.dncListed('a', 'h', T0 + 10_000 + CONFIG_LEAD_MS)).toEqual({ listIds: ['natl'] });
    expect(s.queries).toBe(2);
    expect(s.listQueries).toBe(2);
  });

  it('a cached copy expires after its TTL; different callers are cached apart', async () => {
    const s = stub();
    let now = T0;
    const repo = new DncRepo({ mainTable: 't', client: s.client, now: () => now, cacheTtlMs: 5_000 });
    await repo.dncListed('a', 'h1', T0);
    await repo.dncListed('a', 'h2', T0);
    await repo.dncListed('a', 'h1', T0);
    expect(s.queries).toBe(2);
    now = T0 + 5_001;
    await repo.dncListed('a', 'h1', T0);
    expect(s.queries).toBe(3);
  });
});
