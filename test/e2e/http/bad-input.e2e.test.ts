/**
 * End to end, over HTTP: every route of infra/routes.ts ROUTES gets every kind of bad input its request can carry
 * (instants at both extremes with offsets, months beyond the range, edited and replayed cursors, over-long and
 * malformed path ids, control characters in free text), and answers a precise 400 problem+json naming the input —
 * never a 5xx — while nothing is written: every table is scanned before and after and compared item by item.
 * Then: another account's call, dispute and QA target answer exactly as ids that do not exist; a tracking number
 * held by another account is refused without naming it; no problem repeats a phone number from the path; and a
 * fast-check property sends random strings as path ids and query values to every route: never a 5xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../../infra/routes';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { ACME, GLOBEX, TwilioSender, apiKey, newCallSid, newCaller, scan, writeTwoAccountSeed, type TempSeed } from '../../support/e2e-harness';

let stack: LocalStack;
let seed: TempSeed;
let acmeAdmin: string;
let globexAdmin: string;

const HOUR = 3_600_000;
const at = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
  readonly body: any;
}

interface Request {
  readonly method: string;
  /** The path, already percent-encoded. */
  readonly path: string;
  readonly key?: string | null;
  readonly query?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

async function send(r: Request): Promise<Answer> {
  const qs = new URLSearchParams(r.query ?? {}).toString();
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  const key = r.key === undefined ? acmeAdmin : r.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (r.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${stack.baseUrl}${r.path}${qs ? `?${qs}` : ''}`, {
    method: r.method === 'ANY' ? 'POST' : r.method,
    headers,
    body: r.json === undefined ? undefined : JSON.stringify(r.json),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON (CSV answers)
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, body };
}

/** `template` with its `{param}`s filled, each value percent-encoded unless given already encoded (`raw`). */
function pathOf(template: string, params: Readonly<Record<string, string>>, raw: Readonly<Record<string, string>> = {}): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => raw[name] ?? encodeURIComponent(params[name] ?? ''));
}

function setPath(value: unknown, path: string, leaf: unknown): unknown {
  const [head, ...rest] = path.split('.');
  const obj = { ...(value as Record<string, unknown>) };
  obj[head!] = rest.length === 0 ? leaf : setPath(obj[head!], rest.join('.'), leaf);
  return obj;
}

// ------------------------------------------------------------------------------------------------ the fixtures

/** What the tests read and send: filled in beforeAll from real traffic. */
const f = {
  acmeCalls: [] as string[],
  globexCall: '',
  acmeDispute: '',
  globexDispute: '',
  cursors: {} as Record<string, string>,
};

/**
 * One valid request per route, and where its bad inputs go: `params` fills the path; `query` and `json` make it
 * otherwise acceptable; `instants`/`bodyInstants` name the query / body fields that are instants, `periods` the
 * months, `text` the body's free-text fields, `cursor` marks a paginated route; `perLine` reads the problem of a
 * route that answers one result per record (200) instead of a 400 for the request.
 */
interface RouteCase {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly instants?: readonly string[];
  readonly bodyInstants?: readonly string[];
  readonly periods?: readonly string[];
  readonly text?: readonly string[];
  readonly cursor?: boolean;
  readonly perLine?: (body: any) => { status: number; errors?: { field: string }[] };
}

function cases(): Record<string, RouteCase> {
  const callId = f.acmeCalls[0]!;
  const publisherId = ACME.publisherId;
  const campaignId = ACME.campaignId;
  return {
    'ANY /webhooks/twilio/{accountId}': { params: { accountId: ACME.accountId } },
    'ANY /webhooks/telnyx/{accountId}': { params: { accountId: ACME.accountId } },
    'ANY /webhooks/vonage/{accountId}': { params: { accountId: ACME.accountId } },
    'ANY /webhooks/plivo/{accountId}': { params: { accountId: ACME.accountId } },
    'POST /voice/twilio/{accountId}': { params: { accountId: ACME.accountId } },
    'POST /voice/telnyx/{accountId}': { params: { accountId: ACME.accountId } },
    'POST /voice/plivo/{accountId}': { params: { accountId: ACME.accountId } },
    'ANY /voice/vonage/{accountId}': { params: { accountId: ACME.accountId } },
    'PUT /v1/targets/{targetId}': {
      params: { targetId: 'target-new' },
      json: { name: 'Austin office', destination: { kind: 'number', e164: '+15125550111' } },
      text: ['name'],
    },
    'GET /v1/targets/{targetId}': { params: { targetId: 'target-new' } },
    'GET /v1/calls': { query: { campaignId }, instants: ['from', 'to'], cursor: true },
    'GET /v1/calls/{callId}': { params: { callId } },
    'GET /v1/calls/{callId}/rating': { params: { callId } },
    'GET /v1/ledger': { query: { campaignId }, instants: ['from', 'to'], cursor: true },
    'GET /v1/publishers/{publisherId}': { params: { publisherId } },
    'PUT /v1/publishers/{publisherId}': {
      params: { publisherId: 'pub-new' },
      json: { name: 'New Media', contact: { name: 'Ann Lee', email: null, phone: null } },
      text: ['name', 'contact.name'],
    },
    'GET /v1/campaigns/{campaignId}': { params: { campaignId } },
    'PUT /v1/campaigns/{campaignId}': {
      params: { campaignId: 'camp-new' },
      json: { name: 'Gutters, Texas', vertical: 'home_services', terms: { priceCents: 3000, bufferSec: 60, duplicateWindowHours: 24 }, effectiveFrom: at(HOUR) },
      text: ['name', 'vertical'],
      bodyInstants: ['effectiveFrom'],
    },
    'GET /v1/tracking-numbers/{e164}': { params: { e164: ACME.number } },
    'PUT /v1/tracking-numbers/{e164}': {
      params: { e164: '+15125550988' },
      json: { campaignId, publisherId, subSource: null, effectiveFrom: at(HOUR) },
      bodyInstants: ['effectiveFrom'],
    },
    'POST /v1/calls/{callId}/disputes': { params: { callId: f.acmeCalls[2]! }, json: { reason: 'fraud', note: 'caller never spoke' }, text: ['note'] },
    'POST /v1/disputes/{disputeId}/resolve': { params: { disputeId: f.acmeDispute }, json: { outcome: 'rejected', note: 'call was fine' }, text: ['note'] },
    'GET /v1/disputes': { query: { status: 'open' }, cursor: true },
    'GET /v1/statements': { query: { period: '2026-01', publisherId }, periods: ['period'] },
    'POST /v1/reconciliations': { query: { publisherId, from: at(-2 * HOUR), to: at(HOUR) }, instants: ['from', 'to'], periods: ['period'] },
    'GET /v1/ledger/verify': {},
    'PUT /v1/blocked-callers/{e164}': { params: { e164: '+15125550142' }, json: { reason: 'fraud', effectiveFrom: at(HOUR) }, bodyInstants: ['effectiveFrom'] },
    'GET /v1/blocked-callers/{e164}': { params: { e164: '+15125550142' } },
    'GET /v1/blocked-callers': { cursor: true },
    'POST /v1/pilots': {
      json: { campaignId, publisherIds: [publisherId], vertical: 'roofing', spendCapCents: 10_000, startsAt: at(HOUR), endsAt: at(2 * HOUR) },
      headers: { 'idempotency-key': 'bad-input-pilot' },
      text: ['vertical'],
      bodyInstants: ['startsAt', 'endsAt'],
    },
    'GET /v1/pilots/{pilotId}': { params: { pilotId: 'pilot-000000000000000000000000' } },
    'POST /v1/pilots/{pilotId}/stop': { params: { pilotId: 'pilot-000000000000000000000000' } },
    'GET /v1/pilots/{pilotId}/report': { params: { pilotId: 'pilot-000000000000000000000000' } },
    'GET /v1/reports/sources': { query: { campaignId }, instants: ['from', 'to'] },
    'GET /v1/reports/threshold': { query: { campaignId }, instants: ['from', 'to'] },
    'POST /v1/outcomes': {
      json: { externalId: 'crm-bad-input', callId, occurredAt: at(-HOUR), status: 'booked', revenueCents: 100 },
      bodyInstants: ['occurredAt'],
      perLine: (body) => body.results[0].error,
    },
    'GET /v1/outcomes': { query: { status: 'matched' }, cursor: true },
    'GET /v1/outcomes/{externalId}': { params: { externalId: 'crm-1' } },
    'GET /v1/qa/sample': { query: { campaignId }, instants: ['from', 'to'] },
    'POST /v1/calls/{callId}/qa': { params: { callId }, json: { verdict: 'junk', note: 'silence' }, text: ['note'] },
    'PUT /v1/dnc-lists/{listId}': { params: { listId: 'internal' }, json: { name: 'Internal list', source: 'internal' }, text: ['name'] },
    'GET /v1/dnc-lists/{listId}': { params: { listId: 'internal' } },
    'GET /v1/dnc-lists': {},
    'POST /v1/dnc-lists/{listId}/numbers': { params: { listId: 'internal' }, json: { add: ['+15125550123'] } },
    'POST /v1/consent': {
      json: { callId, capturedAt: at(-HOUR), certificateId: 'cert-1', leadId: 'lead-1' },
      text: ['certificateId', 'leadId'],
      bodyInstants: ['capturedAt'],
      perLine: (body) => body.results[0].problem,
    },
    'GET /v1/calls/{callId}/consent': { params: { callId } },
    'PUT /v1/account/compliance': { json: { consentMissingNonBillable: false, dncNonBillable: false } },
    'PUT /v1/account/carriers/{carrier}': { params: { carrier: 'plivo' }, json: { authId: 'MAACME', authTokenSecrets: ['plivo/acme-roofing/auth-token'] } },
    'GET /v1/account/carriers': {},
    'POST /v1/privacy/deletions': { json: { callerNumber: '+12065550100' }, headers: { 'idempotency-key': 'bad-input-deletion' } },
    'GET /v1/privacy/deletions/{deletionId}': { params: { deletionId: 'del_000000000000000000000000' } },
    'ANY /webhooks/networks/{accountId}/{networkId}/{secret}': { params: { accountId: ACME.accountId, networkId: 'net-none', secret: 'A'.repeat(43) } },
    'PUT /v1/networks/{networkId}': {
      params: { networkId: 'net-new' },
      json: { kind: 'generic', name: 'Bad Input Net', destinations: ['+15125550977'], fields: { callId: { param: 'id', token: null } } },
      text: ['name'],
    },
    'GET /v1/networks/{networkId}': { params: { networkId: 'net-none' } },
    'POST /v1/networks/{networkId}/rotate-secret': { params: { networkId: 'net-none' }, json: { overlapSec: 60 } },
    'GET /v1/reports/network-drift': { query: { networkId: 'net-none' }, instants: ['from', 'to'] },
    'GET /v1/openapi.json': {},
    'GET /health': {},
  };
}

// ------------------------------------------------------------------------------------------------ bad inputs

/** Instants outside years 0000–9999 once their offset is applied. */
const BAD_INSTANTS = ['9999-12-31T23:59:59-23:59', '0000-01-01T00:00:00+01:00', '9999-12-31T23:00:00-01:00'];
const BAD_PERIODS = ['9999-12', '0000-01'];
/** Path ids: far over DynamoDB's key limits, just over the grammar's 128, controls, spaces, broken percent-encoding (raw). */
const BAD_IDS: readonly { readonly label: string; readonly raw: string }[] = [
  { label: '5000 characters', raw: 'a'.repeat(5000) },
  { label: '1500 characters', raw: 'b'.repeat(1500) },
  { label: '129 characters', raw: 'c'.repeat(129) },
  { label: 'a NUL', raw: 'x%00y' },
  { label: 'a space', raw: 'x%20y' },
  { label: 'non-ASCII', raw: '%C3%A9t%C3%A9' },
  { label: 'broken percent-encoding', raw: '%E0%A4%A' },
];
const BAD_TEXT = ['\u0000', 'Acme\u0007Media', 'Lee\u001b[31m', 'x\u202Ey', 'bad\ud800', 'two\u2028lines', 'del\u007f', 'c1\u0085'];

/** A filter each paginated route has, set otherwise than when its cursor was issued (the block list has none). */
const OTHER_FILTERS: Readonly<Record<string, Record<string, string>>> = {
  'GET /v1/calls': { publisherId: ACME.otherPublisherId },
  'GET /v1/ledger': { publisherId: ACME.otherPublisherId },
  'GET /v1/disputes': { status: 'accepted' },
  'GET /v1/outcomes': { status: 'unmatched' },
};

interface BadCase {
  readonly name: string;
  readonly request: Request;
  /** The parameter or field the 400 must name. */
  readonly field: string;
  readonly perLine?: RouteCase['perLine'];
}

function badCases(): BadCase[] {
  const out: BadCase[] = [];
  for (const [key, c] of Object.entries(cases())) {
    const [method, template] = key.split(' ') as [string, string];
    const base: Request = { method, path: pathOf(template, c.params ?? {}), query: c.query, json: c.json, headers: c.headers };
    // Twilio's routes check in their documented order (405, 415, 413, 404, 403, then the parameters): ingest tests.
    if (template.startsWith('/webhooks/') || template.startsWith('/voice/')) continue;
    for (const name of Object.keys(c.params ?? {})) {
      for (const id of BAD_IDS) {
        out.push({ name: `${key}: ${name} ${id.label}`, request: { ...base, path: pathOf(template, c.params ?? {}, { [name]: id.raw }) }, field: name });
      }
    }
    for (const name of [...(c.instants ?? []), ...(c.periods ?? [])]) {
      for (const value of c.periods?.includes(name) ? BAD_PERIODS : BAD_INSTANTS) {
        out.push({ name: `${key}: ${name}=${value}`, request: { ...base, query: { ...(c.query ?? {}), [name]: value } }, field: name });
      }
    }
    for (const name of c.bodyInstants ?? []) {
      for (const value of BAD_INSTANTS) {
        out.push({ name: `${key}: body ${name}=${value}`, request: { ...base, json: setPath(c.json, name, value) }, field: name, perLine: c.perLine });
      }
    }
    for (const name of c.text ?? []) {
      for (const value of BAD_TEXT) {
        out.push({ name: `${key}: body ${name}=${JSON.stringify(value)}`, request: { ...base, json: setPath(c.json, name, value) }, field: name, perLine: c.perLine });
      }
    }
    if (c.cursor === true) {
      const own = f.cursors[key]!;
      const other = Object.entries(f.cursors).find(([k]) => k !== key)![1];
      const flipped = `${own.slice(0, 10)}${own[10] === 'A' ? 'B' : 'A'}${own.slice(11)}`;
      const crafted = Buffer.from(JSON.stringify({ pk: `ACCT#${ACME.accountId}`, sk: '~~~~' }), 'utf8').toString('base64url');
      const query = (cursor: string, extra: Record<string, string> = {}) => ({ ...(c.query ?? {}), ...extra, cursor });
      const variants: [string, Request][] = [
        ['a crafted key', { ...base, query: query(crafted) }],
        ['one character changed', { ...base, query: query(flipped) }],
        ['truncated', { ...base, query: query(own.slice(0, -4)) }],
        ['issued by another route', { ...base, query: query(other) }],
        ['replayed by another account', { ...base, key: globexAdmin, query: query(own) }],
      ];
      const otherFilters = OTHER_FILTERS[key];
      if (otherFilters !== undefined) variants.push(['issued for other filters', { ...base, query: query(own, otherFilters) }]);
      for (const [label, request] of variants) out.push({ name: `${key}: cursor ${label}`, request, field: 'cursor' });
    }
  }
  return out;
}

