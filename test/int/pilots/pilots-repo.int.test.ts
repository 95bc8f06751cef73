/**
 * Pilots against DynamoDB Local and fauxqs' S3: the API use cases (create, idempotent create, refusals,
 * concurrent overlapping creates, stop) and the workflow tasks and scheduled enforcer on the items they share —
 * including two enforcer runs at once (one close, one report, one notification of each kind) and the ledger
 * writer's charges counted against a pilot created through the API. Notifications go to a real HTTP receiver.
 *
 * The pilot clock: the task deps take a clock that the tests move past the window; the API and the writer run
 * on real time (windows open CONFIG_LEAD_MS after creation, so the writer's calls are dated inside the window).
 */
import { createServer, type Server } from 'node:http';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pilotApiDeps, pilotTaskDeps } from '../../../shared/adapters/pilots/deps';
import { PilotRepo } from '../../../shared/adapters/pilots/pilot-repo';
import type { PilotExecutionInput, PilotWorkflow } from '../../../shared/app/pilots/ports';
import { enforceCaps, runPilotTask } from '../../../shared/app/pilots/tasks';
import { createPilot, getPilot, getPilotReport, stopPilot, type PilotApiDeps } from '../../../shared/app/pilots/pilots';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import { currentPilotDay } from '../../../shared/domain/pilots/progress';
import { type PilotNotification } from '../../../shared/domain/pilots/notifications';
import type { DomainError } from '../../../shared/domain/kernel/errors';
import { errorView, isCallerError } from '../../../shared/app/kernel/errors';
import { createTenant, freshNumber, lifecycle, records, silentLog, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

const MIN = 60_000;
const PRICE = 3000;

let env: CoreEnv;
let receiver: Server;
let receiverUrl: string;
const received: PilotNotification[] = [];

beforeAll(async () => {
  env = await startCoreEnv();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push(JSON.parse(body) as PilotNotification);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/pilot?token=secret`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  await env?.stop();
});

/** Records what the API asks of the workflow (the local runner is tested in pilots-workflow.int.test.ts). */
function recordingWorkflow() {
  const started: { name: string; input: PilotExecutionInput }[] = [];
  const stopped: string[] = [];
  const workflow: PilotWorkflow = {
    start: async (name, input) => {
      started.push({ name, input });
      return `arn:aws:states:us-east-1:111111111111:execution:pilots:${name}`;
    },
    stop: async (arn) => void stopped.push(arn),
  };
  return { workflow, started, stopped };
}

const tables = () => ({ mainTable: env.names.mainTable, ledgerTable: env.names.ledgerTable, archiveBucket: env.names.archiveBucket });

function apiDeps(workflow: PilotWorkflow): PilotApiDeps {
  const base = pilotApiDeps(tables(), { stateMachineArn: undefined, monitorSeconds: 30, settleSeconds: 120, notifyAllowLocal: true, finishGraceSeconds: 0 }, {
    dynamodb: env.clients.dynamodb,
    s3: env.clients.s3,
    log: silentLog,
  });
  return { ...base, workflow: () => workflow };
}

function taskDeps(clock: () => number) {
  return pilotTaskDeps(tables(), { notifyAllowLocal: true }, { dynamodb: env.clients.dynamodb, s3: env.clients.s3, log: silentLog, now: () => new Date(clock()) });
}

interface Setup {
  readonly tenant: Tenant;
  readonly admin: ApiKeyRecord;
  readonly analyst: ApiKeyRecord;
  readonly pubA: string;
  readonly pubB: string;
}

async function setup(): Promise<Setup> {
  const tenant = await createTenant(env.config, { priceCents: PRICE, bufferSec: 30 });
  const accountId = tenant.account.accountId;
  return {
    tenant,
    admin: { accountId, role: 'admin', label: 'ops' },
    analyst: { accountId, role: 'analyst', label: 'viewer' },
    pubA: tenant.numbers.billable.publisherId,
    pubB: tenant.numbers.second.publisherId,
  };
}

function body(s: Setup, over: Record<string, unknown> = {}) {
  const startsAt = Date.now() + CONFIG_LEAD_MS + 5_000;
  return {
    campaignId: s.tenant.campaign.campaignId,
    publisherIds: [s.pubA],
    vertical: s.tenant.campaign.vertical,
    spendCapCents: 3 * PRICE,
    startsAt: new Date(startsAt).toISOString(),
    endsAt: new Date(startsAt + 30 * MIN).toISOString(),
    notify: [receiverUrl],
    ...over,
  };
}

async function problemOf(p: Promise<unknown>): Promise<{ status: number; fields: string[]; detail: string }> {
  try {
    await p;
  } catch (err) {
    expect(isCallerError(err)).toBe(true);
    const pr = errorView(err as DomainError);
    return { status: pr.status, fields: (pr.errors ?? []).map((e) => e.field), detail: pr.detail };
  }
  throw new Error('expected a problem');
}

describe('POST /v1/pilots (use case on DynamoDB Local)', () => {
  it('creates the record, the counter, the registry entry and appends the terms to the campaign, then starts the workflow', async () => {
    const s = await setup();
    const wf = recordingWorkflow();
    const deps = apiDeps(wf.workflow);
    const before = (await env.config.readCampaign(s.tenant.account.accountId, s.tenant.campaign.campaignId))!;
    const created = await createPilot(s.admin, 'key-1', body(s), deps);

    expect(created.created).toBe(true);
    const v = created.body;
    expect(v).toMatchObject({ state: 'scheduled', spentCents: 0, remainingCents: 3 * PRICE, billableCalls: 0, nonBillableCalls: 0, timeZone: 'America/Chicago', report: null });
    expect(v.notifyHosts).toEqual([new URL(receiverUrl).host]);
    const campaign = (await env.config.readCampaign(s.tenant.account.accountId, s.tenant.campaign.campaignId))!;
    expect(campaign.rev).toBe(before.rev + 1);
    expect(campaign.pilots).toEqual([
      expect.objectContaining({ pilotId: v.pilotId, publisherIds: [s.pubA], spendCapCents: 3 * PRICE, dailyCapCents: null, startsAt: v.startsAt, endsAt: v.endsAt }),
    ]);
    const repo = new PilotRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    expect(await repo.getCounter(s.tenant.account.accountId, v.pilotId)).toEqual({ open: true, spentCents: 0, billableCalls: 0, closedAt: null, closedReason: null });
    expect(await repo.listLivePilots()).toContainEqual({ accountId: s.tenant.account.accountId, pilotId: v.pilotId });
    expect(wf.started).toEqual([{ name: v.pilotId, input: { accountId: s.tenant.account.accountId, pilotId: v.pilotId, startsAt: v.startsAt, monitorSeconds: 30, settleSeconds: 120 } }]);
    expect((await repo.getPilot(s.tenant.account.accountId, v.pilotId))!.executionArn).toMatch(/execution:pilots:pilot-/);
    // The stored record never holds the key itself.
    expect(JSON.stringify(await repo.getPilot(s.tenant.account.accountId, v.pilotId))).not.toContain('key-1');
  });

  it('is idempotent on the key: same body → 200 and the same pilot, once; another body → 422; analyst → 403; no key → 400', async () => {
    const s = await setup();
    const wf = recordingWorkflow();
    const deps = apiDeps(wf.workflow);
    const b = body(s);
    const first = await createPilot(s.admin, 'retry-me', b, deps);
    const again = await createPilot(s.admin, 'retry-me', b, deps);
    expect(again.created).toBe(false);
    expect(again.body.pilotId).toBe(first.body.pilotId);
    expect((await env.config.readCampaign(s.tenant.account.accountId, s.tenant.campaign.campaignId))!.pilots).toHaveLength(1);
    expect(wf.started).toHaveLength(1);

    expect(await problemOf(createPilot(s.admin, 'retry-me', { ...b, spendCapCents: 4 * PRICE }, deps))).toMatchObject({ status: 422, fields: ['Idempotency-Key'] });
    expect((await problemOf(createPilot(s.analyst, 'k', b, deps))).status).toBe(403);
    expect(await problemOf(createPilot(s.admin, undefined, b, deps))).toMatchObject({ status: 400, fields: ['Idempotency-Key'] });
  });

  it('refuses with precise problems: 400 shape, 422 rules, 409 overlap', async () => {
    const s = await setup();
    const deps = apiDeps(recordingWorkflow().workflow);
    expect(await problemOf(createPilot(s.admin, 'a', { ...body(s), spendCapCents: 'lots' }, deps))).toMatchObject({ status: 400, fields: ['spendCapCents'] });
    expect(await problemOf(createPilot(s.admin, 'b', body(s, { spendCapCents: 0 }), deps))).toMatchObject({ status: 422, fields: ['spendCapCents'] });
    expect(await problemOf(createPilot(s.admin, 'c', body(s, { startsAt: new Date(Date.now() - MIN).toISOString() }), deps))).toMatchObject({
      status: 422,
      fields: ['startsAt'],
    });
    expect(await problemOf(createPilot(s.admin, 'd', body(s, { campaignId: 'no-such-campaign' }), deps))).toMatchObject({ status: 422, fields: ['campaignId'] });
    expect(await problemOf(createPilot(s.admin, 'e', body(s, { publisherIds: [s.pubA, 'nobody'] }), deps))).toMatchObject({ status: 422, fields: ['publisherIds.1'] });

    const ok = await createPilot(s.admin, 'f', body(s), deps);
    const overlap = await problemOf(createPilot(s.admin, 'g', body(s, { publisherIds: [s.pubB, s.pubA], startsAt: ok.body.endsAt.replace(/:\d\d\.\d+Z$/, ':00.000Z'), endsAt: new Date(Date.parse(ok.body.endsAt) + MIN).toISOString() }), deps));
    expect(overlap.status).toBe(409);
    expect(overlap.detail).toContain(ok.body.pilotId);
    // Right after the window: allowed.
    const next = await createPilot(s.admin, 'h', body(s, { startsAt: ok.body.endsAt, endsAt: new Date(Date.parse(ok.body.endsAt) + MIN).toISOString() }), deps);
    expect(next.created).toBe(true);
  });

  it('two overlapping pilots created at once with different keys: exactly one is created, the other is 409', async () => {
    const s = await setup();
    const deps = apiDeps(recordingWorkflow().workflow);
    const b = body(s);
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => createPilot(s.admin, `race-${i}`, b, deps)));
    const created = results.filter((r) => r.status === 'fulfilled');
    expect(created).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) expect(errorView((r as PromiseRejectedResult).reason as DomainError).status).toBe(409);
    expect((await env.config.readCampaign(s.tenant.account.accountId, s.tenant.campaign.campaignId))!.pilots).toHaveLength(1);
  });

  it('twenty concurrent creates with one Idempotency-Key and one body: one 201, nineteen 200 with the same pilot, never a 409 (rounds)', async () => {
    for (let round = 0; round < 4; round++) {
      const s = await setup();
      const wf = recordingWorkflow();
      const deps = apiDeps(wf.workflow);
      const b = body(s);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => createPilot(s.admin, `same-key-${round}`, b, deps)));
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [`${(r.reason as DomainError).kind ?? '?'} ${(r.reason as Error).message}`] : []));
      expect(refused, `round ${round}`).toEqual([]);
      const answers = results.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof createPilot>>>).value);
      expect(answers.filter((a) => a.created), `round ${round}`).toHaveLength(1);
      expect(new Set(answers.map((a) => a.body.pilotId)).size).toBe(1);
      const campaign = (await env.config.readCampaign(s.tenant.account.accountId, s.tenant.campaign.campaignId))!;
      expect(campaign.pilots).toHaveLength(1);
      // Every answer names the one workflow execution (Step Functions returns the same execution for the same name).
      expect(new Set(wf.started.map((x) => x.name))).toEqual(new Set([answers[0]!.body.pilotId]));
    }
  });
});

describe('stop', () => {
  it('closes the counter, marks the pilot stopped, stops the execution; again → 200; the enforcer then reports it', async () => {
    const s = await setup();
    const wf = recordingWorkflow();
    const deps = apiDeps(wf.workflow);
    const { body: v } = await createPilot(s.admin, 'stop-me', body(s), deps);
    expect((await problemOf(stopPilot(s.analyst, v.pilotId, deps))).status).toBe(403);

    const stopped = await stopPilot(s.admin, v.pilotId, deps);
    expect(stopped).toMatchObject({ state: 'stopped', closedReason: 'stopped' });
    expect(wf.stopped).toEqual([expect.stringContaining(v.pilotId)]);
    expect((await stopPilot(s.admin, v.pilotId, deps)).state).toBe('stopped');
    expect(wf.stopped).toHaveLength(1);
    expect((await problemOf(getPilotReport(s.analyst, v.pilotId, 'json', deps))).status).toBe(409);

    const summary = await enforceCaps(taskDeps(() => Date.now()), { finishGraceMs: 60 * MIN });
    expect(summary.reported).toBeGreaterThanOrEqual(1);
    const after = await getPilot(s.analyst, v.pilotId, deps);
    expect(after.state).toBe('stopped');
    expect(after.report).toMatchObject({ json: expect.stringContaining('report.json'), csv: expect.stringContaining('report.csv') });
    const report = JSON.parse(await getPilotReport(s.analyst, v.pilotId, 'json', deps));
    expect(report).toMatchObject({ pilotId: v.pilotId, state: 'stopped', closedReason: 'stopped', totals: { calls: 0, spendCents: 0 } });
    const mine = received.filter((n) => n.pilotId === v.pilotId);
    expect(mine.map((n) => n.event).sort()).toEqual(['pilot.closed', 'pilot.report_ready']);
    expect(mine.find((n) => n.event === 'pilot.closed')?.closedReason).toBe('stopped');
  });

  it('a pilot already closed by its window cannot be stopped (409)', async () => {
    const s = await setup();
    const deps = apiDeps(recordingWorkflow().workflow);
    const { body: v } = await createPilot(s.admin, 'late-stop', body(s), deps);
    await runPilotTask({ action: 'close', accountId: s.admin.accountId, pilotId: v.pilotId, reason: 'window' }, taskDeps(() => Date.now()));
    expect((await problemOf(stopPilot(s.admin, v.pilotId, deps))).status).toBe(409);
  });
});

describe('workflow tasks and enforce-caps', () => {
  it('activate → check → close → report through the task handler use case, notifications once each', async () => {
    const s = await setup();
    const deps = apiDeps(recordingWorkflow().workflow);
    const { body: v } = await createPilot(s.admin, 'tasks', body(s), deps);
    let now = Date.parse(v.startsAt);
    const t = taskDeps(() => now);
    const ids = { accountId: s.admin.accountId, pilotId: v.pilotId };
    expect(await runPilotTask({ action: 'activate', ...ids }, t)).toEqual({ state: 'active' });
    expect(await runPilotTask({ action: 'activate', ...ids }, t)).toEqual({ state: 'active' });
    expect(await runPilotTask({ action: 'check', ...ids }, t)).toEqual({ decision: 'continue', state: 'active', percentOfCap: 0 });
    now = Date.parse(v.endsAt);
    expect(await runPilotTask({ action: 'check', ...ids }, t)).toMatchObject({ decision: 'window' });
    expect(await runPilotTask({ action: 'close', ...ids, reason: 'window' }, t)).toEqual({ state: 'ended' });
    expect(await runPilotTask({ action: 'check', ...ids }, t)).toMatchObject({ decision: 'closed' });
    expect(await runPilotTask({ action: 'report', ...ids }, t)).toEqual({ state: 'closed' });
    expect(await runPilotTask({ action: 'report', ...ids }, t)).toEqual({ state: 'closed' });
    const events = received.filter((n) => n.pilotId === v.pilotId).map((n) => n.event);
    expect(events).toEqual(['pilot.activated', 'pilot.closed', 'pilot.report_ready']);
    expect(await new PilotRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb }).listLivePilots()).not.toContainEqual(ids);
    await expect(runPilotTask({ action: 'check', accountId: s.admin.accountId, pilotId: 'pilot-000000000000000000000000' }, t)).rejects.toThrow(/does not exist/);
  });

  it('enforce-caps run twice at once past the window: one close, one report, one notification of each kind', async () => {
    const s = await setup();
    const deps = apiDeps(recordingWorkflow().workflow);
    const { body: v } = await createPilot(s.admin, 'race-enforce', body(s), deps);
    const t = taskDeps(() => Date.parse(v.endsAt) + 121_000); // past the window and the 120 s settle time
    const [a, b] = await Promise.all([enforceCaps(t, { finishGraceMs: 0 }), enforceCaps(t, { finishGraceMs: 0 })]);
    expect([...a.closedPilotIds, ...b.closedPilotIds].filter((id) => id === v.pilotId)).toHaveLength(1);
    const after = await getPilot(s.analyst, v.pilotId, deps);
    expect(after).toMatchObject({ state: 'closed', closedReason: 'window' });
    expect(after.report).not.toBeNull();
    const events = received.filter((n) => n.pilotId === v.pilotId).map((n) => n.event).sort();
    // Activated (the enforcer caught the missed activation), closed and report_ready: once each.
    expect(events).toEqual(['pilot.activated', 'pilot.closed', 'pilot.report_ready']);
    const again = await enforceCaps(t, { finishGraceMs: 0 });
    expect(again.closedPilotIds).not.toContain(v.pilotId);
  });

  it('within the settle time the enforcer keeps the pilot open; the daily counter of the pilot zone is created', async () => {
    const s = await setup();
    const deps = apiDeps(recordingWorkflow().workflow);
    const { body: v } = await createPilot(s.admin, 'daily', body(s, { dailyCapCents: 2 * PRICE }), deps);
    const inside = Date.parse(v.startsAt) + MIN;
    await enforceCaps(taskDeps(() => inside));
    const repo = new PilotRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    const rec = (await repo.getPilot(s.admin.accountId, v.pilotId))!;
    expect(await repo.getDaySpent(s.admin.accountId, v.pilotId, currentPilotDay(rec, inside))).toBe(0);
    await enforceCaps(taskDeps(() => Date.parse(v.endsAt) + 60_000));
    expect((await repo.getCounter(s.admin.accountId, v.pilotId))!.open).toBe(true);
    expect((await getPilot(s.analyst, v.pilotId, deps)).todaySpentCents).toBe(0);
  });

  it('reconciles the counter with the ledger: a pilot charge the counter does not hold raises it, never lowers it', async () => {
    const s = await setup();
    const deps = apiDeps(recordingWorkflow().workflow);
    const { body: v } = await createPilot(s.admin, 'recon', body(s, { spendCapCents: 10 * PRICE }), deps);
    const effectiveAt = new Date(Date.parse(v.startsAt) + 1000).toISOString();
    await env.clients.dynamodb.send(
      new PutItemCommand({
        TableName: env.names.ledgerTable,
        Item: marshall({
          pk: `ACCT#${s.admin.accountId}`,
          sk: `${effectiveAt}#charge:twilio:CAreconcile`,
          entryId: 'charge:twilio:CAreconcile',
          type: 'charge',
          amountCents: PRICE,
          currency: 'USD',
          callId: 'twilio:CAreconcile',
          accountId: s.admin.accountId,
          publisherId: s.pubA,
          subSource: null,
          campaignId: s.tenant.campaign.campaignId,
          termsVersion: 1,
          effectiveAt,
          createdAt: effectiveAt,
          pilotId: v.pilotId,
        }),
      }),
    );
    const summary = await enforceCaps(taskDeps(() => Date.parse(v.startsAt) + MIN));
    expect(summary.reconciled).toBeGreaterThanOrEqual(1);
    const repo = new PilotRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    expect(await repo.getCounter(s.admin.accountId, v.pilotId)).toMatchObject({ spentCents: PRICE, billableCalls: 1, open: true });
    await enforceCaps(taskDeps(() => Date.parse(v.startsAt) + MIN));
    expect(await repo.getCounter(s.admin.accountId, v.pilotId)).toMatchObject({ spentCents: PRICE, billableCalls: 1 });
  });
});

