/**
 * QA sampling and verdicts against DynamoDB Local and the S3 emulator (shared/app/qa/qa.ts, qa-repo.ts): calls
 * rated by processIngestBatch, some with a stored recording, are sampled from the campaign index through the route
 * table — the same seed gives the same sample, another seed another one, recordings come with presigned links — and
 * verdicts are stored on the call (the call detail, the scorecard's QA counts) and in their history; openDispute
 * opens a dispute through the dispute use case (a second one is refused with 409, the verdict kept), and an analyst
 * key may record a verdict but not open a dispute.
 */
import { rejection, PROBLEM } from '../../support/problems';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignCallsReader } from '../../../shared/adapters/reports/campaign-calls';
import { QaRepo } from '../../../shared/adapters/qa/qa-repo';
import { ledgerRouteDeps } from '../../../shared/adapters/ledger/deps';
import type { RouteResponse } from '../../../shared/app/ledger/ledger-routes';
import type { ApiKeyRecord } from '../../../shared/app/kernel/ports';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { QA_ROUTES, recordQaVerdict, type QaDeps, type QaSampleResponse, type QaVerdictResponse } from '../../../shared/app/qa/qa';
import { qaDeps } from '../../../shared/adapters/qa/deps';
import { getCallDetail } from '../../../shared/app/calls/read-api';
import { reportEngine } from '../../../shared/app/reports/report-engine';
import { createTenant, freshNumber, lifecycle, records, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';
import { checkedRoute } from '../../contract/hooks';

const MIN = 60_000;
const HOUR = 60 * MIN;
let env: CoreEnv;
let deps: QaDeps;
let t: Tenant;
let admin: ApiKeyRecord;
let analyst: ApiKeyRecord;
let from: string;
let to: string;
const calls: { callId: string; durationSec: number; publisher: 'a' | 'b' }[] = [];
const withRecording = new Set<string>();

beforeAll(async () => {
  env = await startCoreEnv();
  const names = env.names;
  const disputes = ledgerRouteDeps(
    { mainTable: names.mainTable, ledgerTable: names.ledgerTable, callerHashKeyRef: 'env:UNUSED_IN_TESTS' },
    { client: env.clients.dynamodb, secrets: { resolve: async () => env.callerHashKey } },
  );
  deps = qaDeps(names, disputes, { client: env.clients.dynamodb, s3: env.clients.s3 });

  t = await createTenant(env.config, { priceCents: 4500, bufferSec: 90, duplicateWindowHours: 0 });
  admin = { accountId: t.account.accountId, role: 'admin', label: 'ops' };
  analyst = { accountId: t.account.accountId, role: 'analyst', label: 'reviewer-1' };
  // 48 calls over the last ~10 hours, two publishers; every fourth one just above the buffer (near-buffer: flagged).
  const base = Math.floor(Date.now() / 1000) * 1000 - 10 * HOUR;
  from = new Date(base - MIN).toISOString();
  to = new Date(base + 2 * HOUR).toISOString();
  for (let i = 0; i < 48; i++) {
    const publisher = i % 2 === 0 ? 'a' : 'b';
    const durationSec = i % 4 === 0 ? 95 : 180;
    const number = publisher === 'a' ? t.numbers.billable.number : t.numbers.second.number;
    const call = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: number, startMs: base + i * MIN, durationSec });
    // A verified caller (STIR/SHAKEN A), so the only quality signal is near_buffer_hangup on the 95 s calls.
    const events = call.events.map((e) => (e.kind === 'call.status' ? { ...e, stirVerstat: 'TN-Validation-Passed-A' } : e));
    expect((await processIngestBatch(records(events), env.writerDeps)).failedMessageIds).toEqual([]);
    calls.push({ callId: call.callId, durationSec, publisher });
    if (i % 3 === 0) {
      // The recording fetcher's write, done directly: presigning needs the key, not the object.
      await env.calls.setRecording(call.callId, {
        recordingId: `RE${i}`,
        key: `recordings/${t.account.accountId}/${call.callId}.wav`,
        sha256: 'ab'.repeat(32),
        bytes: 1024,
        durationSec: durationSec - 5,
        contentType: 'audio/wav',
        storedAt: new Date().toISOString(),
      });
      withRecording.add(call.callId);
    }
  }
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

async function send(principal: ApiKeyRecord, method: 'GET' | 'POST', path: string, opts: { body?: unknown; query?: Record<string, string>; params?: Record<string, string> } = {}): Promise<RouteResponse> {
  const route = checkedRoute(QA_ROUTES.find((r) => r.method === method && r.path === path)!);
  return route.handle(
    principal,
    { pathParameters: opts.params ?? {}, query: opts.query ?? {}, body: opts.body === undefined ? '' : JSON.stringify(opts.body), contentType: 'application/json' },
    deps,
  );
}

async function sample(query: Record<string, string>): Promise<QaSampleResponse> {
  const res = await send(analyst, 'GET', '/v1/qa/sample', { query: { campaignId: t.campaign.campaignId, from, to, ...query } });
  expect(res.status).toBe(200);
  return res.body as QaSampleResponse;
}

async function verdict(principal: ApiKeyRecord, callId: string, body: object): Promise<QaVerdictResponse> {
  const res = await send(principal, 'POST', '/v1/calls/{callId}/qa', { params: { callId }, body });
  expect(res.status).toBe(200);
  return res.body as QaVerdictResponse;
}

const sampledIds = (s: QaSampleResponse) => s.sources.map((x) => [x.publisherId, x.sample.map((c) => c.callId)]);

describe('GET /v1/qa/sample', () => {
  it('samples per source, reproducibly for a seed, differently for another seed, flagged calls first', async () => {
    const a = await sample({ perSource: '6', seed: 'audit-1' });
    const again = await sample({ perSource: '6', seed: 'audit-1' });
    const other = await sample({ perSource: '6', seed: 'audit-2' });
    expect(sampledIds(again)).toEqual(sampledIds(a));
    expect(sampledIds(other)).not.toEqual(sampledIds(a));

    expect(a.sources.map((s) => [s.publisherId, s.subSource, s.calls, s.flagged])).toEqual([
      [t.numbers.billable.publisherId, 'search', 24, 12],
      [t.numbers.second.publisherId, null, 24, 0],
    ]);
    const known = new Map(calls.map((c) => [c.callId, c]));
    for (const s of a.sources) {
      expect(s.sample).toHaveLength(6);
      for (const c of s.sample) {
        expect(known.has(c.callId)).toBe(true);
        expect(c.publisherId).toBe(s.publisherId);
        // Flagged exactly when near the buffer: the rating's near_buffer_hangup signal, and the sampler's own rule.
        const near = known.get(c.callId)!.durationSec === 95;
        expect(c.flags).toEqual(near ? ['signal', 'near_buffer'] : []);
        expect(c.signals).toEqual(near ? ['near_buffer_hangup'] : []);
      }
    }
    // Publisher a: 12 of its 24 calls are near-buffer; at least half the sample is flagged.
    expect(a.sources[0]!.sample.filter((c) => c.flags.length > 0).length).toBeGreaterThanOrEqual(3);
    // No caller numbers anywhere in the answer.
    expect(JSON.stringify(a)).not.toMatch(/\+1\d{10}/);
  });

  it('derives the seed from the query when none is given, and returns it', async () => {
    const a = await sample({ perSource: '4' });
    expect(a.seed).toMatch(/^q-[0-9a-f]{16}$/);
    expect(sampledIds(await sample({ perSource: '4', seed: a.seed }))).toEqual(sampledIds(a));
  });

  it('links recordings with presigned URLs valid 15 minutes, and null without one', async () => {
    const a = await sample({ perSource: '24', seed: 'all' });
    const items = a.sources.flatMap((s) => s.sample);
    expect(items).toHaveLength(48);
    for (const c of items) {
      if (withRecording.has(c.callId)) {
        expect(c.recording!.url).toContain(c.callId.split(':')[1]!);
        expect(c.recording!.url).toMatch(/X-Amz-Expires=900/);
        expect(Date.parse(c.recording!.expiresAt) - Date.parse(a.generatedAt)).toBe(900_000);
      } else expect(c.recording).toBeNull();
    }
  });

  it('answers 400 for a bad query and 404 for another campaign', async () => {
    expect(await rejection(send(analyst, 'GET', '/v1/qa/sample', { query: { campaignId: t.campaign.campaignId, perSource: '0' } }))).toMatchObject({ status: 400 });
    expect(await rejection(send(analyst, 'GET', '/v1/qa/sample', { query: { campaignId: 'no-such-campaign' } }))).toMatchObject({ status: 404 });
  });
});

describe('POST /v1/calls/{callId}/qa', () => {
  it('stores an analyst’s verdict on the call, in its history, on the call detail, the sample and the scorecard', async () => {
    const target = calls.find((c) => c.publisher === 'b')!.callId;
    const res = await verdict(analyst, target, { verdict: 'wrong_number', note: 'caller wanted a pharmacy' });
    expect(res).toMatchObject({ callId: target, qa: { verdict: 'wrong_number', note: 'caller wanted a pharmacy', reviewer: 'reviewer-1 (analyst)' }, dispute: null });

    const detail = await getCallDetail(analyst, target, { calls: env.calls, media: deps.media });
    expect(detail.qa).toEqual(res.qa);
    expect(await new QaRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb }).history(t.account.accountId, target)).toEqual([res.qa]);

    const inSample = (await sample({ perSource: '24', seed: 'all' })).sources.flatMap((s) => s.sample).find((c) => c.callId === target)!;
    expect(inSample.qa).toEqual({ verdict: 'wrong_number', reviewedAt: res.qa.reviewedAt, reviewer: 'reviewer-1 (analyst)' });

    const engine = reportEngine({ config: env.config, calls: new CampaignCallsReader({ mainTable: env.names.mainTable, client: env.clients.dynamodb }), now: () => new Date() });
    const card = await engine.sources({ accountId: t.account.accountId, campaignId: t.campaign.campaignId, from, to, groupBy: 'publisher' });
    const rows = (card.json as { rows: { publisherId: string; qaReviewed: number; qaVerdicts: Record<string, number> }[] }).rows;
    const rowB = rows.find((r) => r.publisherId === t.numbers.second.publisherId)!;
    expect(rowB.qaReviewed).toBe(1);
    expect(rowB.qaVerdicts.wrong_number).toBe(1);
    expect(card.csv.split('\r\n')[0]).toContain('qaReviewed');
  });

  it('a later verdict supersedes on the call, both kept in the history', async () => {
    const target = calls.filter((c) => c.publisher === 'b')[1]!.callId;
    const at = (ms: number) => ({ ...deps, now: () => new Date(ms) });
    const first = await recordQaVerdict(analyst, target, { verdict: 'junk', openDispute: false }, at(Date.now() - 1000));
    const second = await recordQaVerdict(admin, target, { verdict: 'good', openDispute: false }, at(Date.now()));
    expect(second.qa).toMatchObject({ verdict: 'good', note: null, reviewer: 'ops (admin)' });
    expect((await env.calls.getCall(target))!.qa).toEqual(second.qa);
    expect(await new QaRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb }).history(t.account.accountId, target)).toEqual([first.qa, second.qa]);
  });

  it('opens a dispute for an admin with the verdict’s reason; a second dispute is refused with 409, the verdict kept', async () => {
    const target = calls.find((c) => c.publisher === 'a' && c.durationSec === 180)!.callId;
    const opened = await verdict(admin, target, { verdict: 'fraud', note: 'same script as yesterday', openDispute: true });
    expect(opened.dispute).toMatchObject({ result: 'opened', problem: null, dispute: { callId: target, reason: 'fraud', status: 'open', note: 'same script as yesterday' } });

    const again = await verdict(admin, target, { verdict: 'incentivized', openDispute: true });
    expect(again.dispute).toMatchObject({ result: 'refused', dispute: null, problem: { status: 409 } });
    expect((await env.calls.getCall(target))!.qa?.verdict).toBe('incentivized');
  });

  it('reports a dispute the rules refuse (a call that was not billed) with its problem', async () => {
    // A below-buffer call: not billed, so nothing to dispute.
    const short = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: t.numbers.billable.number, startMs: Date.parse(from) + 2 * MIN + 30_000, durationSec: 20 });
    expect((await processIngestBatch(records(short.events), env.writerDeps)).failedMessageIds).toEqual([]);
    const res = await verdict(admin, short.callId, { verdict: 'repeat', openDispute: true });
    expect(res.qa.verdict).toBe('repeat');
    expect(res.dispute).toMatchObject({ result: 'refused', dispute: null, problem: { status: 422 } });
  });

  it('refuses an analyst opening a dispute (403) and writes nothing; 404 for an unknown call and for another account\'s', async () => {
    const target = calls.filter((c) => c.publisher === 'a')[3]!.callId;
    expect(await rejection(send(analyst, 'POST', '/v1/calls/{callId}/qa', { params: { callId: target }, body: { verdict: 'fraud', openDispute: true } }))).toMatchObject({ status: 403 });
    expect((await env.calls.getCall(target))!.qa ?? null).toBeNull();
    expect(await rejection(send(admin, 'POST', '/v1/calls/{callId}/qa', { params: { callId: 'twilio:CAnope' }, body: { verdict: 'good' } }))).toMatchObject({ status: 404 });
    const stranger: ApiKeyRecord = { accountId: 'acct-other', role: 'admin', label: 'x' };
    expect(await rejection(send(stranger, 'POST', '/v1/calls/{callId}/qa', { params: { callId: target }, body: { verdict: 'good' } }))).toMatchObject({ status: 404, detail: 'No such call.' });
    expect(await rejection(send(admin, 'POST', '/v1/calls/{callId}/qa', { params: { callId: target }, body: { verdict: 'great' } }))).toMatchObject(PROBLEM.Problem);
  });
});
