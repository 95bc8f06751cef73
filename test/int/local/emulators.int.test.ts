import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, DescribeTimeToLiveCommand, ListTablesCommand, PutItemCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES, TABLES, physicalName } from '../../../infra/resources';
import { ensureDynamoDbLocalJar, localClients, startEmulators, REPO_ROOT, type Emulators, type LocalClients } from '../../../infra/local/emulators';
import { createResources, type ResourceNames } from '../../../infra/local/resources';

/** Pids of DynamoDB Local JVMs listening on `port` (the command line names it). */
function jvmsOnPort(port: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', `DynamoDBLocal.jar.* port=${port}$`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return predicate();
}

describe('startEmulators', () => {
  let emulators: Emulators;
  let clients: LocalClients;
  let names: ResourceNames;
  const prefix = `t${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = localClients(emulators.endpoints);
    names = await createResources(emulators.endpoints, prefix);
  });
  afterAll(async () => {
    await emulators?.stop();
  });

  it('serves DynamoDB with transactions, and SQS and S3 on loopback', async () => {
    expect(emulators.endpoints.dynamodb).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulators.endpoints.sqs).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulators.env).toMatchObject({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: emulators.endpoints.dynamodb });

    // TransactWriteItems is why DynamoDB Local (not dynalite) is used.
    const pk = `T#${randomUUID()}`;
    await clients.dynamodb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: names.ledgerTable, Item: { pk: { S: pk }, sk: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
          { Put: { TableName: names.ledgerTable, Item: { pk: { S: pk }, sk: { S: 'b' } } } },
        ],
      }),
    );
    await expect(
      clients.dynamodb.send(
        new PutItemCommand({ TableName: names.ledgerTable, Item: { pk: { S: pk }, sk: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(pk)' }),
      ),
    ).rejects.toThrow(/conditional/i);

    await clients.sqs.send(new SendMessageCommand({ QueueUrl: names.ingestQueueUrl, MessageBody: 'hello' }));
    const received = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: names.ingestQueueUrl, WaitTimeSeconds: 1 }));
    expect(received.Messages?.map((m) => m.Body)).toEqual(['hello']);

    await clients.s3.send(new PutObjectCommand({ Bucket: names.archiveBucket, Key: 'k', Body: 'body' }));
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: names.archiveBucket, Key: 'k' }));
    expect(await got.Body!.transformToString()).toBe('body');
  });

  it('creates the tables exactly as infra/resources.ts defines them', async () => {
    expect(names.mainTable).toBe(physicalName(prefix, 'Main'));
    for (const [name, def] of [
      [names.mainTable, TABLES.main],
      [names.ledgerTable, TABLES.ledger],
    ] as const) {
      const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: name }));
      expect(Table!.KeySchema).toEqual([
        { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
      ]);
      expect(Table!.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      const indexes = (Table!.GlobalSecondaryIndexes ?? []).map((i) => ({ name: i.IndexName, keys: i.KeySchema, projection: i.Projection?.ProjectionType }));
      expect(indexes).toEqual(
        def.globalSecondaryIndexes.map((i) => ({
          name: i.indexName,
          keys: [
            { AttributeName: i.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: i.sortKey.name, KeyType: 'RANGE' },
          ],
          projection: ('projection' in i ? i.projection : undefined) ?? 'ALL',
        })),
      );
    }
    const ttl = await clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: names.mainTable }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: TABLES.main.timeToLiveAttribute, TimeToLiveStatus: 'ENABLED' });
  });

  it('creates each queue with its timeouts, retention and redrive to its DLQ', async () => {
    for (const [url, dlqUrl, def] of [
      [names.ingestQueueUrl, names.ingestDlqUrl, QUEUES.ingest],
      [names.recordingsQueueUrl, names.recordingsDlqUrl, QUEUES.recordings],
    ] as const) {
      const dlq = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['All'] }));
      const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
      expect(Attributes).toMatchObject({
        VisibilityTimeout: String(def.visibilityTimeoutSec),
        MessageRetentionPeriod: String(def.retentionPeriodSec),
      });
      expect(JSON.parse(Attributes!.RedrivePolicy!)).toEqual({
        deadLetterTargetArn: dlq.Attributes!.QueueArn,
        maxReceiveCount: def.maxReceiveCount,
      });
      expect(dlq.Attributes!.MessageRetentionPeriod).toBe(String(def.dlqRetentionPeriodSec));
      expect(dlq.Attributes!.QueueArn).toMatch(new RegExp(`:${prefix}-${def.id.toLowerCase()}-dlq$`));
    }
    await clients.s3.send(new HeadBucketCommand({ Bucket: names.recordingsBucket }));
  });

  it('is idempotent: createResources again with the same prefix changes nothing', async () => {
    await expect(createResources(emulators.endpoints, prefix)).resolves.toEqual(names);
  });
});

