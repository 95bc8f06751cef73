/**
 * The local stand-in for Lambda's DynamoDB Streams event source mapping (STREAMS in infra/resources.ts): reads the
 * table's stream from DynamoDB Local (client-dynamodb-streams), one reader per shard from TRIM_HORIZON, following
 * child shards as the emulator rolls them, and hands the consumer a real `DynamoDBStreamEvent` of up to batchSize
 * records, filtered by partition-key prefix as the mapping's filter criteria do in AWS.
 *
 * Failures as on AWS: a handler that throws gets the same batch again; one that reports `batchItemFailures` gets
 * the stream again from the earliest reported record; after `retryAttempts` retries the records are dropped with a
 * log line (AWS sends their metadata to the failure destination).
 */
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { FunctionDef, StreamDef } from '../resources';
import { invokeHandler } from './invoke';

export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse | void>;

export interface PolledStream {
  readonly name: string;
  readonly tableName: string;
  readonly def: StreamDef;
  readonly fn: FunctionDef;
  readonly handler: StreamHandler;
}

export interface StreamPollerOptions {
  readonly dynamodb: DynamoDBClient;
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly streams: readonly PolledStream[];
  /** Pause after an empty read of a shard (default 100 ms; Lambda polls each shard about 4 times a second). */
  readonly idleDelayMs?: number;
  readonly log?: (line: string) => void;
}

export interface StreamStats {
  records: number;
  delivered: number;
  batches: number;
  handlerErrors: number;
  dropped: number;
}

export interface StreamPollers {
  stats(): Record<string, StreamStats>;
  /** Resolves once every shard has been read to its end with no handler running, after this call was made. */
  waitForIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Lambda event shape of a record read with the SDK (dates become epoch seconds). */
function lambdaRecord(r: _Record, streamArn: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  return {
    eventID: r.eventID,
    eventName: r.eventName as DynamoDBRecord['eventName'],
    eventVersion: r.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: r.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      Keys: d.Keys as never,
      NewImage: d.NewImage as never,
      OldImage: d.OldImage as never,
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType as never,
      ApproximateCreationDateTime: d.ApproximateCreationDateTime === undefined ? undefined : Math.floor(new Date(d.ApproximateCreationDateTime).getTime() / 1000),
    },
  };
}

