import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../../infra/routes';
import { ROUTE_DECLARATIONS } from '../../../shared/app/http/routes';
import { ConfigWriteConflict, type ApiKeyRecord } from '../../../shared/app/kernel/ports';
import {
  getCampaign,
  getTrackingNumber,
  putCampaign,
  putPublisher,
  putTrackingNumber,
  type ManagementDeps,
  type ManagementStore,
} from '../../../shared/app/catalog/management';
import { openApiDocument } from '../../../shared/adapters/http/openapi';
import { CONFIG_LEAD_MS, assignmentAt, asCampaign, campaignFromSeed } from '../../../shared/domain/catalog/config';
import { rejection } from '../../support/problems';
import { parseSeed } from '../../../shared/domain/catalog/seed';
import type { Campaign, TrackingNumber, Publisher } from '../../../shared/domain/catalog/types';
import demo from '../../../events/seed/demo.json';

const NOW = Date.parse('2026-11-24T12:00:00.000Z');
const admin: ApiKeyRecord = { accountId: 'acme', role: 'admin' };
const analyst: ApiKeyRecord = { accountId: 'acme', role: 'analyst' };
const other: ApiKeyRecord = { accountId: 'globex', role: 'admin' };

/** An in-memory ManagementStore with the same conditional-write semantics as ConfigRepo. */
function memoryStore() {
  const publishers = new Map<string, Publisher>();
  const campaigns = new Map<string, Campaign>();
  const numbers = new Map<string, TrackingNumber>();
  const conditional = <T extends { rev: number }>(map: Map<string, T>, key: string, value: T, expectedRev: number | null) => {
    const current = map.get(key);
    if (expectedRev === null ? current !== undefined : current?.rev !== expectedRev) throw new ConfigWriteConflict(key);
    map.set(key, structuredClone(value));
  };
  const store: ManagementStore = {
    readPublisher: async (a, p) => publishers.get(`${a}/${p}`) ?? null,
    putPublisher: async (p) => {
      const created = !publishers.has(`${p.accountId}/${p.publisherId}`);
      publishers.set(`${p.accountId}/${p.publisherId}`, p);
      return created;
    },
    readCampaign: async (a, c) => structuredClone(campaigns.get(`${a}/${c}`) ?? null),
    putCampaign: async (c, rev) => conditional(campaigns, `${c.accountId}/${c.campaignId}`, c, rev),
    readTrackingNumber: async (n) => structuredClone(numbers.get(n) ?? null),
    putTrackingNumber: async (n, rev) => conditional(numbers, n.number, n, rev),
  };
  return { store, campaigns, numbers };
}

function setup() {
  let now = NOW;
  const mem = memoryStore();
  const deps: ManagementDeps = { store: mem.store, now: () => new Date(now), targets: { listTargets: async () => [] } };
  return { ...mem, deps, advance: (ms: number) => (now += ms) };
}

const problem = rejection;

const TERMS = { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72 };
const iso = (ms: number) => new Date(ms).toISOString();

describe('publishers', () => {
  it('creates with defaults (201), replaces (200), and names every bad field (400)', async () => {
    const { deps } = setup();
    const created = await putPublisher(admin, 'pub-a', { name: 'A', trafficMethods: ['paid_search'], subSources: ['google'] }, deps);
    expect(created.created).toBe(true);
    expect(created.body).toMatchObject({ accountId: 'acme', publisherId: 'pub-a', contact: null, creditPolicy: { disputeWindowDays: 30 } });
    expect((await putPublisher(admin, 'pub-a', { name: 'A2' }, deps)).created).toBe(false);

    const bad = await problem(
      putPublisher(admin, 'pub-a', { name: '', trafficMethods: ['tv'], creditPolicy: { disputeWindowDays: -1, allowedReasons: [] }, extra: 1 }, deps),
    );
    expect(bad.status).toBe(400);
    expect(bad.errors?.map((e) => e.field)).toEqual(
      expect.arrayContaining(['name', 'trafficMethods.0', 'creditPolicy.disputeWindowDays', 'creditPolicy.allowedReasons', '(root)']),
    );
    expect((await problem(putPublisher(admin, 'Bad Id', { name: 'x' }, deps))).errors).toEqual([{ field: 'publisherId', message: expect.any(String) }]);
  });

  it('refuses writes with an analyst key (403)', async () => {
    const { deps } = setup();
    expect((await problem(putPublisher(analyst, 'pub-a', { name: 'A' }, deps))).status).toBe(403);
    expect((await problem(putCampaign(analyst, 'c', { name: 'C', vertical: 'v', terms: TERMS }, deps))).status).toBe(403);
    expect((await problem(putTrackingNumber(analyst, '+15125550101', { campaignId: 'c', publisherId: 'p' }, deps))).status).toBe(403);
  });
});

