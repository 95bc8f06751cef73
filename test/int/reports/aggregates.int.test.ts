/**
 * daily aggregates maintained from the main table's stream, on the whole local stack (DynamoDB
 * Local's stream read by infra/local/stream-poller.ts into the real functions/aggregator.ts).
 *
 * Two weeks of calls from two publishers (sub-sources, short and long calls, unknown numbers), then outcomes, a
 * credit and a QA verdict over HTTP. Over a period of 13 whole local days plus edges, the scorecard and the buffer
 * sweep computed from the aggregates (`basis=aggregates`, and `auto` for a period this long) equal those computed
 * call by call (`basis=calls`), figure for figure, while reading only the edges' calls. Every stream record of the
 * run delivered again to the aggregator changes nothing (redelivery is exact), and a new outcome moves the
 * aggregates within the stream's delay. Wiped, the aggregates come back whole from `npm run aggregates:rebuild`.
 */
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BatchWriteItemCommand, DescribeTableCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../../infra/local/emulators';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { TwilioSender, apiGet, apiKey, apiSend, newCallSid, newCaller, writeSeed, type CallSpec } from '../../support/e2e-harness';

const ACCOUNT = 'acct-agg';
const CAMPAIGN = 'camp-agg';
const ZONE = 'America/Chicago';
const DAY = 86_400_000;
const NUMBERS = { 'pub-one': '+15125550701', 'pub-one-b': '+15125550702', 'pub-two': '+15125550703' } as const;

let stack: LocalStack;
let twilio: TwilioSender;
let admin: string;
const played: { call: CallSpec; startMs: number; durationSec: number }[] = [];
let from = '';
let to = '';

function seed() {
  return {
    accounts: [
      {
        accountId: ACCOUNT,
        name: 'Aggregates',
        timeZone: ZONE,
        currency: 'USD',
        twilio: { accountSid: 'AC7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a', authTokenSecret: `twilio/${ACCOUNT}/auth-token` },
      },
    ],
    apiKeys: [{ accountId: ACCOUNT, role: 'admin', label: 'agg-admin' }],
    publishers: [
      { accountId: ACCOUNT, publisherId: 'pub-one', name: 'One', trafficMethods: ['paid_search', 'social'], subSources: ['search', 'social'] },
      { accountId: ACCOUNT, publisherId: 'pub-two', name: 'Two' },
    ],
    campaigns: [
      {
        accountId: ACCOUNT,
        campaignId: CAMPAIGN,
        name: 'Aggregates',
        vertical: 'home_services',
        geography: null,
        hours: null,
        terms: {
          priceCents: 2000,
          bufferSec: 60,
          durationBasis: 'total',
          qualification: null,
          duplicateWindowHours: 72,
          duplicateScope: 'campaign',
          priceBands: [{ fromSec: 120, priceCents: 3500 }],
          overrides: [],
        },
        economics: { avgCustomerMarginCents: 100_000, closeRate: 0.5, targetShare: 0.5 },
      },
    ],
    trackingNumbers: [
      { accountId: ACCOUNT, number: NUMBERS['pub-one'], campaignId: CAMPAIGN, publisherId: 'pub-one', subSource: 'search' },
      { accountId: ACCOUNT, number: NUMBERS['pub-one-b'], campaignId: CAMPAIGN, publisherId: 'pub-one', subSource: 'social' },
      { accountId: ACCOUNT, number: NUMBERS['pub-two'], campaignId: CAMPAIGN, publisherId: 'pub-two', subSource: null },
    ],
  };
}

const post = (path: string, json: unknown) => apiSend(stack, 'POST', path, admin, { json });

