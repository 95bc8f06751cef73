/**
 * The management API on the whole local stack (over HTTP): set up a publisher, a campaign with terms v1 and a
 * tracking number; play signed Twilio calls; change the terms to v2 and re-assign the number in the middle of
 * the traffic (after the writer has cached the old configuration); every ledger entry names the terms version
 * and price, and the publisher, in force when its call STARTED. Then the rating explanation and OpenAPI.
 *
 * Then, on the same stack and partly on the same calls (disputes, statements, reconciliation): disputes opened, retried, refused
 * (role, credit policy, no charge) and resolved (accepted → one negative credit; rejected → none); statements per
 * publisher and period in the account's time zone, checked against GET /v1/ledger with the digest recomputed
 * here from the documented line format; a crafted invoice CSV reconciled with one of every planted mismatch, then
 * again with openDisputes. Periods are computed from each entry's date, so no assertion depends on today's date.
 *
 * Real time: changes take effect CONFIG_LEAD_MS (60 s) after they are written and calls start no later than
 * they are processed (a long call's end may lie ahead), so this file waits about 65 s. The mid-traffic change is
 * made to the demo seed's campaign, whose v1 is in force from the start (this file's stack is its own).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import { ROUTES } from '../../../infra/routes';
import {
  TwilioSender,
  allDisputes,
  allLedgerEntries,
  apiGet,
  apiKey,
  apiSend,
  callPath,
  expectProblem,
  newCallSid,
  newCaller,
  sha256,
  type ApiResult,
  type CallSpec,
} from '../../support/e2e-harness';

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

/** The calls played by the first describe; the second one disputes, states and reconciles some of them. */
const calls: Record<string, CallSpec> = {};
/** When publisher A's campaign terms v1 and its number's assignment are both in force. */
let pubAFrom = 0;

