/**
 * The floor: the rating transaction alone, as fast as DynamoDB Local commits it.
 *
 * The items are the writer's own: each completed webhook is parsed with the domain parser and rated with the
 * domain rating exactly as shared/app/rating/process-ingest-batch.ts does, and the transaction is built and sent by
 * the production adapter (`CallRepo.commitRating`: call item update + charge put + duplicate marker put, same
 * conditions, same attribute encoding). Only SQS, S3, the handler and the HTTP path are left out.
 */
import { DynamoDBClient, GetItemCommand, type AttributeValue, type ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { Agent } from 'node:http';
import { itemSizeBytes } from '../shared/adapters/platform/dynamodb/capacity';
import { CallRepo, mainKeys } from '../shared/adapters/calls/main-repo';
import { normaliseNumber, callerHash } from '../shared/domain/calls/caller';
import { callTimes } from '../shared/domain/calls/fold';
import { chargeEntry, ledgerSortKey } from '../shared/domain/ledger/entries';
import { callFactsFrom, duplicateWindowMs, rateCall } from '../shared/domain/rating/rules';
import { campaignFromSeed } from '../shared/domain/catalog/config';
import { parseForm, parseTwilioEvent } from '../shared/domain/calls/providers/twilio';
import type { CallStatusEvent } from '../shared/domain/calls/events';
import type { Seed } from '../shared/domain/catalog/seed';
import type { WebhookRequest } from '../events/traffic';
import { settleWithLimit } from '../shared/app/kernel/concurrency';
import { SdkTimer } from './instrument';

type CommitArgs = Parameters<CallRepo['commitRating']>[0];

function statusEvent(req: WebhookRequest, receivedAt: string): CallStatusEvent {
  const event = parseTwilioEvent(parseForm(req.body), { accountId: req.meta.accountId, receivedAt });
  if (event.kind !== 'call.status') throw new Error('expected a call status webhook');
  return event;
}

/** What the writer would pass to commitRating for each completed webhook (all of them billable). */
export function commitArgs(completed: readonly WebhookRequest[], seed: Seed, hashKey: string): CommitArgs[] {
  const now = new Date().toISOString();
  return completed.map((req) => {
    const terminal = statusEvent(req, now);
    const times = callTimes(terminal);
    const assignment = seed.trackingNumbers.find((n) => n.number === normaliseNumber(terminal.to) && n.accountId === terminal.accountId) ?? null;
    const campaign = seed.campaigns.find((c) => c.accountId === terminal.accountId && c.campaignId === assignment?.campaignId) ?? null;
    if (assignment === null || campaign === null) throw new Error('bench call to an unassigned number');
    const callerE164 = normaliseNumber(terminal.from);
    const hash = callerE164 === null ? null : callerHash(hashKey, callerE164);
    const config = campaignFromSeed(campaign);
    const decision = rateCall({
      call: callFactsFrom(terminal),
      startedAtMs: times.startedAtMs,
      assignment,
      campaign: config,
      termsVersions: config.termsVersions,
      priorBilled: null,
      blocked: null,
    });
    if (!decision.billable) throw new Error('bench call is not billable');
    const ratedAt = new Date().toISOString();
    const windowMs = duplicateWindowMs(campaign.terms);
    return {
      callId: terminal.callId,
      accountId: terminal.accountId,
      events: [terminal],
      rated: { decision, ratedAt, startedAt: times.startedAt, endedAt: times.endedAt, durationSec: times.durationSec, callerHash: hash, callerE164 },
      entry: chargeEntry({ accountId: terminal.accountId, callId: terminal.callId, decision, startedAt: times.startedAt, createdAt: ratedAt }),
      // A first-time caller's duplicate window: created by this transaction (duplicate-window.ts).
      window:
        hash !== null && windowMs > 0
          ? {
              key: { scope: campaign.campaignId, callerHash: hash },
              expect: { kind: 'absent' as const },
              next: { version: 1, calls: [{ callId: terminal.callId, startMs: times.startedAtMs, windowMs, priceCents: decision.amountCents, billed: true, charges: 1 }], horizonMs: null },
            }
          : null,
    };
  });
}

/** Write units of the rating transactions, split by table and index (ReturnConsumedCapacity=INDEXES). */
export interface CapacityBreakdown {
  /** Per table name: units on the table itself and on its global secondary indexes, per transaction. */
  readonly perTransaction: Readonly<Record<string, { readonly table: number; readonly indexes: number }>>;
  readonly totalPerTransaction: number;
}

/**
 * Asks DynamoDB for the per-index breakdown instead of the adapter's TOTAL (the total is the same number; the
 * adapter only sums CapacityUnits) and accumulates it.
 */
function capacityRecorder(client: DynamoDBClient): () => CapacityBreakdown {
  const tables = new Map<string, { table: number; indexes: number }>();
  let transactions = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'INDEXES';
      const out = await next(args);
      transactions += 1;
      for (const c of ((out.output as { ConsumedCapacity?: ConsumedCapacity[] }).ConsumedCapacity ?? [])) {
        const t = tables.get(c.TableName ?? '?') ?? { table: 0, indexes: 0 };
        t.table += c.Table?.CapacityUnits ?? 0;
        t.indexes += Object.values(c.GlobalSecondaryIndexes ?? {}).reduce((s, i) => s + (i.CapacityUnits ?? 0), 0);
        tables.set(c.TableName ?? '?', t);
      }
      return out;
    },
    { step: 'initialize', name: 'bench-capacity-indexes' },
  );
  return () => {
    const n = Math.max(1, transactions);
    const perTransaction = Object.fromEntries([...tables].map(([name, t]) => [name, { table: t.table / n, indexes: t.indexes / n }]));
    return { perTransaction, totalPerTransaction: Object.values(perTransaction).reduce((s, t) => s + t.table + t.indexes, 0) };
  };
}