describe('emulator lifecycle', () => {
  it('stop() ends the JVM and is idempotent', async () => {
    const emulators = await startEmulators();
    const port = new URL(emulators.endpoints.dynamodb).port;
    expect(jvmsOnPort(port)).toHaveLength(1);
    await Promise.all([emulators.stop(), emulators.stop()]);
    expect(jvmsOnPort(port)).toEqual([]);
    const clients = localClients(emulators.endpoints);
    await expect(clients.dynamodb.send(new ListTablesCommand({}))).rejects.toThrow();
  });

  it('a SIGKILLed parent leaves no JVM behind (watchdog)', async () => {
    const script = `
      import { startEmulators } from './infra/local/emulators.ts';
      const e = await startEmulators();
      console.log('PORT ' + new URL(e.endpoints.dynamodb).port);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<string>((resolvePort, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /PORT (\d+)/.exec(out);
        if (match) resolvePort(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    expect(jvmsOnPort(port)).toHaveLength(1);
    child.kill('SIGKILL');
    expect(await waitFor(() => jvmsOnPort(port).length === 0, 5000)).toBe(true);
  });

  it('names Java as the missing piece when java is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startEmulators()).rejects.toThrow(/Java 17 is required.*openjdk-17-jre-headless/);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('ensureDynamoDbLocalJar', () => {
  const fakeFetch = (calls: string[]) => async (work: string) => {
    calls.push(work);
    await new Promise((r) => setTimeout(r, 300)); // long enough for the other callers to find the lock
    const emulator = join(work, 'package', 'emulator');
    await mkdir(join(emulator, 'DynamoDBLocal_lib'), { recursive: true });
    await writeFile(join(emulator, 'DynamoDBLocal.jar'), 'jar');
    return emulator;
  };

  it('fetches once when several callers race, and leaves no temporary folder or lock', async () => {
    const root = await mkdtemp(join(tmpdir(), 'jar-cache-'));
    try {
      const dir = join(root, 'dynamodb-local');
      const calls: string[] = [];
      const results = await Promise.all([1, 2, 3].map(() => ensureDynamoDbLocalJar(undefined, { dir, fetch: fakeFetch(calls) })));
      expect(results).toEqual([dir, dir, dir]);
      expect(calls).toHaveLength(1);
      expect(existsSync(join(dir, 'DynamoDBLocal.jar'))).toBe(true);
      expect(await readdir(root)).toEqual(['dynamodb-local']);
      // Cached: no second fetch.
      await ensureDynamoDbLocalJar(undefined, { dir, fetch: fakeFetch(calls) });
      expect(calls).toHaveLength(1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('takes over a stale lock left by a killed fetcher, and reports a fetch failure without leaving debris', async () => {
    const root = await mkdtemp(join(tmpdir(), 'jar-cache-'));
    try {
      const dir = join(root, 'dynamodb-local');
      await mkdir(`${dir}.lock`);
      const old = new Date(Date.now() - 10 * 60_000);
      await utimes(`${dir}.lock`, old, old);
      const failing = async () => {
        throw new Error('registry unreachable');
      };
      await expect(ensureDynamoDbLocalJar(undefined, { dir, fetch: failing })).rejects.toThrow('registry unreachable');
      expect(await readdir(root)).toEqual([]);
      const calls: string[] = [];
      await ensureDynamoDbLocalJar(undefined, { dir, fetch: fakeFetch(calls) });
      expect(calls).toHaveLength(1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