describe('the ledger writer charges against a pilot created through the API', () => {
  it('calls in the window are charged until the cap, the rest over_cap; the enforcer closes on the cap and the report matches the ledger', async () => {
    const s = await setup();
    const deps = apiDeps(recordingWorkflow().workflow);
    const { body: v } = await createPilot(s.admin, 'writer', body(s, { spendCapCents: 3 * PRICE + PRICE - 1 }), deps);
    const startMs = Date.parse(v.startsAt) + 10_000;
    const calls = Array.from({ length: 8 }, (_, i) =>
      lifecycle({ accountId: s.admin.accountId, from: freshNumber(), to: s.tenant.numbers.billable.number, startMs: startMs + i * 1000, durationSec: 120 }),
    );
    const before = lifecycle({ accountId: s.admin.accountId, from: freshNumber(), to: s.tenant.numbers.billable.number, startMs: Date.parse(v.startsAt) - 5 * MIN, durationSec: 120 });
    let pending = [...calls, before].map((c) => records(c.events));
    for (let round = 0; pending.length > 0 && round < 20; round++) {
      const results = await Promise.all(pending.map(async (b) => ({ b, out: await processIngestBatch(b, env.writerDeps) })));
      pending = results.filter((r) => r.out.failedMessageIds.length > 0).map((r) => r.b.filter((m) => r.out.failedMessageIds.includes(m.messageId)));
    }
    expect(pending).toEqual([]);

    const view = await getPilot(s.analyst, v.pilotId, deps);
    expect(view).toMatchObject({ spentCents: 3 * PRICE, billableCalls: 3, nonBillableCalls: 5 });
    const summary = await enforceCaps(taskDeps(() => startMs + 20_000), { finishGraceMs: 0 });
    expect(summary.closedPilotIds).toContain(v.pilotId);
    const report = JSON.parse(await getPilotReport(s.analyst, v.pilotId, 'json', deps));
    expect(report).toMatchObject({ state: 'closed', closedReason: 'cap', ledgerMatchesCounter: true });
    expect(report.totals).toMatchObject({ calls: 8, billableCalls: 3, spendCents: 3 * PRICE, reasons: { over_cap: 5 } });
    const csv = await getPilotReport(s.analyst, v.pilotId, 'csv', deps);
    expect(csv.split('\r\n').at(-2)).toMatch(new RegExp(`^\\*,\\*,8,3,5,0,${3 * PRICE},0,0,${3 * PRICE},${PRICE},`));
  });
});
