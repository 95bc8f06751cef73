/**
 * The management API on the whole local stack (over HTTP): set up a publisher, a campaign with terms v1 and a
 * tracking number; play signed Twilio calls; change the terms to v2 and re-assign the number in the middle of
 * the traffic (after the writer has cached the old configuration); every ledger entry names the terms version
 * and price, and the publisher, in force when its call STARTED. Then the rating explanation and OpenAPI.
 *
 * Real time: changes take effect CONFIG_LEAD_MS (60 s) after they are written and calls start no later than
 * they are processed (a long call's end may lie ahead), so this file waits about 65 s. The mid-traffic change is
 * made to the demo seed's campaign, whose v1 is in force from the start (this file's stack is its own).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { CONFIG_LEAD_MS } from '../../shared/domain/config';
import { ROUTES } from '../../infra/resources';
import { TwilioSender, allLedgerEntries, apiGet, apiKey, callPath, expectProblem, newCallSid, newCaller, type ApiResult, type CallSpec } from '../e2e/harness';

const ACCOUNT = 'acme-roofing';
const suffix = randomBytes(3).toString('hex');
const CAMPAIGN = `terms-${suffix}`;
const PUB_A = `pub-a-${suffix}`;
const PUB_B = `pub-b-${suffix}`;
/** 512-555-07xx/08xx: valid NANP numbers the demo seed does not use. */
const NUMBER = `+1512555${String(700 + Math.floor(Math.random() * 200)).padStart(4, '0')}`;
const MIN = 60_000;
/** The demo seed's campaign (v1: 4500 ¢, buffer 90 s, in force since the epoch) and a number of it. */
const SEED_CAMPAIGN = 'roofing-tx';
const SEED_CAMPAIGN_BODY = { name: 'Roof repair, Texas', vertical: 'home_services' };
const SEED_NUMBER = '+15125550302';
const SEED_PUBLISHER = 'pub-midway';

let stack: LocalStack;
let twilio: TwilioSender;
let admin: string;
let analyst: string;

async function put(path: string, key: string, body: unknown): Promise<ApiResult<any>> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), body: text === '' ? null : JSON.parse(text) };
}

/** A completed call to `to` of `durationSec` that STARTED at `startMs` (whole seconds), from a fresh caller. */
async function playCall(to: string, startMs: number, durationSec = 120): Promise<CallSpec> {
  const call: CallSpec = { callSid: newCallSid(), from: newCaller(), to };
  await twilio.deliver(twilio.ringing(call));
  await twilio.deliver(twilio.terminal(call, 'completed', startMs + durationSec * 1000, durationSec));
  return call;
}

const callId = (c: CallSpec) => `twilio:${c.callSid}`;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true });
  twilio = new TwilioSender(stack, ACCOUNT);
  admin = apiKey(stack, ACCOUNT, 'admin');
  analyst = apiKey(stack, ACCOUNT, 'analyst');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

/** Resolves at `atMs` (wall clock). */
const until = (atMs: number) => new Promise((r) => setTimeout(r, Math.max(0, atMs - Date.now())));
/** The next whole second after `ms` (Twilio's Timestamp has whole seconds). */
const wholeSecondAfter = (ms: number) => Math.ceil(ms / 1000) * 1000 + 1000;

