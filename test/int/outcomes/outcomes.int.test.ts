/**
 * CRM outcomes against DynamoDB Local (writer fixtures): calls played through processIngestBatch, outcomes
 * posted through OUTCOME_ROUTES (JSON and CSV) and matched by call id or by caller + time through the caller index
 * (gsi2), superseded with history, re-pointed, listed when unmatched and matched on a later POST once a call exists;
 * the call detail shows the outcome; analyst keys cannot post; no caller number in any response or stored outcome.
 *
 * Time: calls start at instants relative to the real now (days and hours before it), outcomes occur relative to
 * the same instant, so nothing depends on today's date.
 */
import { rejection, PROBLEM } from '../../support/problems';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeKeys } from '../../../shared/adapters/outcomes/outcome-repo';
import type { RouteResponse } from '../../../shared/app/ledger/ledger-routes';
import { OUTCOME_ROUTES, type OutcomeDeps, type PostOutcomesResponse } from '../../../shared/app/outcomes/outcomes';
import { outcomeDeps } from '../../../shared/adapters/outcomes/deps';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { getCallDetail } from '../../../shared/app/calls/read-api';
import type { OutcomeView } from '../../../shared/domain/outcomes/outcomes';
import { Forbidden } from '../../../shared/domain/kernel/problems';
import type { CallStatus } from '../../../shared/domain/calls/events';
import { createTenant, freshNumber, lifecycle, records, scanTable, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';
import { checkedRoute } from '../../contract/hooks';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
let env: CoreEnv;
let deps: OutcomeDeps;

beforeAll(async () => {
  env = await startCoreEnv();
  deps = outcomeDeps(
    { mainTable: env.names.mainTable, callerHashKeyRef: 'env:UNUSED_IN_TESTS' },
    { client: env.clients.dynamodb, secrets: { resolve: async () => env.callerHashKey } },
  );
});
afterAll(async () => {
  await env?.stop();
});

/** Every response body of this file, to check that none carries a caller number. */
const bodies: unknown[] = [];
/** Every caller number used in this file, E.164. */
const callers: string[] = [];

function caller(): string {
  const n = freshNumber();
  callers.push(n);
  return n;
}

async function setUp() {
  const tenant = await createTenant(env.config, { priceCents: 4500, bufferSec: 60, duplicateWindowHours: 0 });
  const accountId = tenant.account.accountId;
  const admin: ApiKeyRecord = { accountId, role: 'admin', label: 'crm-sync' };
  const analyst: ApiKeyRecord = { accountId, role: 'analyst', label: 'viewer' };
  return { tenant, accountId, admin, analyst };
}

/** Rates one call of `t` from `from` that started at `startMs` (completed for 120 s unless `final` says otherwise). */
async function playCall(t: Tenant, from: string, startMs: number, final: CallStatus = 'completed'): Promise<string> {
  const call = lifecycle({ accountId: t.account.accountId, from, to: t.numbers.billable.number, startMs, durationSec: 120, final });
  expect((await processIngestBatch(records(call.events), env.writerDeps)).failedMessageIds).toEqual([]);
  return call.callId;
}

async function send(principal: ApiKeyRecord, method: 'GET' | 'POST', path: string, opts: { body?: string; contentType?: string; query?: Record<string, string>; params?: Record<string, string> } = {}): Promise<RouteResponse> {
  const found = OUTCOME_ROUTES.find((r) => r.method === method && r.path === path);
  if (found === undefined) throw new Error(`no route ${method} ${path}`);
  const res = await checkedRoute(found).handle(principal, { pathParameters: opts.params ?? {}, query: opts.query ?? {}, body: opts.body ?? '', contentType: opts.contentType }, deps);
  bodies.push(res.body);
  return res;
}

async function post(principal: ApiKeyRecord, outcomes: object | object[], query: Record<string, string> = {}): Promise<PostOutcomesResponse> {
  const body = Array.isArray(outcomes) ? { outcomes } : outcomes;
  const res = await send(principal, 'POST', '/v1/outcomes', { body: JSON.stringify(body), contentType: 'application/json', query });
  expect(res.status).toBe(200);
  return res.body as PostOutcomesResponse;
}

async function getOutcome(principal: ApiKeyRecord, externalId: string): Promise<OutcomeView> {
  return (await send(principal, 'GET', '/v1/outcomes/{externalId}', { params: { externalId } })).body as OutcomeView;
}

async function callOutcome(principal: ApiKeyRecord, callId: string) {
  const detail = await getCallDetail(principal, callId, { calls: env.calls, media: { presignGet: async () => 'https://example.invalid/x' } });
  bodies.push(detail);
  return detail.outcome;
}

describe('POST /v1/outcomes', () => {
  it('matches by call id; the call detail shows the outcome and how it matched', async () => {
    const s = await setUp();
    const now = Date.now();
    const callId = await playCall(s.tenant, caller(), now - 2 * HOUR);
    const occurredAt = new Date(now - HOUR).toISOString();
    const out = await post(s.admin, { externalId: 'deal-100', callId, occurredAt, status: 'booked', revenueCents: 45000, marginCents: 12000 });
    expect(out.results).toEqual([{ line: 1, externalId: 'deal-100', result: 'created', matchedCallId: callId, match: 'call_id' }]);
    expect(out.summary).toEqual({ created: 1, updated: 0, unchanged: 0, refused: 0, matched: 1, unmatched: 0 });
    expect(out.lookBackDays).toBe(30);
    expect(await callOutcome(s.analyst, callId)).toEqual({ externalId: 'deal-100', status: 'booked', revenueCents: 45000, marginCents: 12000, occurredAt, match: 'call_id' });

    // The same line again: nothing changes.
    const again = await post(s.admin, { externalId: 'deal-100', callId, occurredAt, status: 'booked', revenueCents: 45000, marginCents: 12000 });
    expect(again.results[0]).toMatchObject({ result: 'unchanged', matchedCallId: callId });
    expect((await getOutcome(s.analyst, 'deal-100')).history).toHaveLength(1);
  });

  it("matches by caller + time to the caller's most recent connected call at or before occurredAt", async () => {
    const s = await setUp();
    const now = Date.now();
    const who = caller();
    const older = await playCall(s.tenant, who, now - 5 * HOUR);
    const latest = await playCall(s.tenant, who, now - 3 * HOUR);
    await playCall(s.tenant, who, now - 2 * HOUR, 'busy'); // not connected: not a candidate
    await playCall(s.tenant, who, now - 30 * MIN); // after occurredAt
    await playCall(s.tenant, caller(), now - 2 * HOUR); // another caller
    const national = who.slice(2); // the CRM's own format: normalised to E.164 before hashing
    const out = await post(s.admin, { externalId: 'lead-7', callerNumber: national, occurredAt: new Date(now - HOUR).toISOString(), status: 'booked', revenueCents: 30000 });
    expect(out.results[0]).toMatchObject({ result: 'created', matchedCallId: latest, match: 'caller_time' });
    expect(await callOutcome(s.admin, latest)).toMatchObject({ externalId: 'lead-7', match: 'caller_time' });
    expect(await callOutcome(s.admin, older)).toBeNull();
  });

  it('a later status supersedes with history and moves with a re-point; the previous call is cleared', async () => {
    const s = await setUp();
    const now = Date.now();
    const who = caller();
    const first = await playCall(s.tenant, who, now - 4 * DAY);
    const second = await playCall(s.tenant, caller(), now - 3 * DAY);
    const bookedAt = new Date(now - 4 * DAY + HOUR).toISOString();
    const closedAt = new Date(now - DAY).toISOString();
    await post(s.admin, { externalId: 'opp-1', callerNumber: who, occurredAt: bookedAt, status: 'booked', revenueCents: 40000, marginCents: 8000 });

    // Closed days later: still the first call (matching is anchored at the first report's time), although the
    // customer called again in between.
    await playCall(s.tenant, who, now - 2 * DAY);
    const closed = await post(s.admin, { externalId: 'opp-1', callerNumber: who, occurredAt: closedAt, status: 'closed', revenueCents: 52000, marginCents: 11000 });
    expect(closed.results[0]).toMatchObject({ result: 'updated', matchedCallId: first, match: 'caller_time' });
    const view = await getOutcome(s.analyst, 'opp-1');
    expect(view).toMatchObject({ status: 'closed', revenueCents: 52000, marginCents: 11000, occurredAt: closedAt, matchedCallId: first });
    expect(view.history.map((h) => [h.status, h.occurredAt, h.by])).toEqual([
      ['booked', bookedAt, 'crm-sync (admin)'],
      ['closed', closedAt, 'crm-sync (admin)'],
    ]);
    expect(await callOutcome(s.admin, first)).toMatchObject({ status: 'closed', revenueCents: 52000 });

    // Re-sending the older booked report changes nothing; naming another call re-points and clears the first.
    const old = await post(s.admin, { externalId: 'opp-1', callerNumber: who, occurredAt: bookedAt, status: 'booked', revenueCents: 40000, marginCents: 8000 });
    expect(old.results[0]?.result).toBe('unchanged');
    const moved = await post(s.admin, { externalId: 'opp-1', callId: second, occurredAt: closedAt, status: 'closed', revenueCents: 52000, marginCents: 11000 });
    expect(moved.results[0]).toMatchObject({ result: 'updated', matchedCallId: second, match: 'call_id' });
    expect(await callOutcome(s.admin, second)).toMatchObject({ externalId: 'opp-1', status: 'closed', match: 'call_id' });
    expect(await callOutcome(s.admin, first)).toBeNull();
    expect((await getOutcome(s.admin, 'opp-1')).history).toHaveLength(2);
  });

  it('outside the look-back it is kept unmatched and listed; a later POST matches once a call exists', async () => {
    const s = await setUp();
    const now = Date.now();
    const who = caller();
    const tooOld = await playCall(s.tenant, who, now - 40 * DAY);
    const line = { externalId: 'lead-late', callerNumber: who, occurredAt: new Date(now - HOUR).toISOString(), status: 'booked' };
    const first = await post(s.admin, line);
    expect(first.results[0]).toMatchObject({ result: 'created', matchedCallId: null, match: null });
    expect(first.summary).toMatchObject({ matched: 0, unmatched: 1 });

    const unmatched = (await send(s.analyst, 'GET', '/v1/outcomes', { query: { status: 'unmatched' } })).body as { outcomes: OutcomeView[]; cursor: string | null };
    expect(unmatched.outcomes.map((o) => o.externalId)).toEqual(['lead-late']);
    expect((await send(s.analyst, 'GET', '/v1/outcomes', { query: { status: 'matched' } })).body).toEqual({ outcomes: [], cursor: null });

    // The same line, unchanged, retries matching; still nothing in 30 days.
    expect((await post(s.admin, line)).results[0]).toMatchObject({ result: 'unchanged', matchedCallId: null });
    // A request's own look-back reaches the old call.
    const wide = await post(s.admin, line, { lookBackDays: '45' });
    expect(wide).toMatchObject({ lookBackDays: 45, results: [{ result: 'updated', matchedCallId: tooOld, match: 'caller_time' }] });
  });

  it('an unmatched outcome matches on a later POST once the call has been processed', async () => {
    const s = await setUp();
    const now = Date.now();
    const who = caller();
    const line = { externalId: 'lead-early', callerNumber: who, occurredAt: new Date(now - HOUR).toISOString(), status: 'booked', revenueCents: 9900 };
    expect((await post(s.admin, line)).results[0]).toMatchObject({ result: 'created', matchedCallId: null });
    const callId = await playCall(s.tenant, who, now - 2 * HOUR); // the call's events arrive late
    expect((await post(s.admin, line)).results[0]).toMatchObject({ result: 'updated', matchedCallId: callId, match: 'caller_time' });
    expect(await callOutcome(s.admin, callId)).toMatchObject({ externalId: 'lead-early', revenueCents: 9900 });
    const listed = (await send(s.admin, 'GET', '/v1/outcomes', { query: { status: 'unmatched' } })).body as { outcomes: OutcomeView[] };
    expect(listed.outcomes).toEqual([]);
  });

  it('refuses a callId of another account (422) and an invalid caller number per line, applying the rest', async () => {
    const s = await setUp();
    const other = await setUp();
    const now = Date.now();
    const foreign = await playCall(other.tenant, caller(), now - HOUR);
    const mine = await playCall(s.tenant, caller(), now - HOUR);
    const at = new Date(now).toISOString();
    const out = await post(s.admin, [
      { externalId: 'a-1', callId: foreign, occurredAt: at, status: 'booked' },
      { externalId: 'a-2', callerNumber: '12', occurredAt: at, status: 'booked' },
      { externalId: 'a-3', callId: mine, occurredAt: at, status: 'lost' },
      { externalId: 'a-4', callId: 'twilio:CAnotacall', occurredAt: at, status: 'lost' },
    ]);
    expect(out.results.map((r) => [r.line, r.result, r.error?.status ?? null])).toEqual([
      [1, 'refused', 422],
      [2, 'refused', 422],
      [3, 'created', null],
      [4, 'refused', 422],
    ]);
    expect(out.results[0]?.error?.errors).toEqual([{ field: 'callId', message: 'must be a call of this account' }]);
    expect(out.results[1]?.error?.errors).toEqual([{ field: 'callerNumber', message: 'must be a valid phone number, e.g. +15125550101' }]);
    expect(await callOutcome(other.admin, foreign)).toBeNull();
  });

  it('a CSV upload: the bad line is refused with its line number, the others are applied', async () => {
    const s = await setUp();
    const now = Date.now();
    const who = caller();
    const callId = await playCall(s.tenant, who, now - 2 * HOUR);
    const at = new Date(now - HOUR).toISOString();
    const csv = [
      'externalId,callId,callerNumber,occurredAt,status,revenueCents,marginCents',
      `csv-1,${callId},,${at},booked,10000,2500`,
      `csv-2,,${who},${at},won,10000,`,
      `csv-3,,${who},${at},lost,,`,
      '',
    ].join('\n');
    const res = await send(s.admin, 'POST', '/v1/outcomes', { body: csv, contentType: 'text/csv; charset=utf-8' });
    expect(res.status).toBe(200);
    const out = res.body as PostOutcomesResponse;
    expect(out.results).toEqual([
      { line: 2, externalId: 'csv-1', result: 'created', matchedCallId: callId, match: 'call_id' },
      {
        line: 3,
        externalId: 'csv-2',
        result: 'refused',
        matchedCallId: null,
        match: null,
        error: { status: 400, detail: 'The outcome is not valid.', errors: [{ field: 'status', message: expect.any(String) }] },
      },
      { line: 4, externalId: 'csv-3', result: 'created', matchedCallId: callId, match: 'caller_time' },
    ]);
    // Two outcomes on one call: the call carries the one written last (different externalIds are applied
    // concurrently, so either); both outcome items name the call.
    const onCall = await callOutcome(s.admin, callId);
    expect(onCall).toEqual(
      onCall?.externalId === 'csv-1'
        ? { externalId: 'csv-1', status: 'booked', revenueCents: 10000, marginCents: 2500, occurredAt: at, match: 'call_id' }
        : { externalId: 'csv-3', status: 'lost', revenueCents: 0, marginCents: 0, occurredAt: at, match: 'caller_time' },
    );
    expect((await getOutcome(s.admin, 'csv-1')).matchedCallId).toBe(callId);
    expect((await getOutcome(s.admin, 'csv-3')).matchedCallId).toBe(callId);
  });

  it('an analyst key cannot post (403), before the body is even read; it can read', async () => {
    const s = await setUp();
    expect(await rejection(send(s.analyst, 'POST', '/v1/outcomes', { body: 'not json', contentType: 'application/json' }))).toMatchObject(PROBLEM.Forbidden);
    expect(await rejection(send(s.analyst, 'POST', '/v1/outcomes', { body: 'not json', contentType: 'application/json' }))).toMatchObject({ status: 403 });
    expect((await send(s.analyst, 'GET', '/v1/outcomes')).body).toEqual({ outcomes: [], cursor: null });
    expect(await rejection(send(s.analyst, 'GET', '/v1/outcomes/{externalId}', { params: { externalId: 'nope' } }))).toMatchObject({ status: 404 });
  });

  it('refuses bodies it cannot read as a whole: 415, 400, 422', async () => {
    const s = await setUp();
    expect(await rejection(send(s.admin, 'POST', '/v1/outcomes', { body: '<x/>', contentType: 'application/xml' }))).toMatchObject({ status: 415 });
    expect(await rejection(send(s.admin, 'POST', '/v1/outcomes', { body: '{', contentType: 'application/json' }))).toMatchObject({ status: 400 });
    expect(await rejection(send(s.admin, 'POST', '/v1/outcomes', { body: 'id,amount\n1,2', contentType: 'text/csv' }))).toMatchObject({ status: 422 });
    expect(await rejection(send(s.admin, 'POST', '/v1/outcomes', { body: '{}', contentType: 'application/json', query: { lookBackDays: '0' } }))).toMatchObject({ status: 400 });
  });

  it('paginates the list with the cursor', async () => {
    const s = await setUp();
    const at = new Date(Date.now() - HOUR).toISOString();
    await post(s.admin, ['p-1', 'p-2', 'p-3'].map((externalId) => ({ externalId, callerNumber: caller(), occurredAt: at, status: 'booked' })));
    const page1 = (await send(s.admin, 'GET', '/v1/outcomes', { query: { status: 'unmatched', limit: '2' } })).body as { outcomes: OutcomeView[]; cursor: string | null };
    expect(page1.outcomes.map((o) => o.externalId)).toEqual(['p-1', 'p-2']);
    expect(page1.cursor).not.toBeNull();
    const page2 = (await send(s.admin, 'GET', '/v1/outcomes', { query: { status: 'unmatched', limit: '2', cursor: page1.cursor! } })).body as { outcomes: OutcomeView[]; cursor: string | null };
    expect(page2).toMatchObject({ outcomes: [{ externalId: 'p-3' }], cursor: null });
    expect(await rejection(send(s.admin, 'GET', '/v1/outcomes', { query: { status: 'booked' } }))).toMatchObject({ status: 400 });
  });
});

describe('privacy', () => {
  it('no caller number in any response of this file, nor in any stored outcome item', async () => {
    expect(callers.length).toBeGreaterThan(5);
    const outcomeItems = (await scanTable(env, env.names.mainTable)).filter((i) => String(i.sk).startsWith(outcomeKeys.prefix));
    expect(outcomeItems.length).toBeGreaterThan(5);
    const text = JSON.stringify([bodies, outcomeItems]);
    for (const n of callers) {
      expect(text).not.toContain(n);
      expect(text).not.toContain(n.slice(2)); // national digits
    }
    // Stored outcomes carry the keyed hash instead (for matching), which responses never show. Stored as `ch`: `callerHash` keys the calls-by-caller index.
    expect(outcomeItems.some((i) => typeof i.ch === 'string' && /^[0-9a-f]{64}$/.test(i.ch))).toBe(true);
    expect(JSON.stringify(bodies)).not.toContain('callerHash');
  });
});