export async function startStreamPollers(opts: StreamPollerOptions): Promise<StreamPollers> {
  const log = opts.log ?? (() => {});
  const idleDelayMs = opts.idleDelayMs ?? 100;
  const client = new DynamoDBStreamsClient({ endpoint: opts.endpoint, region: opts.region, credentials: opts.credentials });
  const stats: Record<string, StreamStats> = {};
  let stopped = false;
  let inFlight = 0;
  /** Open shards → when their newest read that came back empty (with nothing left to deliver) started. */
  const emptySince = new Map<string, number>();
  const idleWaiters: { since: number; resolve: () => void }[] = [];
  const loops: Promise<void>[] = [];

  // A waiter registered at T is released once every open shard has read to its end in a read begun at or after T.
  const checkIdle = () => {
    if (inFlight > 0) return;
    const oldest = Math.min(...emptySince.values());
    for (let i = idleWaiters.length - 1; i >= 0; i--) {
      if (idleWaiters[i]!.since <= oldest) idleWaiters.splice(i, 1)[0]!.resolve();
    }
  };

  async function deliver(s: PolledStream, streamArn: string, records: _Record[]): Promise<string | null> {
    const wanted = records.filter((r) => (r.dynamodb?.Keys?.pk?.S ?? '').startsWith(s.def.keyPrefix));
    if (wanted.length === 0) return null;
    const st = stats[s.name]!;
    for (let attempt = 0; ; attempt++) {
      inFlight += 1;
      try {
        st.batches += 1;
        const out = await invokeHandler(s.fn, s.handler, { Records: wanted.map((r) => lambdaRecord(r, streamArn)) });
        const failed = out?.batchItemFailures?.[0]?.itemIdentifier;
        if (failed === undefined) {
          st.delivered += wanted.length;
          return null;
        }
        // Retry from the earliest failed record (the ones before it are done).
        const at = wanted.findIndex((r) => r.dynamodb?.SequenceNumber === failed);
        if (at < 0) throw new Error(`batchItemFailures names ${failed}, not in the batch`);
        st.delivered += at;
        wanted.splice(0, at);
      } catch (err) {
        st.handlerErrors += 1;
        log(`stream ${s.name}: handler error (${(err as Error).message}); retrying the batch`);
      } finally {
        inFlight -= 1;
      }
      if (attempt >= s.def.retryAttempts) {
        st.dropped += wanted.length;
        log(`stream ${s.name}: ${wanted.length} record(s) dropped after ${s.def.retryAttempts} retries`);
        return null;
      }
      await sleep(Math.min(1000, 50 * 2 ** attempt));
    }
  }

  async function readShard(s: PolledStream, streamArn: string, shard: Shard, seen: Set<string>, onChildren: () => void): Promise<void> {
    const shardId = shard.ShardId!;
    emptySince.set(shardId, -1);
    let iterator = (await client.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    let pending: _Record[] = [];
    while (!stopped && iterator !== undefined) {
      const readStartedAt = performance.now();
      const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: s.def.batchSize }));
      const got = out.Records ?? [];
      stats[s.name]!.records += got.length;
      pending.push(...got);
      iterator = out.NextShardIterator;
      if (pending.length > 0 && (got.length === 0 || pending.length >= s.def.batchSize)) {
        await deliver(s, streamArn, pending);
        pending = [];
        continue;
      }
      if (got.length === 0) {
        emptySince.set(shardId, readStartedAt);
        checkIdle();
        await sleep(idleDelayMs);
      }
    }
    if (pending.length > 0 && !stopped) await deliver(s, streamArn, pending);
    emptySince.delete(shardId);
    seen.add(shardId);
    // A closed shard: its children carry on.
    if (!stopped) onChildren();
    checkIdle();
  }

  for (const s of opts.streams) {
    stats[s.name] = { records: 0, delivered: 0, batches: 0, handlerErrors: 0, dropped: 0 };
    const table = await opts.dynamodb.send(new DescribeTableCommand({ TableName: s.tableName }));
    const streamArn = table.Table?.LatestStreamArn;
    if (streamArn === undefined) throw new Error(`table ${s.tableName} has no stream`);
    const started = new Set<string>();
    const done = new Set<string>();
    const discover = () => {
      loops.push(
        (async () => {
          const desc = await client.send(new DescribeStreamCommand({ StreamArn: streamArn }));
          for (const shard of desc.StreamDescription?.Shards ?? []) {
            const id = shard.ShardId!;
            if (started.has(id)) continue;
            // Children wait for their parent (records of one key stay in order).
            if (shard.ParentShardId !== undefined && started.has(shard.ParentShardId) && !done.has(shard.ParentShardId)) continue;
            started.add(id);
            loops.push(readShard(s, streamArn, shard, done, discover).catch((err: Error) => log(`stream ${s.name}: shard ${id} reader stopped: ${err.message}`)));
          }
        })().catch((err: Error) => log(`stream ${s.name}: describe failed: ${err.message}`)),
      );
    };
    discover();
    // New shards appear over time (DynamoDB rolls them); look for them now and then.
    const timer = setInterval(() => {
      if (!stopped) discover();
    }, 5000);
    loops.push(
      (async () => {
        while (!stopped) await sleep(200);
        clearInterval(timer);
      })(),
    );
  }

  return {
    stats: () => structuredClone(stats),
    waitForIdle(timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`streams not idle after ${timeoutMs} ms`)), timeoutMs);
        idleWaiters.push({
          since: performance.now(),
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    async stop() {
      stopped = true;
      await Promise.allSettled(loops);
      client.destroy();
    },
  };
}