describe('management API on the local stack', () => {
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
    pubAFrom = Math.max(Date.parse(camp.body.termsVersions[0].effectiveFrom), Date.parse(num.body.assignments[0].effectiveFrom));

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
      ['caller_id_withheld', true],
      ['duplicate_caller', true],
      ['blocked_caller', true],
      ['blocked_signal', true],
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

// ------------------------------------------------------------------------------------------------ disputes, statements and reconciliation

/** The wall clock at `ms` in `tz`, computed here with Intl alone (independently of shared/domain/kernel/zoned-time.ts). */
function wall(ms: number, tz: string): { date: string; time: string; offset: string } {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'longOffset',
  });
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  const offset = p.timeZoneName === 'GMT' ? '+00:00' : p.timeZoneName!.replace('GMT', '');
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}:${p.second}`, offset };
}
/** `YYYY-MM` of an instant in the account's zone: the statement period an entry dated then belongs to. */
const periodOf = (iso: string, tz: string) => wall(Date.parse(iso), tz).date.slice(0, 7);
const nextPeriod = (period: string) => {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
};
/** An invoice timestamp as a publisher in the account's zone writes it: local wall clock with its UTC offset. */
const localIso = (ms: number, tz: string) => {
  const w = wall(ms, tz);
  return `${w.date}T${w.time}${w.offset}`;
};
/** `+12065550123` → `(206) 555-0123`, as a publisher's spreadsheet would write it. */
const national = (e164: string) => `(${e164.slice(2, 5)}) ${e164.slice(5, 8)}-${e164.slice(8)}`;

/**
 * The statement digest as docs (shared/domain/ledger/statements.ts, ledger/entries.ts) define it, written out here: one JSON
 * array per entry (entryId, type, callId, publisherId, subSource, campaignId, termsVersion, effectiveAt,
 * amountCents, currency, correctsEntryId; null when absent), sorted by entryId, joined with "\n", SHA-256 hex.
 */
function statementDigest(entries: readonly any[]): string {
  const line = (e: any) =>
    JSON.stringify([
      e.entryId,
      e.type,
      e.callId,
      e.publisherId,
      e.subSource ?? null,
      e.campaignId,
      e.termsVersion ?? null,
      e.effectiveAt,
      e.amountCents,
      e.currency,
      e.correctsEntryId ?? null,
    ]);
  return sha256([...entries].sort((x, y) => (x.entryId < y.entryId ? -1 : x.entryId > y.entryId ? 1 : 0)).map(line).join('\n'));
}
const sumOf = (entries: readonly any[], type: 'charge' | 'credit') => entries.filter((e) => e.type === type).reduce((s, e) => s + e.amountCents, 0);

describe('disputes, statements and invoice reconciliation over HTTP on the same stack (disputes, statements and reconciliation)', () => {
  /** Publisher A's calls (campaign CAMPAIGN, v1: 3000 ¢, buffer 30 s), all started at `startA`: one statement period. */
  const a: Record<string, CallSpec> = {};
  let startA = 0;
  let actor = '';
  let describeStart = 0;
  let midwayPeriod = '';
  let midwayBefore: any;
  let pubBBefore: any;
  let invoiceCsv = '';
  let firstReport: any;

  const post = (path: string, key: string, json: unknown) => apiSend(stack, 'POST', path, key, { json });
  const dispute = (call: CallSpec, key: string, json: unknown) => post(`${callPath(callId(call))}/disputes`, key, json);
  const disputeIdOf = (call: CallSpec) => `dispute:${callId(call)}`;
  const resolve = (call: CallSpec, key: string, json: unknown) => post(`/v1/disputes/${encodeURIComponent(disputeIdOf(call))}/resolve`, key, json);
  const tz = () => stack.seed.accounts.find((acct) => acct.accountId === ACCOUNT)!.timeZone;
  async function statementOf(publisherId: string, period: string): Promise<any> {
    const res = await apiGet<any>(stack, '/v1/statements', analyst, { publisherId, period });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  }
  async function chargeOf(call: CallSpec): Promise<any> {
    const entries = (await allLedgerEntries(stack, analyst)).filter((e) => e.entryId === `charge:${callId(call)}`);
    expect(entries).toHaveLength(1);
    return entries[0];
  }
  const reconcile = (key: string, csv: string, query: Record<string, string>) =>
    apiSend<any>(stack, 'POST', '/v1/reconciliations', key, { text: csv, contentType: 'text/csv' }, query);

  it('plays publisher A calls under its own credit policy; opens disputes (admin only) and refuses the documented cases', async () => {
    describeStart = Date.now();
    actor = `${stack.secrets.apiKeys.find((k) => k.key === admin)!.label} (admin) @ ${ACCOUNT}`;
    const policy = { disputeWindowDays: 30, allowedReasons: ['fraud', 'other'] };
    const pol = await put(`/v1/publishers/${PUB_A}`, admin, { name: 'Alpha Search', trafficMethods: ['paid_search'], subSources: ['google'], creditPolicy: policy });
    expect(pol.status, JSON.stringify(pol.body)).toBe(200);
    expect(pol.body.creditPolicy).toEqual(policy);

    startA = wholeSecondAfter(Math.max(pubAFrom, Date.now() - MIN));
    for (const name of ['credited', 'refused', 'overbilled', 'underbilled', 'notInvoiced', 'byCaller']) a[name] = await playCall(NUMBER, startA);
    a.short = await playCall(NUMBER, startA, 10); // below the 30 s buffer
    await stack.waitForIdle();
    const entriesA = await allLedgerEntries(stack, analyst, { publisherId: PUB_A });
    const { short, ...billed } = a;
    expect(entriesA.map((e) => [e.entryId, e.amountCents, e.termsVersion, e.effectiveAt]).sort()).toEqual(
      Object.values(billed)
        .map((c) => [`charge:${callId(c)}`, 3000, 1, new Date(startA).toISOString()])
        .sort(),
    );
    expect((await apiGet(stack, callPath(callId(short!)), analyst)).body).toMatchObject({ publisherId: PUB_A, billable: false, reasons: ['below_buffer'] });

    // Statements before any dispute is resolved, to compare with afterwards.
    const v1Charge = await chargeOf(calls.v1!);
    midwayPeriod = periodOf(v1Charge.effectiveAt, tz());
    midwayBefore = await statementOf(SEED_PUBLISHER, midwayPeriod);
    pubBBefore = await statementOf(PUB_B, periodOf((await chargeOf(calls.reassigned!)).effectiveAt, tz()));

    // Only an admin key opens disputes.
    const body = { reason: 'fraud', note: 'caller never asked for a roofer' };
    expectProblem(await dispute(calls.v1!, analyst, body), 403, 'forbidden');
    const t1 = Date.now();
    const opened = await dispute(calls.v1!, admin, body);
    const t2 = Date.now();
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    expect(opened.body).toMatchObject({
      disputeId: disputeIdOf(calls.v1!),
      accountId: ACCOUNT,
      callId: callId(calls.v1!),
      chargeEntryId: v1Charge.entryId,
      publisherId: SEED_PUBLISHER,
      chargeCents: 4500,
      ...body,
      status: 'open',
      openedBy: actor,
      history: [{ status: 'open', by: actor, note: body.note, at: opened.body.openedAt }],
    });
    expect(Date.parse(opened.body.openedAt)).toBeGreaterThanOrEqual(t1);
    expect(Date.parse(opened.body.openedAt)).toBeLessThanOrEqual(t2);
    // An identical retry answers 200 with the stored dispute; a different request on the same charge is 409.
    const retry = await dispute(calls.v1!, admin, body);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(opened.body);
    expectProblem(await dispute(calls.v1!, admin, { ...body, note: 'another story' }), 409, 'already-disputed');

    // PUB_B has the default policy (every reason); publisher A allows fraud and other only.
    expect((await dispute(calls.reassigned!, admin, { reason: 'wrong_number', note: 'caller wanted a plumber' })).status).toBe(201);
    expect((await dispute(a.credited!, admin, { reason: 'fraud', note: 'half the call was hold music' })).status).toBe(201);
    const outsidePolicy = await dispute(a.refused!, admin, { reason: 'below_buffer', note: '' });
    expectProblem(outsidePolicy, 422, 'reason-not-allowed');
    expect(outsidePolicy.body.errors).toEqual([{ field: 'reason', message: expect.stringContaining('fraud, other') }]);

    // No charge to dispute: a call we rated non-billable, an unknown number's call; an unknown call; a bad body.
    const notBilled = await dispute(short!, admin, { reason: 'fraud' });
    expectProblem(notBilled, 422, 'not-billed');
    expect(notBilled.body.detail).toContain('no charge');
    expectProblem(await dispute(calls.before!, admin, { reason: 'wrong_number' }), 422, 'not-billed');
    expectProblem(await dispute({ callSid: newCallSid(), from: newCaller(), to: NUMBER }, admin, { reason: 'fraud' }), 404, 'not-found');
    const malformed = await dispute(a.refused!, admin, { reason: 'because' });
    expectProblem(malformed, 400, 'malformed-request');
    expect(malformed.body.errors.map((e: any) => e.field)).toEqual(['reason']);

    // Refusals opened nothing.
    const all = await allDisputes(stack, analyst);
    expect(all.map((d) => [d.disputeId, d.status]).sort()).toEqual(
      [calls.v1!, calls.reassigned!, a.credited!].map((c) => [disputeIdOf(c), 'open']).sort(),
    );
  });

  it('resolves disputes: accepted appends one negative credit (the whole charge by default, part on request), rejected none; a second resolve is idempotent or 409', async () => {
    const v1Charge = await chargeOf(calls.v1!);
    const accept = { outcome: 'accepted', note: 'publisher agreed' };
    expectProblem(await resolve(calls.v1!, analyst, accept), 403, 'forbidden');
    const t1 = Date.now();
    const acc = await resolve(calls.v1!, admin, accept);
    const t2 = Date.now();
    expect(acc.status, JSON.stringify(acc.body)).toBe(200);
    expect(acc.body.dispute).toMatchObject({ status: 'accepted', creditCents: 4500, resolvedBy: actor });
    expect(acc.body.dispute.history.map((h: any) => [h.status, h.by, h.note])).toEqual([
      ['open', actor, 'caller never asked for a roofer'],
      ['accepted', actor, 'publisher agreed'],
    ]);
    expect(Date.parse(acc.body.dispute.resolvedAt)).toBeGreaterThanOrEqual(t1);
    expect(Date.parse(acc.body.dispute.resolvedAt)).toBeLessThanOrEqual(t2);
    expect(acc.body.credit).toEqual({
      entryId: `credit:${callId(calls.v1!)}`,
      type: 'credit',
      amountCents: -4500,
      currency: v1Charge.currency,
      callId: callId(calls.v1!),
      accountId: ACCOUNT,
      publisherId: SEED_PUBLISHER,
      subSource: v1Charge.subSource,
      campaignId: SEED_CAMPAIGN,
      termsVersion: 1,
      effectiveAt: v1Charge.effectiveAt, // booked in the charge's period
      createdAt: acc.body.dispute.resolvedAt,
      disputeId: disputeIdOf(calls.v1!),
      correctsEntryId: v1Charge.entryId,
    });
    // The identical request again: the same answer, no second credit. Anything else: 409.
    const again = await resolve(calls.v1!, admin, accept);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(acc.body);
    expectProblem(await resolve(calls.v1!, admin, { outcome: 'rejected', note: 'publisher agreed' }), 409, 'already-resolved');
    expectProblem(await resolve(calls.v1!, admin, { ...accept, creditCents: 100 }), 409, 'already-resolved');

    const reject = { outcome: 'rejected', note: 'recording shows a genuine enquiry' };
    const rej = await resolve(calls.reassigned!, admin, reject);
    expect(rej.status, JSON.stringify(rej.body)).toBe(200);
    expect(rej.body.credit).toBeNull();
    expect(rej.body.dispute).toMatchObject({ status: 'rejected', resolvedBy: actor, publisherId: PUB_B, chargeCents: 5000 });
    expect(rej.body.dispute.creditCents).toBeUndefined();
    expectProblem(await resolve(calls.reassigned!, admin, { outcome: 'accepted', note: reject.note }), 409, 'already-resolved');

    // A partial credit: at most the charge.
    const tooMuch = await resolve(a.credited!, admin, { outcome: 'accepted', note: 'x', creditCents: 3001 });
    expectProblem(tooMuch, 422, 'credit-out-of-range');
    expect(tooMuch.body.errors).toEqual([{ field: 'creditCents', message: expect.any(String) }]);
    const part = await resolve(a.credited!, admin, { outcome: 'accepted', note: 'half-qualified', creditCents: 1000 });
    expect(part.status, JSON.stringify(part.body)).toBe(200);
    expect(part.body.credit).toMatchObject({ entryId: `credit:${callId(a.credited!)}`, amountCents: -1000, correctsEntryId: `charge:${callId(a.credited!)}`, publisherId: PUB_A });
    expectProblem(await post(`/v1/disputes/${encodeURIComponent(`dispute:twilio:${newCallSid()}`)}/resolve`, admin, accept), 404, 'not-found');

    // The ledger: the two credits were appended; every charge is still there, unchanged, and every hash checks out.
    const entries = await allLedgerEntries(stack, analyst);
    expect(entries.filter((e) => e.type === 'credit').map((e) => [e.entryId, e.amountCents, e.correctsEntryId]).sort()).toEqual(
      [
        [`credit:${callId(a.credited!)}`, -1000, `charge:${callId(a.credited!)}`],
        [`credit:${callId(calls.v1!)}`, -4500, v1Charge.entryId],
      ].sort(),
    );
    expect(entries.find((e) => e.entryId === v1Charge.entryId)).toEqual(v1Charge);
    expect(entries.every((e) => /^[0-9a-f]{64}$/.test(e.contentHash))).toBe(true);
    const verify = await apiGet<any>(stack, '/v1/ledger/verify', analyst);
    expect(verify.body).toMatchObject({ ok: true, brokenLink: null, checkedEntries: entries.length, unhashedEntries: { count: 0 } });
  });

  it('lists disputes by status and publisher, with who did what and when (any key)', async () => {
    const listed = async (query: Record<string, string>) => (await allDisputes(stack, analyst, query)).map((d) => d.disputeId).sort();
    expect(await listed({ status: 'open' })).toEqual([]);
    expect(await listed({ status: 'accepted' })).toEqual([disputeIdOf(a.credited!), disputeIdOf(calls.v1!)].sort());
    expect(await listed({ status: 'rejected' })).toEqual([disputeIdOf(calls.reassigned!)]);
    expect(await listed({ status: 'accepted', publisherId: PUB_A })).toEqual([disputeIdOf(a.credited!)]);
    expect(await listed({ publisherId: PUB_B })).toEqual([disputeIdOf(calls.reassigned!)]);

    for (const d of await allDisputes(stack, analyst)) {
      expect(d.history.map((h: any) => [h.status, h.by]), d.disputeId).toEqual([
        ['open', actor],
        [d.status, actor],
      ]);
      const at = d.history.map((h: any) => Date.parse(h.at));
      expect(at[0]).toBeGreaterThanOrEqual(describeStart);
      expect(at[1]).toBeGreaterThanOrEqual(at[0]);
      expect(at[1]).toBeLessThanOrEqual(Date.now());
      expect([d.openedAt, d.openedBy, d.resolvedAt, d.resolvedBy]).toEqual([d.history[0].at, actor, d.history[1].at, actor]);
    }
    const bad = await apiGet<any>(stack, '/v1/disputes', analyst, { status: 'closed' });
    expectProblem(bad, 400, 'malformed-request');
    expect(bad.body.errors).toEqual([{ field: 'status', message: expect.any(String) }]);
  });

  it('states each publisher per period of the account time zone: charges, credits and net equal the ledger entries; the digest is recomputed here and moves with a credit only', async () => {
    const zone = tz();
    // What the test played: charges and credits per publisher, whatever months they fall in.
    const expected: Record<string, { charges: number; credits: number }> = {
      [SEED_PUBLISHER]: { charges: 4500 + 4500 + 5000 + 7000, credits: -4500 },
      [PUB_B]: { charges: 5000, credits: 0 },
      [PUB_A]: { charges: 6 * 3000, credits: -1000 },
    };
    for (const [publisherId, want] of Object.entries(expected)) {
      const entries = await allLedgerEntries(stack, analyst, { publisherId });
      const periods = [...new Set(entries.map((e) => periodOf(e.effectiveAt, zone)))].sort();
      const got = { charges: 0, credits: 0 };
      for (const period of periods) {
        const mine = entries.filter((e) => periodOf(e.effectiveAt, zone) === period);
        const s = await statementOf(publisherId, period);
        const charges = sumOf(mine, 'charge');
        const credits = sumOf(mine, 'credit');
        expect(s, `${publisherId} ${period}`).toEqual({
          period,
          timeZone: zone,
          publisherId,
          startAt: expect.any(String),
          endAt: expect.any(String),
          chargesCents: charges,
          creditsCents: credits,
          reversalsCents: 0,
          netPayableCents: charges + credits,
          entryCount: mine.length,
          digest: { algorithm: 'sha256/callledger-statement-lines-v1', value: statementDigest(mine) },
        });
        // The period is the calendar month on the account's wall clock.
        expect(wall(Date.parse(s.startAt), zone)).toMatchObject({ date: `${period}-01`, time: '00:00:00' });
        expect(wall(Date.parse(s.endAt), zone)).toMatchObject({ date: `${nextPeriod(period)}-01`, time: '00:00:00' });
        expect(periodOf(new Date(Date.parse(s.startAt) - 1).toISOString(), zone)).not.toBe(period);
        // GET /v1/ledger over the statement's range lists exactly what the digest covers.
        const listed = await allLedgerEntries(stack, analyst, { publisherId, from: s.startAt, to: s.endAt });
        expect(listed.map((e) => e.entryId).sort()).toEqual(mine.map((e) => e.entryId).sort());
        got.charges += s.chargesCents;
        got.credits += s.creditsCents;
      }
      expect(got, publisherId).toEqual(want);
    }

    // The accepted credit moved the v1 call's statement (same period as its charge); the rejected dispute moved nothing.
    const midwayAfter = await statementOf(SEED_PUBLISHER, midwayPeriod);
    expect(midwayAfter.digest.value).not.toBe(midwayBefore.digest.value);
    expect(midwayAfter).toMatchObject({
      chargesCents: midwayBefore.chargesCents,
      creditsCents: midwayBefore.creditsCents - 4500,
      netPayableCents: midwayBefore.netPayableCents - 4500,
      entryCount: midwayBefore.entryCount + 1,
    });
    expect(await statementOf(PUB_B, pubBBefore.period)).toEqual(pubBBefore);

    // A month without entries; bad queries.
    expect(await statementOf(PUB_A, '2000-01')).toMatchObject({ chargesCents: 0, creditsCents: 0, netPayableCents: 0, entryCount: 0, digest: { value: sha256('') } });
    const badPeriod = await apiGet<any>(stack, '/v1/statements', analyst, { period: '2026-13' });
    expectProblem(badPeriod, 400, 'malformed-request');
    expect(badPeriod.body.errors).toEqual([{ field: 'period', message: expect.any(String) }]);
    expectProblem(await apiGet(stack, '/v1/statements', analyst, { publisherId: PUB_A }), 400, 'malformed-request');
  });

  it("reconciles a crafted invoice against publisher A's month: every planted mismatch is found, and nothing else", async () => {
    const zone = tz();
    const period = periodOf(new Date(startA).toISOString(), zone);
    const unknownSid = newCallSid();
    const stranger = newCaller();
    invoiceCsv = `${[
      'call_id,caller,start_time,amount_usd', //                                            record 1
      `${a.credited!.callSid},,,20.00`, //                                                  2 matched: our net after the partial credit
      `${callId(a.refused!)},,,$30.00`, //                                                  3 matched (our form of the id)
      `${a.overbilled!.callSid},,,35.00`, //                                                4 amount mismatch: billed high
      `${a.underbilled!.callSid},,,"$25.00"`, //                                            5 amount mismatch: billed low
      `${a.short!.callSid},,,30.00`, //                                                     6 billed, we rated it below_buffer
      `${unknownSid},,,30.00`, //                                                           7 a call id we never saw
      `,${national(a.byCaller!.from)},${localIso(startA + 40_000, zone)},30`, //            8 caller + start time, 40 s off
      `,${national(stranger)},${localIso(startA, zone)},30.00`, //                          9 no call of ours from that caller
      // a.notInvoiced: charged by us, absent from the invoice
    ].join('\r\n')}\r\n`;
    const statementA = await statementOf(PUB_A, period);

    const res = await reconcile(analyst, invoiceCsv, { publisherId: PUB_A, period });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      publisherId: PUB_A,
      timeZone: zone,
      from: statementA.startAt,
      to: statementA.endAt,
      period,
      toleranceSec: 120,
      amountUnit: 'dollars',
      report: {
        matched: [
          { lineNo: 2, callId: callId(a.credited!), amountCents: 2000, matchedBy: 'call_id' },
          { lineNo: 3, callId: callId(a.refused!), amountCents: 3000, matchedBy: 'call_id' },
          { lineNo: 8, callId: callId(a.byCaller!), amountCents: 3000, matchedBy: 'caller_time' },
        ],
        nonBillable: [
          { lineNo: 6, callId: callId(a.short!), billedCents: 3000, reasons: ['below_buffer'], disputeReason: 'below_buffer', matchedBy: 'call_id' },
        ],
        amountMismatches: [
          { lineNo: 4, callId: callId(a.overbilled!), billedCents: 3500, ourNetCents: 3000, ourChargeCents: 3000, ourCreditCents: 0, ourReversalCents: 0, matchedBy: 'call_id' },
          { lineNo: 5, callId: callId(a.underbilled!), billedCents: 2500, ourNetCents: 3000, ourChargeCents: 3000, ourCreditCents: 0, ourReversalCents: 0, matchedBy: 'call_id' },
        ],
        duplicateLines: [],
        missingOnOurSide: [
          { lineNo: 7, billedCents: 3000, reason: 'unknown_call_id' },
          { lineNo: 9, billedCents: 3000, reason: 'no_call_near_time' },
        ],
        missingOnTheirSide: [{ callId: callId(a.notInvoiced!), ourNetCents: 3000 }],
        reversalsOfEarlierCalls: [],
        unreadable: [],
        totals: { billedCents: 2000 + 3000 + 3500 + 2500 + 3000 + 3000 + 3000 + 3000, ourNetCents: statementA.netPayableCents, differenceCents: 23000 - 17000 },
      },
    });
    expect(statementA.netPayableCents).toBe(17000);
    firstReport = res.body.report;
    const text = JSON.stringify(res.body);
    for (const caller of [a.byCaller!.from, stranger]) expect(text).not.toContain(caller.slice(2));

    // Refusals: opening disputes needs an admin key; the body must be CSV; the publisher is required.
    expectProblem(await reconcile(analyst, invoiceCsv, { publisherId: PUB_A, period, openDisputes: 'true' }), 403, 'forbidden');
    const json = await apiSend(stack, 'POST', '/v1/reconciliations', admin, { json: { csv: invoiceCsv } }, { publisherId: PUB_A, period });
    expectProblem(json, 415, 'unsupported-media-type');
    expectProblem(await reconcile(admin, invoiceCsv, { period }), 400, 'malformed-request');
    expectProblem(await reconcile(admin, 'when,what\n1,2\n', { publisherId: PUB_A, period }), 422, 'unprocessable');
    // A report opens nothing by itself.
    expect((await allDisputes(stack, analyst, { publisherId: PUB_A })).map((d) => d.disputeId)).toEqual([disputeIdOf(a.credited!)]);
  });

  it('opens a dispute for each amount mismatch on request (admin); a re-run answers with the same disputes; statements do not move', async () => {
    const period = periodOf(new Date(startA).toISOString(), tz());
    const statementBefore = await statementOf(PUB_A, period);
    const t1 = Date.now();
    const res = await reconcile(admin, invoiceCsv, { publisherId: PUB_A, period, openDisputes: 'true' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.report).toEqual(firstReport);
    const mismatched = [
      { lineNo: 4, call: a.overbilled!, billed: 3500 },
      { lineNo: 5, call: a.underbilled!, billed: 2500 },
    ];
    expect(res.body.disputes).toEqual(mismatched.map((m) => ({ lineNo: m.lineNo, callId: callId(m.call), outcome: 'opened', disputeId: disputeIdOf(m.call) })));

    const open = (await allDisputes(stack, analyst, { status: 'open', publisherId: PUB_A })).sort((x, y) => (x.disputeId < y.disputeId ? -1 : 1));
    const byId = new Map(open.map((d) => [d.disputeId, d]));
    expect(open).toHaveLength(mismatched.length);
    for (const m of mismatched) {
      const d = byId.get(disputeIdOf(m.call));
      expect(d, m.call.callSid).toMatchObject({ callId: callId(m.call), reason: 'other', chargeCents: 3000, openedBy: actor, status: 'open' });
      // The note names the invoice line and both amounts.
      expect(d.note).toMatch(new RegExp(`\\b${m.lineNo}\\b[^]*\\b${m.billed}\\b[^]*\\b3000\\b`));
      expect(Date.parse(d.openedAt)).toBeGreaterThanOrEqual(t1);
    }

    const rerun = await reconcile(admin, invoiceCsv, { publisherId: PUB_A, period, openDisputes: 'true' });
    expect(rerun.status).toBe(200);
    expect(rerun.body.disputes).toEqual(res.body.disputes.map((d: any) => ({ ...d, outcome: 'already_open' })));
    expect(await allDisputes(stack, analyst, { status: 'open', publisherId: PUB_A })).toHaveLength(mismatched.length);
    // Open disputes are not money: the statement is the same, digest included.
    expect(await statementOf(PUB_A, period)).toEqual(statementBefore);
  });
});
