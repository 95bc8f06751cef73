/**
 * Pilots end to end on the local stack (the pilot's acceptance), over HTTP: a campaign, publisher and number set up
 * through the management API; a pilot created through POST /v1/pilots, whose execution runs the definition CDK
 * deploys on aws-local-stepfunctions with the real task handler (waits sped up 100×); signed Twilio traffic over
 * the cap, all at once; exactly the cap is charged, the execution closes the pilot and the report in S3 matches the
 * ledger. Then crash safety: a second pilot's execution is killed mid-loop and enforce-caps runs twice at once —
 * one close, one report, nothing charged past the cap.
 *
 * Time: windows open CONFIG_LEAD_MS (60 s) after they are written; the calls are dated inside the window (the
 * writer judges a call by its own start time), so nothing here waits for the real window.
 */
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { lambdaContext } from '../../../infra/local/http-adapter';
import { FUNCTIONS } from '../../../infra/resources';
import type { EnforceSummary } from '../../../shared/app/pilots/tasks';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import type { PilotNotification } from '../../../shared/domain/pilots/notifications';
import { ACME, TwilioSender, allCalls, allLedgerEntries, apiGet, apiKey, apiSend, ledgerTable, newCallSid, newCaller, type CallSpec } from '../../support/e2e-harness';

const PRICE = 4000;
const suffix = randomBytes(3).toString('hex');
const CAMPAIGN = `pilot-${suffix}`;
const PUB_A = `pub-pa-${suffix}`;
const PUB_B = `pub-pb-${suffix}`;
const numberOf = (n: number) => `+1512555${String(8000 + n * 100 + Math.floor(Math.random() * 100)).padStart(4, '0')}`;
const NUMBER_A = numberOf(1);
const NUMBER_B = numberOf(5);