async function report(kind: 'sources' | 'threshold', query: string): Promise<any> {
  const res = await apiGet(stack, `/v1/reports/${kind}`, admin, { campaignId: CAMPAIGN, from, to, ...Object.fromEntries(new URLSearchParams(query)) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** A report without what legitimately differs between bases (when it ran, what it read). */
function figures(r: any): unknown {
  const { generatedAt: _g, basis: _b, ...rest } = r;
  return rest;
}

async function scanAggregates(): Promise<Record<string, unknown>[]> {
  const out = await stack.clients.dynamodb.send(new ScanCommand({ TableName: stack.names.aggregatesTable, ConsistentRead: true }));
  return (out.Items ?? []).map((i) => unmarshall(i)).sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
}

/** Every record of the main table's stream so far, from TRIM_HORIZON. */
async function allStreamRecords(): Promise<_Record[]> {
  const client = new DynamoDBStreamsClient({ endpoint: stack.endpoints.dynamodb, region: stack.env.AWS_REGION ?? 'us-east-1', credentials: LOCAL_CREDENTIALS });
  try {
    const table = await stack.clients.dynamodb.send(new DescribeTableCommand({ TableName: stack.names.mainTable }));
    const streamArn = table.Table!.LatestStreamArn!;
    const shards = (await client.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription?.Shards ?? [];
    const records: _Record[] = [];
    for (const shard of shards) {
      let iterator = (await client.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
      while (iterator !== undefined) {
        const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        records.push(...(out.Records ?? []));
        if ((out.Records ?? []).length === 0) break;
        iterator = out.NextShardIterator;
      }
    }
    return records;
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, seedFile: (await writeSeed(seed())).file });
  twilio = new TwilioSender(stack, ACCOUNT);
  admin = apiKey(stack, ACCOUNT, 'admin');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe('daily aggregates from the stream', () => {
  it('plays two weeks of calls, then outcomes, a credit and a QA verdict', async () => {
    const t0 = Math.floor((Date.now() - 15 * DAY) / 1000) * 1000;
    const numbers = [NUMBERS['pub-one'], NUMBERS['pub-one-b'], NUMBERS['pub-two'], '+15125550799' /* not a tracking number */];
    // 150 calls over 15 days, every 2.4 hours, durations 20..300 s.
    await Promise.all(
      Array.from({ length: 150 }, async (_, i) => {
        const call: CallSpec = { callSid: newCallSid(), from: newCaller(), to: numbers[i % 7 === 6 ? 3 : i % 3]! };
        const startMs = t0 + i * (DAY / 10) + (i % 5) * 61_000;
        const durationSec = 20 + ((i * 37) % 281);
        played.push({ call, startMs, durationSec });
        await twilio.deliver(twilio.ringing(call));
        await twilio.deliver(twilio.terminal(call, 'completed', startMs + durationSec * 1000, durationSec));
      }),
    );
    await stack.waitForIdle(90_000);

    const known = played.filter((p) => p.call.to !== '+15125550799');
    const outcomes = known
      .filter((_, i) => i % 4 === 0)
      .map((p, i) => ({
        externalId: `crm-agg-${i}`,
        callId: `twilio:${p.call.callSid}`,
        occurredAt: new Date(p.startMs + 3_600_000).toISOString(),
        status: i % 3 === 0 ? 'closed' : i % 3 === 1 ? 'booked' : 'lost',
        revenueCents: i % 3 === 0 ? 250_000 : 0,
        marginCents: i % 3 === 0 ? 60_000 : 0,
      }));
    expect((await post('/v1/outcomes', { outcomes })).status).toBe(200);

    // A full credit on a recent billable call, and a QA verdict.
    const billable = known.filter((p) => p.durationSec >= 60 && Date.now() - p.startMs < 10 * DAY);
    const credited = `twilio:${billable[0]!.call.callSid}`;
    const opened = await post(`/v1/calls/${encodeURIComponent(credited)}/disputes`, { reason: 'fraud', note: 'robocall' });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    const resolved = await post(`/v1/disputes/${encodeURIComponent(`dispute:${credited}`)}/resolve`, { outcome: 'accepted' });
    expect(resolved.status, JSON.stringify(resolved.body)).toBe(200);
    const qa = await post(`/v1/calls/${encodeURIComponent(`twilio:${billable[1]!.call.callSid}`)}/qa`, { verdict: 'junk' });
    expect(qa.status, JSON.stringify(qa.body)).toBeLessThan(300);
    await stack.waitForIdle(90_000);

    from = new Date(t0 - 3 * 3_600_000).toISOString();
    to = new Date(Date.now() + 60_000).toISOString();
  });

  it('the scorecard from the aggregates equals the scorecard from the calls, reading only the edges', async () => {
    for (const groupBy of ['publisher', 'subSource']) {
      const byCalls = await report('sources', `groupBy=${groupBy}&basis=calls`);
      const byAggregates = await report('sources', `groupBy=${groupBy}&basis=aggregates`);
      const auto = await report('sources', `groupBy=${groupBy}`);
      expect(byCalls.basis).toMatchObject({ aggregatedDays: null, aggregateItemsRead: 0 });
      expect(byCalls.basis.callsRead).toBe(played.filter((p) => p.call.to !== '+15125550799').length);
      expect(byAggregates.basis.aggregatedDays.count).toBeGreaterThanOrEqual(13);
      expect(byAggregates.basis.callsRead).toBeLessThan(byCalls.basis.callsRead / 4);
      expect(auto.basis).toEqual(byAggregates.basis);
      expect(figures(byAggregates)).toEqual(figures(byCalls));
      expect(figures(auto)).toEqual(figures(byCalls));
    }
    // The run planted what the aggregates must carry: a credit, a QA verdict, outcomes, more than one source.
    const full = await report('sources', 'basis=aggregates');
    const total = full.total;
    // Quality on the same rows: the near-buffer histogram (calls within ±30 s of the 60 s buffer: every known-number
    // call lasting 30..89 s) and each source's disclosure status.
    const near = played.filter((p) => p.call.to !== '+15125550799' && p.durationSec >= 30 && p.durationSec < 90).length;
    expect(near).toBeGreaterThan(5);
    expect(total.nearBufferHistogram.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(near);
    expect(Object.fromEntries(full.rows.map((r: any) => [r.publisherId, r.disclosure.status]))).toEqual({ 'pub-one': 'disclosed', 'pub-two': 'undeclared' });
    expect(total.creditsCents).toBeLessThan(0);
    expect(total.qaReviewed).toBe(1);
    expect(total.booked).toBeGreaterThan(10);
    expect(total.reasons.below_buffer).toBeGreaterThan(0);
  });

  it('the buffer sweep from the aggregates equals the sweep from the calls', async () => {
    const byCalls = await report('threshold', 'min=0&max=600&step=5&basis=calls');
    const byAggregates = await report('threshold', 'min=0&max=600&step=5&basis=aggregates');
    expect(byAggregates.basis.aggregatedDays.count).toBeGreaterThanOrEqual(13);
    expect(figures(byAggregates)).toEqual(figures(byCalls));
    expect(byCalls.totals.cells).toBeGreaterThan(20);
  });

  it('every stream record delivered again changes nothing; a new outcome moves the aggregates', async () => {
    const before = await scanAggregates();
    expect(before.some((i) => String(i.pk).startsWith('AGG#'))).toBe(true);
    const records = (await allStreamRecords()).filter((r) => String(r.dynamodb?.Keys?.pk?.S).startsWith('CALL#'));
    expect(records.length).toBeGreaterThan(played.length);
    // The stack set the function environment: the real handler, called again with the run's own records.
    const { handler } = await import('../../../functions/aggregator');
    for (let i = 0; i < records.length; i += 100) {
      const event = {
        Records: records.slice(i, i + 100).map((r) => ({
          eventID: r.eventID,
          eventName: r.eventName,
          eventSource: 'aws:dynamodb',
          dynamodb: { Keys: r.dynamodb!.Keys, NewImage: r.dynamodb!.NewImage, OldImage: r.dynamodb!.OldImage, SequenceNumber: r.dynamodb!.SequenceNumber },
        })),
      } as unknown as DynamoDBStreamEvent;
      expect(await handler(event)).toEqual({ batchItemFailures: [] });
    }
    expect(await scanAggregates()).toEqual(before);

    const late = played.find((p) => p.call.to === NUMBERS['pub-two'] && p.durationSec >= 60 && p.durationSec < 300)!;
    const bookedBefore = (await report('sources', 'basis=aggregates')).total.booked;
    const res = await post('/v1/outcomes', { outcomes: [{ externalId: 'crm-agg-late', callId: `twilio:${late.call.callSid}`, occurredAt: new Date(late.startMs + 60_000).toISOString(), status: 'booked', revenueCents: 0, marginCents: 0 }] });
    expect(res.status).toBe(200);
    await stack.waitForIdle(30_000);
    const after = await report('sources', 'basis=aggregates');
    expect(after.total.booked).toBe(bookedBefore + 1);
    expect(figures(after)).toEqual(figures(await report('sources', 'basis=calls')));
  });

  it('wiped, the aggregates come back whole from `npm run aggregates:rebuild` (calls stored before the stream)', async () => {
    const before = await scanAggregates();
    for (let i = 0; i < before.length; i += 25) {
      await stack.clients.dynamodb.send(
        new BatchWriteItemCommand({
          RequestItems: { [stack.names.aggregatesTable]: before.slice(i, i + 25).map((it) => ({ DeleteRequest: { Key: { pk: { S: String(it.pk) }, sk: { S: String(it.sk) } } } })) },
        }),
      );
    }
    expect(await scanAggregates()).toEqual([]);
    const byCalls = figures(await report('sources', 'basis=calls'));
    expect(figures(await report('sources', 'basis=aggregates'))).not.toEqual(byCalls);

    // The CLI, in its own process, pointed at this stack's tables the way it is in AWS (env), not through run.json.
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'infra/ops/rebuild-aggregates.ts', '--account', ACCOUNT, '--campaign', CAMPAIGN], {
      env: { ...process.env, ...stack.env },
      timeout: 120_000,
    });
    const known = played.filter((p) => p.call.to !== '+15125550799').length;
    expect(stdout).toContain(`${CAMPAIGN}: ${known} calls refreshed, ${known} changed their cells`);
    expect(figures(await report('sources', 'basis=aggregates'))).toEqual(byCalls);
    expect(figures(await report('threshold', 'min=0&max=600&step=5&basis=aggregates'))).toEqual(figures(await report('threshold', 'min=0&max=600&step=5&basis=calls')));
    // The same cells and contributions as before the wipe, but for what history leaves behind: counters back at 0
    // (a call that moved away) and the contributions' versions.
    const settled = (items: Record<string, unknown>[]) =>
      items
        .map((it) => Object.fromEntries(Object.entries(it).filter(([k, v]) => k !== 'v' && v !== 0)))
        .filter((it) => Object.keys(it).some((k) => !['pk', 'sk', 'day', 'pub', 'sub'].includes(k)));
    expect(settled(await scanAggregates())).toEqual(settled(before));
  }, 180_000);

  it('rebuilt from the stream alone in batched writes: a cell is written once per batch, not once per call', async () => {
    const before = await scanAggregates();
    for (let i = 0; i < before.length; i += 25) {
      await stack.clients.dynamodb.send(
        new BatchWriteItemCommand({
          RequestItems: { [stack.names.aggregatesTable]: before.slice(i, i + 25).map((it) => ({ DeleteRequest: { Key: { pk: { S: String(it.pk) }, sk: { S: String(it.sk) } } } })) },
        }),
      );
    }
    const records = (await allStreamRecords()).filter((r) => String(r.dynamodb?.Keys?.pk?.S).startsWith('CALL#'));
    const { aggregateCallChanges } = await import('../../../shared/app/reports/aggregates');
    const { aggregatorDeps } = await import('../../../shared/adapters/reports/deps');
    const { parseCall } = await import('../../../shared/adapters/calls/main-repo');
    const deps = aggregatorDeps({ mainTable: stack.names.mainTable, aggregatesTable: stack.names.aggregatesTable }, stack.clients.dynamodb);
    // Batches of 100 records, as the event source mapping sends them; the before-image is left out so every rated call
    // counts as changed (the contributions were wiped with the cells).
    let applied = 0;
    let items = 0;
    let batches = 0;
    for (let i = 0; i < records.length; i += 100) {
      const changes = records.slice(i, i + 100).map((r) => ({
        callId: r.dynamodb!.Keys!.pk!.S!.slice('CALL#'.length),
        sequenceNumber: r.dynamodb!.SequenceNumber!,
        before: null,
        after: r.dynamodb!.NewImage === undefined ? null : parseCall(r.dynamodb!.NewImage as never),
      }));
      const out = await aggregateCallChanges(changes, deps);
      expect(out.failedSequenceNumber).toBeNull();
      applied += out.applied;
      items += out.itemsWritten;
      batches += out.batches;
    }
    const known = played.filter((p) => p.call.to !== '+15125550799').length;
    expect(applied).toBe(known);
    // Per call one contribution plus its share of the cells it shares with the batch's other calls (card, tune
    // counters, one histogram minute each): 4 items a call unbatched. This traffic is thin (10 calls a day over 3
    // sources), so cells are rarely shared; busier traffic shares more.
    const perCall = items / applied;
    console.log(`aggregates rebuilt from ${records.length} stream records: ${applied} calls, ${batches} writes, ${items} items (${perCall.toFixed(2)} items per call; 4 unbatched)`);
    expect(perCall).toBeLessThan(3.5);
    expect(figures(await report('sources', 'basis=aggregates'))).toEqual(figures(await report('sources', 'basis=calls')));
  }, 180_000);
});