describe('management API on the local stack', () => {
  const calls: Record<string, CallSpec> = {};
  let v2From = 0;
  let reassignAt = 0;

  it('sets up publishers, a campaign with terms v1 and a tracking number (admin only); nothing is in force before its time', async () => {
    const t0 = Date.now();
    expectProblem(await put(`/v1/publishers/${PUB_A}`, analyst, { name: 'A' }), 403, 'forbidden');
    const a = await put(`/v1/publishers/${PUB_A}`, admin, { name: 'Alpha Search', trafficMethods: ['paid_search'], subSources: ['google'] });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect((await put(`/v1/publishers/${PUB_B}`, admin, { name: 'Beta Social', trafficMethods: ['social'] })).status).toBe(201);
    expect((await apiGet(stack, `/v1/publishers/${PUB_A}`, analyst)).body).toMatchObject({ name: 'Alpha Search', subSources: ['google'] });

    const bad = await put(`/v1/campaigns/${CAMPAIGN}`, admin, { name: 'x', vertical: 'home', terms: { priceCents: -1, bufferSec: 30, duplicateWindowHours: 24 } });
    expectProblem(bad, 400, 'malformed-request');
    expect(bad.body.errors).toEqual([{ field: 'terms.priceCents', message: expect.any(String) }]);

    const camp = await put(`/v1/campaigns/${CAMPAIGN}`, admin, {
      name: 'Terms test',
      vertical: 'home_services',
      terms: { priceCents: 3000, bufferSec: 30, duplicateWindowHours: 24 },
    });
    expect(camp.status, JSON.stringify(camp.body)).toBe(201);
    expect(camp.body.termsVersions).toHaveLength(1);
    expect(Date.parse(camp.body.termsVersions[0].effectiveFrom)).toBeGreaterThanOrEqual(t0 + CONFIG_LEAD_MS);
    expect(camp.body.termsInForce).toBeNull();

    const num = await put(`/v1/tracking-numbers/${encodeURIComponent(NUMBER)}`, admin, { campaignId: CAMPAIGN, publisherId: PUB_A, subSource: 'google' });
    expect(num.status, JSON.stringify(num.body)).toBe(201);

    calls.before = await playCall(NUMBER, wholeSecondAfter(Date.now() - 5 * MIN));
    await stack.waitForIdle();
    expect((await apiGet(stack, callPath(callId(calls.before)), admin)).body).toMatchObject({ billable: false, reasons: ['unknown_number'] });
  });

  it('changes the terms to v2 and re-assigns a number mid-traffic; each call is rated by what was in force at its start', async () => {
    // Traffic under the seed's v1 (in force since the epoch) warms the writer's configuration cache.
    calls.v1 = await playCall(SEED_NUMBER, wholeSecondAfter(Date.now() - 3 * MIN));
    await stack.waitForIdle();

    const tooSoon = await put(`/v1/campaigns/${SEED_CAMPAIGN}`, admin, {
      ...SEED_CAMPAIGN_BODY,
      terms: { priceCents: 5000, bufferSec: 90, duplicateWindowHours: 72 },
      effectiveFrom: new Date(Date.now()).toISOString(),
    });
    expectProblem(tooSoon, 422, 'unprocessable');
    expect(tooSoon.body.errors[0].field).toBe('effectiveFrom');

    // v2 takes effect as soon as allowed (the default); the re-assignment 5 s later.
    const v2 = await put(`/v1/campaigns/${SEED_CAMPAIGN}`, admin, {
      ...SEED_CAMPAIGN_BODY,
      terms: { priceCents: 5000, bufferSec: 90, duplicateWindowHours: 72, priceBands: [{ fromSec: 300, priceCents: 7000 }] },
    });
    expect(v2.status, JSON.stringify(v2.body)).toBe(200);
    expect(v2.body.termsVersions.map((v: any) => [v.version, v.priceCents])).toEqual([
      [1, 4500],
      [2, 5000],
    ]);
    v2From = Date.parse(v2.body.termsVersions[1].effectiveFrom);
    reassignAt = wholeSecondAfter(v2From + 4_000);
    const moved = await put(`/v1/tracking-numbers/${encodeURIComponent(SEED_NUMBER)}`, admin, {
      campaignId: SEED_CAMPAIGN,
      publisherId: PUB_B,
      effectiveFrom: new Date(reassignAt).toISOString(),
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.assignments.map((a: any) => a.publisherId)).toEqual([SEED_PUBLISHER, PUB_B]);

    // Every call below starts before it is processed; the writer's cache still holds v1 and the old assignment.
    await until(reassignAt + 2_000);
    calls.v1Late = await playCall(SEED_NUMBER, wholeSecondAfter(v2From - 3_000)); // started under v1, ended under v2
    calls.v2 = await playCall(SEED_NUMBER, wholeSecondAfter(v2From));
    calls.v2Band = await playCall(SEED_NUMBER, wholeSecondAfter(v2From), 400);
    calls.reassigned = await playCall(SEED_NUMBER, reassignAt + 1_000);
    await stack.waitForIdle();

    const entries = await allLedgerEntries(stack, admin, { campaignId: SEED_CAMPAIGN });
    const byCall = new Map(entries.map((e) => [e.callId, [e.termsVersion, e.amountCents, e.publisherId]]));
    const { before: _before, ...played } = calls;
    expect(Object.fromEntries(Object.entries(played).map(([k, c]) => [k, byCall.get(callId(c)) ?? null]))).toEqual({
      v1: [1, 4500, SEED_PUBLISHER],
      v1Late: [1, 4500, SEED_PUBLISHER],
      v2: [2, 5000, SEED_PUBLISHER],
      v2Band: [2, 7000, SEED_PUBLISHER],
      reassigned: [2, 5000, PUB_B],
    });
  }, 120_000);

  it('explains a rating: the terms version, every rule with its inputs, never the caller number', async () => {
    const res = await apiGet<any>(stack, `${callPath(callId(calls.v2Band!))}/rating`, analyst);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ termsVersion: 2, billable: true, amountCents: 7000, matchesRecorded: true, price: { billableSec: 400, source: { kind: 'band', fromSec: 300 } } });
    expect(res.body.terms).toMatchObject({ version: 2, priceCents: 5000 });
    expect(res.body.rules.map((r: any) => [r.rule, r.passed])).toEqual([
      ['unknown_number', true],
      ['outside_hours', true],
      ['not_connected', true],
      ['machine_answered', true],
      ['below_buffer', true],
      ['not_qualified', true],
      ['out_of_geo', true],
      ['duplicate_caller', true],
      ['blocked_caller', true],
    ]);
    expect(res.body.rules.find((r: any) => r.rule === 'below_buffer').inputs).toMatchObject({ billableSec: 400, bufferSec: 90, durationBasis: 'total' });
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(calls.v2Band!.from);
    expect(text).not.toContain(calls.v2Band!.from.slice(2));

    const unknown = await apiGet<any>(stack, `${callPath(callId(calls.before!))}/rating`, analyst);
    expect(unknown.body).toMatchObject({ termsVersion: null, reasons: ['unknown_number'], rules: [{ rule: 'unknown_number', passed: false }] });
    expectProblem(await apiGet(stack, `${callPath('twilio:CA' + '0'.repeat(32))}/rating`, analyst), 404, 'not-found');
  });

  it('serves the OpenAPI document without auth, listing every route', async () => {
    const res = await apiGet<any>(stack, '/v1/openapi.json', null);
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    for (const r of ROUTES) expect(res.body.paths[r.path], r.path).toBeDefined();
  });

  it('reads a tracking number with its history; refuses non-JSON bodies', async () => {
    const got = await apiGet<any>(stack, `/v1/tracking-numbers/${encodeURIComponent(SEED_NUMBER)}`, analyst);
    expect(got.body.assignments.map((a: any) => [a.publisherId, a.effectiveFrom])).toEqual([
      [SEED_PUBLISHER, '1970-01-01T00:00:00.000Z'],
      [PUB_B, new Date(reassignAt).toISOString()],
    ]);
    expect(got.body.assignmentInForce).toMatchObject({ publisherId: PUB_B });
    const res = await fetch(`${stack.baseUrl}/v1/publishers/${PUB_A}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'text/plain' },
      body: 'name=A',
    });
    expect(res.status).toBe(415);
  });
});