let stack: LocalStack;
let twilio: TwilioSender;
let admin: string;
let analyst: string;
let receiver: Server;
let receiverUrl: string;
const received: PilotNotification[] = [];
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  // The enforcer finishes a closed pilot at once (the crash test kills the workflow that would have).
  savedEnv.PILOT_FINISH_GRACE_SECONDS = process.env.PILOT_FINISH_GRACE_SECONDS;
  process.env.PILOT_FINISH_GRACE_SECONDS = '0';
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push(JSON.parse(body) as PilotNotification);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/pilot-events`;
  // Scheduled functions off: this file runs enforce-caps itself, twice at once.
  stack = await startLocalStack({ port: 0, quiet: true, pollersPerQueue: 6, scheduleEveryMs: 0, pilotTimeScale: 100 });
  twilio = new TwilioSender(stack, ACME.accountId);
  admin = apiKey(stack, ACME.accountId, 'admin');
  analyst = apiKey(stack, ACME.accountId, 'analyst');

  for (const p of [PUB_A, PUB_B]) expect((await apiSend(stack, 'PUT', `/v1/publishers/${p}`, admin, { json: { name: p, subSources: ['search', 'social'] } })).status).toBe(201);
  const campaign = await apiSend(stack, 'PUT', `/v1/campaigns/${CAMPAIGN}`, admin, {
    json: { name: 'Pilot campaign', vertical: 'home_services', terms: { priceCents: PRICE, bufferSec: 60, duplicateWindowHours: 24 } },
  });
  expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
  for (const [n, p, sub] of [[NUMBER_A, PUB_A, 'search'], [NUMBER_B, PUB_B, 'social']] as const) {
    const r = await apiSend(stack, 'PUT', `/v1/tracking-numbers/${encodeURIComponent(n)}`, admin, { json: { campaignId: CAMPAIGN, publisherId: p, subSource: sub } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
});

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  if (savedEnv.PILOT_FINISH_GRACE_SECONDS === undefined) delete process.env.PILOT_FINISH_GRACE_SECONDS;
  else process.env.PILOT_FINISH_GRACE_SECONDS = savedEnv.PILOT_FINISH_GRACE_SECONDS;
});

async function createPilot(key: string, body: Record<string, unknown>) {
  const res = await fetch(`${stack.baseUrl}/v1/pilots`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as any };
}

/** `count` billable calls (120 s, fresh callers) to `to`, started from `startMs`, all webhooks sent at once. */
async function playConcurrently(to: string, count: number, startMs: number): Promise<CallSpec[]> {
  const calls = Array.from({ length: count }, (): CallSpec => ({ callSid: newCallSid(), from: newCaller(), to }));
  await Promise.all(
    calls.map(async (c, i) => {
      await twilio.deliver(twilio.ringing(c));
      await twilio.deliver(twilio.terminal(c, 'completed', startMs + i * 1000 + 120_000, 120));
    }),
  );
  await stack.waitForIdle(120_000);
  return calls;
}

async function untilExecutionEnds(pilotId: string): Promise<string> {
  const e = stack.pilots.executions().find((x) => x.name === pilotId);
  if (e === undefined) throw new Error(`no execution for ${pilotId}`);
  await e.done;
  return e.status;
}

async function enforceOnce(): Promise<EnforceSummary> {
  const { handler } = (await import('../../../functions/enforce-caps')) as { handler: (e: unknown, c: unknown) => Promise<EnforceSummary> };
  return handler({}, lambdaContext(FUNCTIONS.enforceCaps));
}

const pilotEntries = async (pilotId: string) => (await allLedgerEntries(stack, analyst, { campaignId: CAMPAIGN })).filter((e) => e.pilotId === pilotId);

/**
 * Both pilots are created before any traffic: the calls here are dated ahead of their processing (inside windows
 * that open a minute after creation), and for such calls the writer may use a campaign copy cached before a later
 * pilot was written (config.ts: only calls that started before they are processed are guaranteed exact).
 */
let pilotB: { pilotId: string; startsAt: number };

describe('a pilot that hits its cap under concurrent traffic', () => {
  let pilotId: string;
  let startsAt: number;

  it('POST /v1/pilots: 201, idempotent retry 200, validation and overlap problems', async () => {
    startsAt = Date.now() + CONFIG_LEAD_MS + 15_000;
    const body = {
      campaignId: CAMPAIGN,
      publisherIds: [PUB_A],
      vertical: 'home_services',
      spendCapCents: 5 * PRICE + PRICE - 1,
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(startsAt + 60 * 60_000).toISOString(),
      notify: [receiverUrl],
    };
    const created = await createPilot(`e2e-${suffix}-a`, body);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    pilotId = created.body.pilotId;
    expect(created.body).toMatchObject({ state: 'scheduled', spentCents: 0, remainingCents: body.spendCapCents });
    const retry = await createPilot(`e2e-${suffix}-a`, body);
    expect([retry.status, retry.body.pilotId]).toEqual([200, pilotId]);

    const past = await createPilot(`e2e-${suffix}-x`, { ...body, startsAt: new Date(Date.now() - 1000).toISOString() });
    expect(past.status).toBe(422);
    expect(past.contentType).toContain('application/problem+json');
    expect(past.body.errors).toEqual([{ field: 'startsAt', message: 'is in the past' }]);
    expect((await createPilot(`e2e-${suffix}-y`, { ...body, spendCapCents: 0 })).status).toBe(422);
    const overlap = await createPilot(`e2e-${suffix}-z`, { ...body, startsAt: new Date(startsAt + 60_000).toISOString() });
    expect(overlap.status).toBe(409);
    expect((await apiSend(stack, 'POST', '/v1/pilots', analyst, { json: body })).status).toBe(403);

    const b = await createPilot(`e2e-${suffix}-b`, { ...body, publisherIds: [PUB_B], spendCapCents: 3 * PRICE });
    expect(b.status, JSON.stringify(b.body)).toBe(201);
    pilotB = { pilotId: b.body.pilotId, startsAt };
  });

  it('20 billable calls at once against a cap worth 5: exactly 5 are charged, 15 are over_cap', async () => {
    await playConcurrently(NUMBER_A, 20, startsAt + 10_000);
    const charges = await pilotEntries(pilotId);
    expect(charges).toHaveLength(5);
    expect(charges.every((c) => c.type === 'charge' && c.amountCents === PRICE)).toBe(true);
    // And nothing else of this campaign in the ledger table itself (no charge hides behind an API filter).
    const table = (await ledgerTable(stack)).filter((e) => e.campaignId === CAMPAIGN);
    expect(table).toHaveLength(5);
    const calls = (await allCalls(stack, analyst, { campaignId: CAMPAIGN })).filter((c) => c.publisherId === PUB_A);
    expect(calls).toHaveLength(20);
    expect(calls.filter((c) => c.billable)).toHaveLength(5);
    expect(calls.filter((c) => !c.billable).every((c) => c.reasons.join() === 'over_cap' && c.amountCents === 0)).toBe(true);
  });

  it('the execution closes the pilot on its cap and stores the report; GET shows it; the report matches the ledger', async () => {
    expect(await untilExecutionEnds(pilotId)).toBe('SUCCEEDED');
    const view = await apiGet(stack, `/v1/pilots/${pilotId}`, analyst);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      state: 'closed',
      closedReason: 'cap',
      spentCents: 5 * PRICE,
      remainingCents: PRICE - 1,
      billableCalls: 5,
      nonBillableCalls: 15,
      percentOfCap: 83,
    });
    expect(view.body.report.json).toMatch(/^http/);

    const report = await apiGet(stack, `/v1/pilots/${pilotId}/report`, analyst);
    expect(report.status).toBe(200);
    const charges = await pilotEntries(pilotId);
    expect(report.body).toMatchObject({ pilotId, state: 'closed', ledgerMatchesCounter: true, counter: { spentCents: 5 * PRICE, billableCalls: 5 } });
    // Money is exact (the counter closed, so no charge can follow the report); the count of over_cap calls is the
    // calls rated by the time the report was built (the execution waits settleSeconds after closing for them).
    expect(report.body.totals).toMatchObject({ billableCalls: 5, spendCents: charges.reduce((a, c) => a + c.amountCents, 0), creditsCents: 0 });
    expect(report.body.totals.calls).toBe(5 + (report.body.totals.reasons.over_cap ?? 0));
    expect(report.body.totals.calls).toBeLessThanOrEqual(20);
    expect(report.body.publishers.map((p: any) => [p.publisherId, p.subSources.map((s: any) => [s.subSource, s.billableCalls])])).toEqual([[PUB_A, [['search', 5]]]]);

    // The same report is in S3, as JSON and CSV.
    const key = `pilot-reports/${ACME.accountId}/${pilotId}/report.json`;
    const obj = await stack.clients.s3.send(new GetObjectCommand({ Bucket: stack.names.archiveBucket, Key: key }));
    expect(JSON.parse(await obj.Body!.transformToString()).totals).toEqual(report.body.totals);
    const csv = await fetch(`${stack.baseUrl}/v1/pilots/${pilotId}/report?format=csv`, { headers: { authorization: `Bearer ${analyst}` } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect((await csv.text()).split('\r\n').at(-2)).toMatch(new RegExp(`^\\*,\\*,${report.body.totals.calls},5,\\d+,0,${5 * PRICE},0,0,${5 * PRICE},${PRICE},`));

    const events = received.filter((n) => n.pilotId === pilotId).map((n) => `${n.event}${n.threshold ? `:${n.threshold}` : ''}`);
    expect(events.sort()).toEqual(['pilot.activated', 'pilot.closed', 'pilot.report_ready', 'pilot.threshold:50', 'pilot.threshold:80']);
  });

  it('late calls of the window are over_cap: the closed counter charges nothing more', async () => {
    await playConcurrently(NUMBER_A, 3, startsAt + 30 * 60_000);
    expect(await pilotEntries(pilotId)).toHaveLength(5);
  });
});

describe('crash safety', () => {
  it('monitor killed mid-loop, enforce-caps twice at once: one close, one report, nothing past the cap', async () => {
    const { pilotId, startsAt } = pilotB;
    const execution = stack.pilots.executions().find((e) => e.name === pilotId)!;
    // Let it activate and enter its loop, then kill it.
    for (let i = 0; i < 200 && received.every((n) => !(n.pilotId === pilotId && n.event === 'pilot.activated')); i++) await new Promise((r) => setTimeout(r, 50));
    stack.pilots.abort(execution.executionArn);
    await execution.done;
    expect(execution.status).toBe('ABORTED');

    await playConcurrently(NUMBER_B, 8, startsAt + 10_000);
    expect(await pilotEntries(pilotId)).toHaveLength(3);
    const before = await apiGet(stack, `/v1/pilots/${pilotId}`, analyst);
    expect(before.body).toMatchObject({ state: 'active', spentCents: 3 * PRICE, report: null });

    const [a, b] = await Promise.all([enforceOnce(), enforceOnce()]);
    expect([...a.closedPilotIds, ...b.closedPilotIds].filter((id) => id === pilotId)).toHaveLength(1);
    const after = await apiGet(stack, `/v1/pilots/${pilotId}`, analyst);
    expect(after.body).toMatchObject({ state: 'closed', closedReason: 'cap', spentCents: 3 * PRICE, billableCalls: 3, nonBillableCalls: 5 });
    const report = await apiGet(stack, `/v1/pilots/${pilotId}/report`, analyst);
    expect(report.body).toMatchObject({ ledgerMatchesCounter: true, totals: { calls: 8, billableCalls: 3, spendCents: 3 * PRICE } });
    const events = received.filter((n) => n.pilotId === pilotId).map((n) => n.event);
    expect(events.filter((e) => e === 'pilot.closed')).toHaveLength(1);
    expect(events.filter((e) => e === 'pilot.report_ready')).toHaveLength(1);

    // Stopping a closed pilot is refused; enforce-caps again changes nothing.
    expect((await apiSend(stack, 'POST', `/v1/pilots/${pilotId}/stop`, admin, null)).status).toBe(409);
    await enforceOnce();
    expect(await pilotEntries(pilotId)).toHaveLength(3);
    expect(received.filter((n) => n.pilotId === pilotId && n.event === 'pilot.closed')).toHaveLength(1);
  });
});