export interface RawFloorResult {
  readonly concurrency: number;
  readonly transactions: number;
  readonly elapsedMs: number;
  readonly txPerSec: number;
  readonly meanInFlight: number;
  readonly latencyMeanMs: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly capacity: CapacityBreakdown;
  /** Stored sizes of one call's three items after its transaction (bytes, approximate). */
  readonly sampleItemBytes: {
    /** The call item holding only the ringing slot, before its transaction. */
    readonly callAfterRinging: number;
    readonly call: number;
    readonly charge: number;
    readonly marker: number;
    /** The call item's largest attributes (name + value bytes): what pushes it past a 1 KB write unit. */
    readonly callLargestAttributes: readonly { readonly attribute: string; readonly bytes: number }[];
  };
}

async function getItem(client: DynamoDBClient, table: string, key: { pk: string; sk: string }): Promise<Record<string, AttributeValue>> {
  const out = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }));
  return out.Item ?? {};
}

async function sampleSizes(
  client: DynamoDBClient,
  setup: RawFloorSetup,
  a: CommitArgs,
  callAfterRinging: number,
): Promise<RawFloorResult['sampleItemBytes']> {
  const get = (table: string, key: { pk: string; sk: string }) => getItem(client, table, key);
  const call = await get(setup.mainTable, mainKeys.call(a.callId));
  return {
    callAfterRinging,
    call: itemSizeBytes(call),
    callLargestAttributes: Object.entries(call)
      .map(([attribute, v]) => ({ attribute, bytes: itemSizeBytes({ [attribute]: v }) }))
      .sort((x, y) => y.bytes - x.bytes)
      .slice(0, 6),
    charge: a.entry === null ? 0 : itemSizeBytes(await get(setup.ledgerTable, { pk: `ACCT#${a.accountId}`, sk: ledgerSortKey(a.entry) })),
    marker: a.window === null ? 0 : itemSizeBytes(await get(setup.mainTable, mainKeys.duplicate(a.accountId, a.window.key.scope, a.window.key.callerHash))),
  };
}

export interface RawFloorSetup {
  readonly endpoint: string;
  readonly region: string;
  readonly mainTable: string;
  readonly ledgerTable: string;
  readonly seed: Seed;
  readonly hashKey: string;
}

/**
 * Merges the ringing slots first (untimed: the e2e drain also finds the call items already holding them), then
 * commits every call's rating transaction with `concurrency` in flight and times that part alone.
 */
export async function rawFloor(setup: RawFloorSetup, ringing: readonly WebhookRequest[], completed: readonly WebhookRequest[], concurrency: number): Promise<RawFloorResult> {
  // Its own client and sockets, so the pool never caps the concurrency asked for.
  const client = new DynamoDBClient({
    endpoint: setup.endpoint,
    region: setup.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: concurrency * 2 }) },
  });
  const repo = new CallRepo({ mainTable: setup.mainTable, ledgerTable: setup.ledgerTable, client });
  try {
    const receivedAt = new Date().toISOString();
    const merges = await settleWithLimit(ringing, 32, (req) => {
      const e = statusEvent(req, receivedAt);
      return repo.mergeEvents(e.callId, e.accountId, [e]);
    });
    const mergeFailed = merges.find((r) => r.status === 'rejected');
    if (mergeFailed) throw (mergeFailed as PromiseRejectedResult).reason;

    const args = commitArgs(completed, setup.seed, setup.hashKey);
    const callAfterRinging = itemSizeBytes(await getItem(client, setup.mainTable, mainKeys.call(args[0]!.callId)));
    const timer = new SdkTimer();
    timer.attach(client, 'raw');
    const capacity = capacityRecorder(client);
    const outcomes: Record<string, number> = {};
    const t0 = performance.now();
    const results = await settleWithLimit(args, concurrency, async (a) => {
      const { outcome } = await repo.commitRating(a);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    });
    const elapsedMs = performance.now() - t0;
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) throw new Error(`${failed.length} raw transactions failed: ${String((failed[0] as PromiseRejectedResult).reason)}`);
    const tx = timer.summary().TransactWriteItems;
    return {
      capacity: capacity(),
      sampleItemBytes: await sampleSizes(client, setup, args[0]!, callAfterRinging),
      concurrency,
      transactions: args.length,
      elapsedMs: Math.round(elapsedMs),
      txPerSec: Math.round((args.length / elapsedMs) * 1000),
      meanInFlight: Math.round(timer.meanInFlight() * 10) / 10,
      latencyMeanMs: tx?.meanMs ?? 0,
      outcomes,
    };
  } finally {
    client.destroy();
  }
}