describe('campaigns: versioned terms', () => {
  it('needs terms to create; the first version takes effect CONFIG_LEAD_MS after the write by default', async () => {
    const { deps } = setup();
    expect((await problem(putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home' }, deps))).status).toBe(422);
    const { created, body } = await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', terms: TERMS }, deps);
    expect(created).toBe(true);
    expect(body.termsVersions).toEqual([
      expect.objectContaining({ version: 1, effectiveFrom: iso(NOW + CONFIG_LEAD_MS), createdAt: iso(NOW), durationBasis: 'total', duplicateScope: 'campaign' }),
    ]);
    expect(body.termsInForce).toBeNull();
  });

  it('appends a version only when the terms change, never in the past or inside the lead (422)', async () => {
    const { deps, advance } = setup();
    await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', terms: TERMS }, deps);
    advance(120_000);
    // Same terms: no new version (a retried PUT is harmless), but the name changes.
    const same = await putCampaign(admin, 'roof', { name: 'Roofing', vertical: 'home', terms: TERMS }, deps);
    expect(same.body.termsVersions).toHaveLength(1);
    expect(same.body.name).toBe('Roofing');

    const past = await problem(putCampaign(admin, 'roof', { name: 'R', vertical: 'home', terms: { ...TERMS, priceCents: 5000 }, effectiveFrom: iso(NOW) }, deps));
    expect(past.status).toBe(422);
    expect(past.errors).toEqual([{ field: 'effectiveFrom', message: `must be at or after ${iso(NOW + 120_000 + CONFIG_LEAD_MS)}` }]);
    const soon = await problem(
      putCampaign(admin, 'roof', { name: 'R', vertical: 'home', terms: { ...TERMS, priceCents: 5000 }, effectiveFrom: iso(NOW + 120_000 + 1_000) }, deps),
    );
    expect(soon.status).toBe(422);

    const at = NOW + 3_600_000;
    const v2 = await putCampaign(admin, 'roof', { name: 'R', vertical: 'home', terms: { ...TERMS, priceCents: 5000 }, effectiveFrom: '2026-11-24T07:00:00-06:00' }, deps);
    expect(v2.body.termsVersions.map((v) => [v.version, v.priceCents, v.effectiveFrom])).toEqual([
      [1, 4500, iso(NOW + CONFIG_LEAD_MS)],
      [2, 5000, iso(at)],
    ]);
    expect(v2.body.termsInForce?.version).toBe(1);
    advance(3_600_000);
    expect((await getCampaign(analyst, 'roof', deps)).termsInForce?.version).toBe(2);
  });

  it('answers 409 when another write moved the campaign meanwhile', async () => {
    const { deps, store } = setup();
    await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', terms: TERMS }, deps);
    const stale = await store.readCampaign('acme', 'roof');
    const racing: ManagementDeps = {
      ...deps,
      store: { ...store, readCampaign: async () => stale },
    };
    await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', terms: { ...TERMS, bufferSec: 60 } }, deps);
    expect((await problem(putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', terms: { ...TERMS, bufferSec: 30 } }, racing))).status).toBe(409);
  });

  it('validates geography, hours and terms with precise fields', async () => {
    const { deps } = setup();
    const bad = await problem(
      putCampaign(
        admin,
        'roof',
        {
          name: 'Roof',
          vertical: 'home',
          geography: { states: ['XX'] },
          hours: { timeZone: 'Mars/Olympus', windows: [{ day: 'mon', open: '17:00', close: '09:00' }] },
          terms: { ...TERMS, priceCents: 1.5, durationBasis: 'ringing' },
          effectiveFrom: 'tomorrow',
        },
        deps,
      ),
    );
    expect(bad.status).toBe(400);
    expect(bad.errors?.map((e) => e.field)).toEqual(
      expect.arrayContaining(['geography.states.0', 'hours.timeZone', 'hours.windows.0.close', 'terms.priceCents', 'terms.durationBasis', 'effectiveFrom']),
    );
  });
});

describe('campaigns: economics (cost ceiling)', () => {
  const ECON = { avgCustomerMarginCents: 250_000, closeRate: 0.25, targetShare: 0.3 };

  it('are kept across a PUT that does not mention them, replaced when given, cleared by null, and validated', async () => {
    const { deps } = setup();
    expect((await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', terms: TERMS }, deps)).body.economics).toBeNull();
    expect((await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', economics: ECON }, deps)).body.economics).toEqual(ECON);
    // A terms change alone keeps them.
    const kept = await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', terms: { ...TERMS, priceCents: 5000 } }, deps);
    expect(kept.body.economics).toEqual(ECON);
    expect((await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', economics: { ...ECON, closeRate: 0.3 } }, deps)).body.economics?.closeRate).toBe(0.3);
    expect((await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', economics: null }, deps)).body.economics).toBeNull();
    const bad = await problem(putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', economics: { ...ECON, closeRate: 25 } }, deps));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad)).toContain('economics.closeRate');
  });
});

describe('tracking numbers: effective-dated assignments', () => {
  async function world() {
    const w = setup();
    await putPublisher(admin, 'pub-a', { name: 'A', subSources: ['google'] }, w.deps);
    await putPublisher(admin, 'pub-b', { name: 'B' }, w.deps);
    await putCampaign(admin, 'roof', { name: 'Roof', vertical: 'home', terms: TERMS }, w.deps);
    return w;
  }

  it('keeps the history; calls are attributed by the assignment in force at their start', async () => {
    const w = await world();
    const first = await putTrackingNumber(admin, '+15125550101', { campaignId: 'roof', publisherId: 'pub-a', subSource: 'google' }, w.deps);
    expect(first.created).toBe(true);
    const later = NOW + 2 * 3_600_000;
    await putTrackingNumber(admin, '+15125550101', { campaignId: 'roof', publisherId: 'pub-b', effectiveFrom: iso(later) }, w.deps);
    const stored = w.numbers.get('+15125550101')!;
    expect(stored.assignments.map((a) => a.publisherId)).toEqual(['pub-a', 'pub-b']);
    expect(assignmentAt(stored, NOW)).toBeNull();
    expect(assignmentAt(stored, NOW + CONFIG_LEAD_MS)?.publisherId).toBe('pub-a');
    expect(assignmentAt(stored, later - 1)?.publisherId).toBe('pub-a');
    expect(assignmentAt(stored, later)).toMatchObject({ publisherId: 'pub-b', subSource: null });
    // Re-sending the latest assignment changes nothing.
    await putTrackingNumber(admin, '+15125550101', { campaignId: 'roof', publisherId: 'pub-b', effectiveFrom: iso(later + 1000) }, w.deps);
    expect(w.numbers.get('+15125550101')!.assignments).toHaveLength(2);
  });

  it('refuses unknown campaigns, publishers, undeclared sub-sources (422), other accounts (409/404), bad numbers (400)', async () => {
    const w = await world();
    const bad = await problem(putTrackingNumber(admin, '+15125550101', { campaignId: 'nope', publisherId: 'nobody' }, w.deps));
    expect(bad.status).toBe(422);
    expect(bad.errors?.map((e) => e.field)).toEqual(['campaignId', 'publisherId']);
    const sub = await problem(putTrackingNumber(admin, '+15125550101', { campaignId: 'roof', publisherId: 'pub-a', subSource: 'bing' }, w.deps));
    expect(sub.errors).toEqual([{ field: 'subSource', message: "is not one of the publisher's declared subSources" }]);
    expect((await problem(putTrackingNumber(admin, '5125550101', { campaignId: 'roof', publisherId: 'pub-a' }, w.deps))).status).toBe(400);

    await putTrackingNumber(admin, '+15125550101', { campaignId: 'roof', publisherId: 'pub-a' }, w.deps);
    w.campaigns.set('globex/roof', { ...w.campaigns.get('acme/roof')!, accountId: 'globex' });
    await putPublisher(other, 'pub-a', { name: 'G' }, w.deps);
    expect((await problem(putTrackingNumber(other, '+15125550101', { campaignId: 'roof', publisherId: 'pub-a' }, w.deps))).status).toBe(409);
    expect((await problem(getTrackingNumber(other, '+15125550101', w.deps))).status).toBe(404);
    expect((await getTrackingNumber(analyst, '+15125550101', w.deps)).assignments).toHaveLength(1);
  });
});

describe('seed and stored shapes', () => {
  it('the demo seed keeps its contract: price 4500, buffer 90, window 72 h, in force since the epoch', () => {
    const seed = parseSeed(demo);
    const campaign = campaignFromSeed(seed.campaigns[0]!);
    expect(campaign.termsVersions).toEqual([
      expect.objectContaining({ version: 1, priceCents: 4500, bufferSec: 90, duplicateWindowHours: 72, effectiveFrom: '1970-01-01T00:00:00.000Z' }),
    ]);
  });

  it('reads issue-2 campaigns (one flat terms) as version 1 of the full contract', () => {
    const c = asCampaign({ accountId: 'a', campaignId: 'c', name: 'C', vertical: 'v', terms: { version: 1, ...TERMS } });
    expect(c.termsVersions[0]).toMatchObject({ version: 1, durationBasis: 'total', duplicateScope: 'campaign', qualification: null, priceBands: [] });
  });
});

describe('OpenAPI document', () => {
  const doc = openApiDocument() as {
    openapi: string;
    paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown; security: unknown[] }>>;
    components: { schemas: Record<string, unknown> };
  };

  it('is OpenAPI 3.1 listing every route of ROUTES, with problem responses and request bodies for PUTs', () => {
    expect(doc.openapi).toBe('3.1.0');
    for (const r of ROUTES) {
      const op = doc.paths[r.path]?.[r.method === 'ANY' ? 'post' : r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(Object.keys(op!.responses).length).toBeGreaterThan(0);
      if (r.method === 'PUT') {
        expect(op!.requestBody).toBeDefined();
        expect(op!.responses['403']).toBeDefined();
      }
    }
    expect(doc.paths['/v1/openapi.json']!.get!.security).toEqual([]);
  });

  it('is valid JSON whose every $ref resolves to a component schema', () => {
    const text = JSON.stringify(doc);
    expect(JSON.parse(text)).toEqual(doc);
    const refs = [...text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.slice('#/components/schemas/'.length)], ref).toBeDefined();
    }
    // Every schema object has a JSON Schema type, a $ref, a combinator or a const/enum.
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (node === null || typeof node !== 'object') return;
      for (const [k, v] of Object.entries(node)) {
        if (k === 'schema' || k === 'items') {
          const s = v as Record<string, unknown>;
          expect(['type', '$ref', 'anyOf', 'oneOf', 'allOf', 'const', 'enum'].some((key) => key in s) || Object.keys(s).length === 0, JSON.stringify(s).slice(0, 200)).toBe(true);
        }
        walk(v);
      }
    };
    walk(doc.paths);
  });

  it('documents exactly the declarations it is given', () => {
    const one = ROUTE_DECLARATIONS.filter((r) => r.path === '/v1/disputes');
    const only = openApiDocument(one) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(only.paths)).toEqual(['/v1/disputes']);
    expect(Object.keys(only.paths['/v1/disputes']!)).toEqual(['get']);
  });
});

describe('OpenAPI document and the ledger routes', () => {
  it('documents the dispute/statement/reconciliation routes', async () => {
    const { LEDGER_ROUTES } = await import('../../../shared/app/ledger/ledger-routes');
    const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
    for (const r of LEDGER_ROUTES) expect(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
  });
});

describe('ConfigRepo cache: copies exact at the call start', () => {
  it('serves a cached campaign only for calls that started within CONFIG_LEAD_MS of its read (or too far ahead for any read)', async () => {
    const { ConfigRepo } = await import('../../../shared/adapters/calls/main-repo');
    const { marshall } = await import('@aws-sdk/util-dynamodb');
    let now = NOW;
    const reads: boolean[] = [];
    const item = campaignFromSeed({ accountId: 'acme', campaignId: 'roof', name: 'R', vertical: 'v', terms: { version: 1, ...TERMS } });
    const client = {
      send: async (cmd: { input: { ConsistentRead?: boolean } }) => {
        reads.push(cmd.input.ConsistentRead === true);
        return { Item: marshall({ pk: 'ACCT#acme', sk: 'CAMP#roof', ...item }) };
      },
    };
    const repo = new ConfigRepo({ mainTable: 't', client: client as never, now: () => now, cacheTtlMs: 10 * 60_000 });
    await repo.getCampaign('acme', 'roof', NOW - 5_000);
    expect(reads).toEqual([true]); // strongly consistent
    await repo.getCampaign('acme', 'roof', NOW + CONFIG_LEAD_MS); // within the lead of the read: exact
    expect(reads).toHaveLength(1);
    now += 30_000;
    await repo.getCampaign('acme', 'roof', NOW + CONFIG_LEAD_MS + 1); // a change written after the read could govern it
    expect(reads).toHaveLength(2);
    await repo.getCampaign('acme', 'roof', now + CONFIG_LEAD_MS + 3_600_000); // no read can make it exact
    expect(reads).toHaveLength(2);
    now += CONFIG_LEAD_MS + 1; // the TTL is capped at CONFIG_LEAD_MS
    await repo.getCampaign('acme', 'roof');
    expect(reads).toHaveLength(3);
  });
});