/** A stored item as plain JSON with its keys in order: sets as sorted arrays, binary as hex. */
function canonical(value: unknown): unknown {
  if (value instanceof Set) return [...value].map(canonical).sort();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** Every item of every table, once the stack has finished what it was given. */
async function snapshot(): Promise<Record<string, string[]>> {
  await stack.waitForIdle(20_000);
  const out: Record<string, string[]> = {};
  for (const table of [stack.names.mainTable, stack.names.ledgerTable, stack.names.aggregatesTable]) {
    out[table] = (await scan(stack, table)).map((item) => JSON.stringify(canonical(item))).sort();
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ setup

beforeAll(async () => {
  seed = await writeTwoAccountSeed();
  // No scheduled jobs (sealer, quality pass): the before/after scans must see only what the requests did.
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: seed.file, scheduleEveryMs: 0 });
  acmeAdmin = apiKey(stack, ACME.accountId, 'admin');
  globexAdmin = apiKey(stack, GLOBEX.accountId, 'admin');

  const acme = new TwilioSender(stack, ACME.accountId);
  const globex = new TwilioSender(stack, GLOBEX.accountId);
  const endMs = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  for (let i = 0; i < 3; i++) {
    const c = { callSid: newCallSid(), from: newCaller(), to: ACME.number };
    await acme.deliver(acme.terminal(c, 'completed', endMs, 240));
    f.acmeCalls.push(`twilio:${c.callSid}`);
  }
  const g = { callSid: newCallSid(), from: newCaller(), to: GLOBEX.number };
  await globex.deliver(globex.terminal(g, 'completed', endMs, 240));
  f.globexCall = `twilio:${g.callSid}`;
  await stack.waitForIdle(20_000);

  const opened = async (key: string, callId: string): Promise<string> => {
    const res = await send({ method: 'POST', path: `/v1/calls/${encodeURIComponent(callId)}/disputes`, key, json: { reason: 'fraud', note: 'n' } });
    expect(res.status, res.text).toBe(201);
    return res.body.disputeId as string;
  };
  f.acmeDispute = await opened(acmeAdmin, f.acmeCalls[0]!);
  await opened(acmeAdmin, f.acmeCalls[1]!);
  f.globexDispute = await opened(globexAdmin, f.globexCall);
  for (const caller of ['+15125550142', '+15125550143']) {
    const res = await send({ method: 'PUT', path: `/v1/blocked-callers/${encodeURIComponent(caller)}`, json: { reason: 'fraud' } });
    expect(res.status, res.text).toBe(201);
  }
  const outcomes = await send({
    method: 'POST',
    path: '/v1/outcomes',
    json: { outcomes: f.acmeCalls.slice(0, 2).map((callId, i) => ({ externalId: `crm-${i + 1}`, callId, occurredAt: at(-HOUR), status: 'booked', revenueCents: 100 })) },
  });
  expect(outcomes.status, outcomes.text).toBe(200);

  // A real cursor of each paginated route (page size 1), and proof that it opens the next page.
  const firstPages: Record<string, Record<string, string>> = {
    'GET /v1/calls': { campaignId: ACME.campaignId },
    'GET /v1/ledger': { campaignId: ACME.campaignId },
    'GET /v1/disputes': { status: 'open' },
    'GET /v1/blocked-callers': {},
    'GET /v1/outcomes': { status: 'matched' },
  };
  for (const [key, query] of Object.entries(firstPages)) {
    const path = key.split(' ')[1]!;
    const first = await send({ method: 'GET', path, query: { ...query, limit: '1' } });
    expect(first.status, first.text).toBe(200);
    expect(typeof first.body.cursor, `${key} has a second page`).toBe('string');
    f.cursors[key] = first.body.cursor;
    const second = await send({ method: 'GET', path, query: { ...query, limit: '1', cursor: first.body.cursor } });
    expect(second.status, second.text).toBe(200);
  }
});

afterAll(async () => {
  await stack?.stop();
  await seed?.cleanup();
});

// ------------------------------------------------------------------------------------------------ tests

describe('bad input on every route: a precise 400, no write', () => {
  it('the table covers every route of ROUTES', () => {
    expect(Object.keys(cases()).sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('answers 400 problem+json naming the input, for every bad input of every route, and writes nothing', async () => {
    const all = badCases();
    expect(all.length).toBeGreaterThan(300);
    const before = await snapshot();
    const failures: string[] = [];
    for (const c of all) {
      const res = await send(c.request);
      const problem = c.perLine !== undefined && res.status === 200 ? c.perLine(res.body) : res.body;
      const ok =
        (c.perLine !== undefined && res.status === 200 ? true : res.status === 400 && res.contentType === 'application/problem+json') &&
        problem?.status === 400 &&
        (problem.errors ?? []).some((e: { field: string }) => e.field === c.field);
      if (!ok) failures.push(`${c.name} → ${res.status} ${res.text.slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('the edges of the instant range are accepted', async () => {
    for (const [path, query] of [
      ['/v1/calls', { from: '0000-01-01T00:00:00Z', to: '9999-12-31T23:59:59.999Z' }],
      ['/v1/ledger', { from: '0000-01-01T00:00:00+00:00', to: '9999-12-31T23:59:59-00:00' }],
      ['/v1/reports/sources', { campaignId: ACME.campaignId, to: '0000-01-05T00:00:00Z' }],
      ['/v1/reports/threshold', { campaignId: ACME.campaignId, from: '9999-12-01T00:00:00Z', to: '9999-12-31T23:59:59.999Z' }],
      ['/v1/qa/sample', { campaignId: ACME.campaignId, to: '0000-01-02T00:00:00Z' }],
      ['/v1/statements', { period: '0001-01' }],
      ['/v1/statements', { period: '9999-11' }],
    ] as const) {
      const res = await send({ method: 'GET', path, query });
      expect(res.status, `${path} ${JSON.stringify(query)}: ${res.text.slice(0, 300)}`).toBe(200);
    }
    const statement = await send({ method: 'GET', path: '/v1/statements', query: { period: '0001-01' } });
    // America/Chicago: the month starts at local midnight, in year 1 (not 1901).
    expect(statement.body.startAt).toMatch(/^0001-01-01T0\d:\d{2}:\d{2}\.000Z$/);
  });
});

describe('another account: answered as if it did not exist', () => {
  /** The problem with its `instance` left out: that alone may differ. */
  const sameBody = (a: Answer, b: Answer) => {
    const { instance: _a, ...left } = a.body;
    const { instance: _b, ...right } = b.body;
    expect(left).toEqual(right);
  };

  it("another account's call, on every route that names a call, is byte-identical to an unknown call but for instance", async () => {
    const unknown = `twilio:${newCallSid()}`;
    const requests: ((callId: string) => Request)[] = [
      (id) => ({ method: 'GET', path: `/v1/calls/${encodeURIComponent(id)}` }),
      (id) => ({ method: 'GET', path: `/v1/calls/${encodeURIComponent(id)}/rating` }),
      (id) => ({ method: 'GET', path: `/v1/calls/${encodeURIComponent(id)}/consent` }),
      (id) => ({ method: 'POST', path: `/v1/calls/${encodeURIComponent(id)}/disputes`, json: { reason: 'fraud', note: '' } }),
      (id) => ({ method: 'POST', path: `/v1/calls/${encodeURIComponent(id)}/qa`, json: { verdict: 'junk' } }),
    ];
    const before = await snapshot();
    for (const request of requests) {
      const foreign = await send(request(f.globexCall));
      const missing = await send(request(unknown));
      expect(foreign.status, `${request(f.globexCall).path}: ${foreign.text}`).toBe(404);
      expect(foreign.contentType).toBe('application/problem+json');
      sameBody(foreign, missing);
      expect(foreign.text).not.toContain(GLOBEX.accountId);
      expect(foreign.text).not.toMatch(/another account/i);
    }
    // Per-line answers (consent evidence, CRM outcomes) name the foreign call as they name a missing one.
    const consent = async (callId: string) =>
      (await send({ method: 'POST', path: '/v1/consent', json: { callId, capturedAt: at(-HOUR), certificateId: 'c' } })).body.results[0];
    expect(await consent(f.globexCall)).toEqual(await consent(unknown));
    const outcome = async (callId: string) =>
      (await send({ method: 'POST', path: '/v1/outcomes', json: { externalId: `crm-${callId.slice(-8)}`, callId, occurredAt: at(-HOUR), status: 'lost' } })).body.results[0];
    const [foreignOutcome, missingOutcome] = [await outcome(f.globexCall), await outcome(unknown)];
    expect({ ...foreignOutcome, externalId: null }).toEqual({ ...missingOutcome, externalId: null });
    expect(await snapshot()).toEqual(before);
  });

  it("another account's dispute resolves as an unknown dispute does", async () => {
    const resolve = (id: string) => send({ method: 'POST', path: `/v1/disputes/${encodeURIComponent(id)}/resolve`, json: { outcome: 'accepted' } });
    const foreign = await resolve(f.globexDispute);
    const missing = await resolve(`dispute:twilio:${newCallSid()}`);
    expect(foreign.status).toBe(404);
    sameBody(foreign, missing);
    // The other account's dispute is untouched.
    const theirs = await send({ method: 'GET', path: '/v1/disputes', key: globexAdmin, query: { status: 'open' } });
    expect(theirs.body.disputes.map((d: { disputeId: string }) => d.disputeId)).toContain(f.globexDispute);
  });

  it('a tracking number held by another account: a fixed 409 that names no account, and the number is unchanged', async () => {
    const numberItem = async () => (await scan(stack, stack.names.mainTable)).find((i) => i.pk === `NUM#${GLOBEX.number}`);
    const before = await numberItem();
    const res = await send({
      method: 'PUT',
      path: `/v1/tracking-numbers/${encodeURIComponent(GLOBEX.number)}`,
      json: { campaignId: ACME.campaignId, publisherId: ACME.publisherId, subSource: null },
    });
    expect(res.status, res.text).toBe(409);
    expect(res.body).toMatchObject({ type: 'https://callledger.dev/problems/tracking-number-unavailable', status: 409 });
    expect(res.text).not.toContain(GLOBEX.accountId);
    expect(res.text).not.toContain(GLOBEX.campaignId);
    expect(res.text).not.toMatch(/another account/i);
    expect(await numberItem()).toEqual(before);
    // GET answers it as a number that does not exist.
    const get = await send({ method: 'GET', path: `/v1/tracking-numbers/${encodeURIComponent(GLOBEX.number)}` });
    const missing = await send({ method: 'GET', path: `/v1/tracking-numbers/${encodeURIComponent('+15125550977')}` });
    expect(get.status).toBe(404);
    sameBody(get, missing);
  });
});

describe('problems never repeat a phone number from the request', () => {
  it('not in detail, instance or field names, whatever route or form', async () => {
    // 512-555-0177 is no number of the seed: every one of these is refused.
    for (const request of [
      { method: 'GET', path: '/v1/blocked-callers/%2B15125550177/history' },
      { method: 'GET', path: '/v1/tracking-numbers/%2B15125550177' },
      { method: 'PUT', path: '/v1/tracking-numbers/%2B15125550177', json: { campaignId: 'nope', publisherId: 'nope' } },
      { method: 'GET', path: '/v1/tracking-numbers/+15125550177/x' },
      { method: 'GET', path: '/v1/calls/%2B15125550177' },
      { method: 'GET', path: '/v1/publishers/5125550177' },
      { method: 'GET', path: '/v1/dnc-lists/512-555-0177' },
      { method: 'GET', path: '/v1/calls', query: { '+15125550177': 'x' } },
      { method: 'GET', path: '/v1/outcomes/%28512%29%20555-0177' },
    ] satisfies Request[]) {
      const res = await send(request);
      expect(res.status, `${request.path}: ${res.text}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.contentType).toBe('application/problem+json');
      expect(res.text.replace(/\D/g, ' '), `${request.path}: ${res.text}`).not.toMatch(/512\s*555\s*0177/);
    }
  });
});

describe('random strings as path ids and query values', () => {
  it('never answer 5xx, and every 4xx is problem+json (property)', async () => {
    const table = Object.entries(cases());
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: table.length - 1 }),
        fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('', '..', '%', '+', '~~~~', 'a'.repeat(3000))),
        fc.boolean(),
        async (index, value, inPath) => {
          const [key, c] = table[index]!;
          const [method, template] = key.split(' ') as [string, string];
          const names = Object.keys(c.params ?? {});
          let encoded: string;
          try {
            encoded = encodeURIComponent(value);
          } catch {
            return; // a lone surrogate cannot be sent in a URL
          }
          const path = inPath && names.length > 0 ? pathOf(template, c.params ?? {}, { [names[0]!]: encoded || 'x' }) : pathOf(template, c.params ?? {});
          const queryNames = [...(c.instants ?? []), ...(c.periods ?? []), ...(c.cursor ? ['cursor', 'limit'] : []), 'unknown'];
          const query = inPath ? c.query : { ...(c.query ?? {}), [queryNames[value.length % queryNames.length]!]: value };
          const res = await send({ method, path, query, json: c.json, headers: c.headers });
          expect(res.status, `${method} ${path} ${JSON.stringify(query)}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
          if (res.status >= 400 && res.status !== 405) expect(res.contentType).toBe('application/problem+json');
        },
      ),
      { numRuns: 250 },
    );
  });
});
